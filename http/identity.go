package http

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pihu-ai/pihu"
)

// Identity is an identity as the API shows it.
type Identity struct {
	ID          string          `json:"id"`
	ExternalID  string          `json:"external_id"`
	Environment string          `json:"environment"`
	Metadata    json.RawMessage `json:"metadata"`
	// RateLimit is the limit the identity's keys share; null: none.
	RateLimit *string `json:"rate_limit"`
	// Remaining is the credits all its keys share (a refill due
	// included); null: not counted. Refill and NextRefill are as a key's.
	Remaining  *int64      `json:"remaining"`
	Refill     *RefillJSON `json:"refill"`
	NextRefill *string     `json:"next_refill"`
	// RateLimits are the named limits the identity's keys share, names
	// to limits; {} for none.
	RateLimits map[string]string `json:"ratelimits"`
	Created    string            `json:"created"`
	Updated    string            `json:"updated"`
}

// IdentityList is a page of identities.
type IdentityList = List[Identity]

// IdentityDeleted is the answer to deleting an identity: the identity,
// and how many of its keys were revoked with it (only with
// revoke_keys=true are there any).
type IdentityDeleted struct {
	Identity
	Deleted     bool `json:"deleted"`
	RevokedKeys int  `json:"revoked_keys"`
}

// KeyIdentity is a key's identity as whoami and verify show it.
type KeyIdentity struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"external_id"`
	Metadata   json.RawMessage `json:"metadata"`
}

// NewIdentity is i as the API shows it, its credits counted at now.
func NewIdentity(i *pihu.Identity, now time.Time) Identity {
	out := Identity{
		ID: i.ID, ExternalID: i.ExternalID, Environment: string(i.Environment), Metadata: nullJSON(i.Metadata),
		RateLimit: optional(i.RateLimit.String()), RateLimits: i.RateLimits.Map(), Created: timestamp(i.Created), Updated: timestamp(i.Updated),
	}
	out.Remaining, out.Refill, out.NextRefill = pihu.CreditsView(i.Credits, now)
	return out
}

// NewKeyIdentity is the identity of key k as whoami and verify show it;
// nil (null) for a key without one.
func NewKeyIdentity(k *pihu.Key) *KeyIdentity {
	i := k.Identity
	if i == nil {
		return nil
	}
	return &KeyIdentity{ID: i.ID, ExternalID: i.ExternalID, Metadata: nullJSON(i.Metadata)}
}

// nullJSON is m, or JSON null when there is none.
func nullJSON(m json.RawMessage) json.RawMessage {
	if m == nil {
		return json.RawMessage("null")
	}
	return m
}

type identityRequest struct {
	ExternalID *string                          `json:"external_id"`
	Metadata   pihu.Optional[json.RawMessage]   `json:"metadata"`   // null: none
	RateLimit  pihu.Optional[string]            `json:"rate_limit"` // null: none
	Remaining  pihu.Optional[int64]             `json:"remaining"`  // null: not counted
	Add        *int64                           `json:"add"`        // PATCH only
	Refill     pihu.Optional[RefillJSON]        `json:"refill"`     // null: none
	RateLimits pihu.Optional[map[string]string] `json:"ratelimits"` // null: none
}

// credits are the shared credits a creation's body asks for; nil: not
// counted.
func (b *identityRequest) credits() (*pihu.Credits, error) {
	switch {
	case b.Add != nil:
		return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "add", "\"add\" adds to an identity's credits with PATCH; give \"remaining\" to create it with credits.")
	case b.Refill.Ptr() != nil && b.Remaining.Ptr() == nil:
		return nil, pihu.ParamErrorf(pihu.EParameterMissing, "remaining", "A \"refill\" needs \"remaining\": the credits the identity's keys start with.")
	case b.Remaining.Ptr() == nil:
		return nil, nil
	}
	refill, err := refillFrom(b.Refill.Ptr(), "refill")
	if err != nil {
		return nil, err
	}
	return &pihu.Credits{Remaining: *b.Remaining.Ptr(), Refill: refill}, nil
}

// creditChange sets on c the change of credits a PATCH's body asks for.
func (b *identityRequest) creditChange(c *pihu.IdentityChange) error {
	c.Remaining, c.Add = b.Remaining, b.Add
	c.Refill.Set, c.Refill.Null = b.Refill.Set, b.Refill.Null
	if r := b.Refill.Ptr(); r != nil {
		refill, err := refillFrom(r, "refill")
		if err != nil {
			return err
		}
		c.Refill.Value = *refill
	}
	return nil
}

// createIdentity creates an identity in the caller's account and
// environment: POST /v1/identities.
func (s *Server) createIdentity(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body identityRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := pihu.CheckIdentityWriter(caller)
	var i *pihu.Identity
	if err == nil {
		if body.ExternalID != nil && *body.ExternalID == "" {
			err = pihu.ValidateExternalID("")
		}
	}
	if err == nil {
		req := pihu.IdentityRequest{ExternalID: deref(body.ExternalID), RateLimit: body.RateLimit.Ptr()}
		if m := body.RateLimits.Ptr(); m != nil {
			req.RateLimits = *m
		}
		if m := body.Metadata.Ptr(); m != nil {
			req.Metadata = *m
		}
		if req.Credits, err = body.credits(); err == nil {
			i, err = pihu.NewIdentity(caller, req, s.now())
		}
	}
	if err == nil {
		err = s.store.CreateIdentity(r.Context(), i,
			pihu.NewIdentityEvent(pihu.ActionIdentityCreated, caller.ID, clientIP(r), i, i.Created))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewIdentity(i, s.now()))
}

// listIdentities lists the identities of the caller's account and
// environment: GET /v1/identities, with the filter external_id.
func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	page, err := parsePage(r, "external_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := pihu.IdentityFilter{Scope: pihu.ScopeOf(caller),
		Page: pihu.Page{Limit: page.limit, StartingAfter: page.startingAfter, EndingBefore: page.endingBefore}}
	if vs, ok := page.query["external_id"]; ok {
		if err := pihu.ValidateExternalID(vs[0]); err != nil {
			s.writeError(w, r, err)
			return
		}
		f.ExternalID = vs[0]
	}
	identities, more, err := s.store.ListIdentities(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := IdentityList{Data: make([]Identity, 0, len(identities)), HasMore: more}
	for _, i := range identities {
		out.Data = append(out.Data, NewIdentity(i, s.now()))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getIdentity(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	i, err := s.store.Identity(r.Context(), pihu.ScopeOf(caller), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewIdentity(i, s.now()))
}

// updateIdentity changes an identity: PATCH /v1/identities/{id}. The
// change reaches every cached key of the identity, on every instance, as
// a revocation does.
func (s *Server) updateIdentity(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body identityRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	change := &pihu.IdentityChange{ExternalID: body.ExternalID, Metadata: body.Metadata}
	err := pihu.CheckIdentityWriter(caller)
	if err == nil {
		change.RateLimit.Set, change.RateLimit.Null = body.RateLimit.Set, body.RateLimit.Null
		if v := body.RateLimit.Ptr(); v != nil {
			change.RateLimit.Value, err = pihu.ParseRateLimit(*v, "rate_limit")
		}
	}
	if err == nil {
		err = body.creditChange(change)
	}
	if err == nil {
		change.RateLimits, err = namedLimitsChange(body.RateLimits)
	}
	if err == nil {
		err = change.Validate()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	i, err := s.store.UpdateIdentity(r.Context(), pihu.IdentityUpdate{
		Scope: pihu.ScopeOf(caller), ID: r.PathValue("id"),
		Apply: func(i *pihu.Identity) error {
			if err := change.CheckSelf(caller, i, now); err != nil {
				return err
			}
			change.Apply(i, now)
			return change.ApplyCredits(i, now)
		},
		Event: func(i *pihu.Identity) *pihu.AuditEvent {
			ev := pihu.NewIdentityEvent(pihu.ActionIdentityUpdated, caller.ID, clientIP(r), i, now)
			ev.Changes = change.Fields()
			return ev
		},
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.auth.InvalidateIdentity(i.ID)
	writeJSON(w, http.StatusOK, NewIdentity(i, s.now()))
}

// deleteIdentity deletes an identity: DELETE /v1/identities/{id},
// refused with 409 identity_in_use while it has active keys unless
// ?revoke_keys=true, which revokes them as DELETE /v1/auth/api-keys/{id}
// does (the caller needs the right to revoke each; audit and webhook
// events), in the same transaction.
func (s *Server) deleteIdentity(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	q, err := query(r, "revoke_keys")
	var revoke *bool
	if vs, ok := q["revoke_keys"]; ok && err == nil {
		revoke, err = parseBool("revoke_keys", vs[0])
	}
	if err == nil {
		err = deleteBody(w, r, &struct{}{})
	}
	if err == nil {
		err = pihu.CheckIdentityWriter(caller)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now, ip := s.now(), clientIP(r)
	i, revoked, err := s.store.DeleteIdentity(r.Context(), pihu.IdentityDeletion{
		Scope: pihu.ScopeOf(caller), ID: r.PathValue("id"), At: now, RevokeKeys: revoke != nil && *revoke,
		Check: func(k *pihu.Key) error { return pihu.CheckRevoke(caller, k) },
		KeyEvent: func(k *pihu.Key) *pihu.AuditEvent {
			return pihu.NewAuditEvent(pihu.ActionKeyRevoked, caller.ID, ip, k, now)
		},
		Event: func(i *pihu.Identity) *pihu.AuditEvent {
			return pihu.NewIdentityEvent(pihu.ActionIdentityDeleted, caller.ID, ip, i, now)
		},
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, k := range revoked {
		s.auth.Invalidate(k.ID)
	}
	s.auth.InvalidateIdentity(i.ID)
	writeJSON(w, http.StatusOK, IdentityDeleted{Identity: NewIdentity(i, now), Deleted: true, RevokedKeys: len(revoked)})
}
