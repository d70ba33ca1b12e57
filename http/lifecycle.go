package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
)

// RevokedKey is the response to revoking a key: the key as lists showed
// it, "revoked": true, and how many keys it created were revoked with it.
type RevokedKey struct {
	KeyItem
	Revoked bool `json:"revoked"`
	// RevokedDescendants is how many keys created by this one (at any
	// depth) were revoked with it: 0 unless cascade=true.
	RevokedDescendants int `json:"revoked_descendants"`
}

// RotatedKey is the response to rotating a key: the new key, shown once as
// at creation, and the id of the key it replaces.
type RotatedKey struct {
	KeyCreated
	RotatedFrom string `json:"rotated_from"`
}

// LeakReport is the response to a report of leaked keys.
type LeakReport struct {
	// Revoked is how many of the keys given were valid and are now
	// revoked.
	Revoked int `json:"revoked"`
}

// revokeKey revokes the key of the path's {id}, the caller's own included,
// and with ?cascade=true every key created by it, recursively, in one
// transaction. The caller must hold the rights to revoke each of them
// (pihu.CheckRevoke), checked against the keys as they are inside that
// transaction. A key already revoked has left the list: 404. The body, if
// any, must be an empty object.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	cascade, err := parseCascade(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := deleteBody(w, r, &struct{}{}); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.findKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now, ip := s.now(), clientIP(r)
	revoked, err := s.store.RevokeKeys(r.Context(), pihu.Revocation{
		AccountID: k.AccountID, ID: k.ID, At: now, Cascade: cascade,
		Check: func(target *pihu.Key) error { return pihu.CheckRevoke(caller, target) },
		Event: func(target *pihu.Key) *pihu.AuditEvent {
			return pihu.NewAuditEvent(pihu.ActionKeyRevoked, caller.ID, ip, target, now)
		},
	})
	if pihu.ErrorCode(err) == pihu.ENotFound { // revoked since findKey read it
		err = pihu.KeyNotFound(k.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, k := range revoked {
		s.auth.Invalidate(k.ID)
	}
	hidden, err := s.hideLive(r, creators(revoked[0]))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RevokedKey{KeyItem: s.keyItem(revoked[0], hidden), Revoked: true, RevokedDescendants: len(revoked) - 1})
}

// parseCascade reads the one query parameter of a revocation: cascade,
// "true" or "false" (the default).
func parseCascade(r *http.Request) (bool, error) {
	q, err := query(r, "cascade")
	if err != nil {
		return false, err
	}
	vs, ok := q["cascade"]
	if !ok {
		return false, nil
	}
	switch vs[0] {
	case "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, pihu.ParamErrorf(pihu.EParameterInvalid, "cascade", "\"cascade\" must be true (also revoke every key this key created, recursively) or false.")
	}
}

type rotateKeyRequest struct {
	ExpireOldIn *string `json:"expire_old_in"`
}

// rotateKey replaces the key of the path's {id} by a new one with the same
// settings, and ends the old one now or after the grace period
// expire_old_in.
func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body rotateKeyRequest
	if err := decode(w, r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	grace, err := pihu.ParseExpireOldIn(derefOr(body.ExpireOldIn, pihu.ExpireNow))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	old, err := s.findKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	next, secret, err := old.Successor(caller, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ip := clientIP(r)
	_, err = s.store.RotateKey(r.Context(), next, next.Created.Add(grace),
		pihu.NewAuditEvent(pihu.ActionKeyCreated, caller.ID, ip, next, next.Created),
		pihu.NewAuditEvent(pihu.ActionKeyRotated, caller.ID, ip, old, next.Created))
	if pihu.ErrorCode(err) == pihu.ENotFound { // revoked since findKey read it
		err = pihu.KeyNotFound(old.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.auth.Invalidate(old.ID)
	writeJSON(w, http.StatusOK, RotatedKey{KeyCreated: NewKeyCreated(next, secret, s.now()), RotatedFrom: old.ID})
}

type leakedKeysRequest struct {
	Keys *[]string `json:"keys"`
}

// reportLeakedKeys revokes every valid key given: holding a key is the
// right to revoke it, so no key is needed, and the account's leak policy
// does not apply. Strings that are not keys with a right checksum are
// ignored; known keys that are already revoked or expired are not
// counted. Reports are limited per client address. Each key goes through
// recordLeaks, as GitHub's secret scanning reports do.
func (s *Server) reportLeakedKeys(w http.ResponseWriter, r *http.Request) {
	if err := s.limitLeakReport(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.idempotent(w, r, nil, nil, s.revokeLeakedKeys)
}

// revokeLeakedKeys is reportLeakedKeys after its rate limit.
func (s *Server) revokeLeakedKeys(w http.ResponseWriter, r *http.Request) {
	var body leakedKeysRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Keys == nil {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterMissing, "keys",
			"Give \"keys\": the list of leaked keys to revoke, such as [\"ph_live_…\"]."))
		return
	}
	if n := len(*body.Keys); n > pihu.MaxLeakedKeys {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, "keys",
			"\"keys\" holds %d keys; send at most %d in one report.", n, pihu.MaxLeakedKeys))
		return
	}
	leak := pihu.NewLeak(pihu.ActorAnonymous, "", "", s.now())
	reported := make([]reportedKey, len(*body.Keys))
	for i, secret := range *body.Keys {
		reported[i] = reportedKey{secret: secret, leak: leak}
	}
	// Holding a key is the right to revoke it: the account's leak policy
	// (which may only flag keys GitHub reports) does not apply.
	outcomes, err := s.recordLeaks(r.Context(), reported, clientIP(r), true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	revoked := 0
	for _, o := range outcomes {
		if o == pihu.LeakRevoked {
			revoked++
		}
	}
	writeJSON(w, http.StatusOK, LeakReport{Revoked: revoked})
}

func derefOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
