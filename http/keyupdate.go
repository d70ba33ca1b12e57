package http

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// updateKeyRequest is the body of PATCH /v1/auth/api-keys/{id}. An
// Optional member tells null (clear it) from left out (keep it).
type updateKeyRequest struct {
	Name        *string                          `json:"name"`
	Permissions *[]pihu.Permission               `json:"permissions"`
	Roles       pihu.Optional[[]string]          `json:"roles"`       // null: none
	RateLimit   pihu.Optional[string]            `json:"rate_limit"`  // null: the server's default
	RateLimits  pihu.Optional[map[string]string] `json:"ratelimits"`  // null: none
	AllowedIPs  pihu.Optional[[]string]          `json:"allowed_ips"` // null: anywhere
	Metadata    pihu.Optional[json.RawMessage]   `json:"metadata"`    // null: none
	Expires     pihu.Optional[string]            `json:"expires"`     // RFC 3339; null: never
	Remaining   pihu.Optional[int64]             `json:"remaining"`   // null: not counted
	Add         *int64                           `json:"add"`
	Refill      pihu.Optional[RefillJSON]        `json:"refill"`      // null: none
	Enabled     pihu.Optional[bool]              `json:"enabled"`     // null: refused
	IdentityID  pihu.Optional[string]            `json:"identity_id"` // null: none
}

// updateKeyHints are the messages of PATCH's members given as the wrong
// kind of JSON value, by member.
var updateKeyHints = map[string]string{
	"roles":       "\"roles\" must be a list of role ids such as [\"role_…\"], [] or null for none.",
	"rate_limit":  "\"rate_limit\" must be a string such as \"100/m\", or null for the server's default.",
	"ratelimits":  "\"ratelimits\" must be an object of names to limits such as {\"tokens\": \"50000/d\"}, or null (or {}) for none.",
	"allowed_ips": "\"allowed_ips\" must be a list of addresses and CIDR ranges, or null for anywhere.",
	"expires":     "\"expires\" must be a time in RFC 3339, such as \"2030-01-01T00:00:00Z\", or null for never.",
	"remaining":   "\"remaining\" must be a whole number from 0 to " + strconv.FormatInt(pihu.MaxCredits, 10) + ", or null to stop counting the key's use.",
	"refill":      "\"refill\" must be an object such as {\"interval\": \"monthly\", \"amount\": 1000, \"day\": 1}, or null.",
	"enabled":     "\"enabled\" must be true or false: false disables the key, true enables it again. Leave it out to keep the key as it is.",
	"identity_id": "\"identity_id\" must be the id of an identity such as \"idt_…\", or null for none.",
}

// hintUpdate gives a decoding error of PATCH's body its member's message.
func hintUpdate(err error) error {
	var e *pihu.Error
	if !errors.As(err, &e) || e.Code != pihu.EParameterInvalid {
		return err
	}
	top, _, _ := strings.Cut(e.Param, ".")
	if msg, ok := updateKeyHints[top]; ok {
		return pihu.ParamErrorf(pihu.EParameterInvalid, top, "%s", msg)
	}
	return err
}

// change turns the body into a pihu.KeyChange.
func (b *updateKeyRequest) change() (*pihu.KeyChange, error) {
	c := &pihu.KeyChange{Name: b.Name, AllowedIPs: b.AllowedIPs, Metadata: b.Metadata, Remaining: b.Remaining, Add: b.Add,
		Identity: b.IdentityID}
	if b.Name != nil && *b.Name == "" {
		return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "name", "\"name\" is empty; give the key a name of 1 to 100 characters.")
	}
	if b.Enabled.Null {
		return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "enabled", "%s", updateKeyHints["enabled"])
	}
	c.Enabled = b.Enabled.Ptr()
	if b.Permissions != nil {
		c.Permissions = pihu.Permissions(*b.Permissions)
		if c.Permissions == nil {
			c.Permissions = pihu.Permissions{} // null is refused as empty
		}
	}
	if b.Roles.Set {
		c.Roles = []string{} // null: none
		if ids := b.Roles.Ptr(); ids != nil && *ids != nil {
			c.Roles = *ids
		}
	}
	if ips := c.AllowedIPs.Ptr(); ips != nil && *ips == nil {
		c.AllowedIPs.Value = []string{}
	}
	c.RateLimit.Set, c.RateLimit.Null = b.RateLimit.Set, b.RateLimit.Null
	var err error
	if s := b.RateLimit.Ptr(); s != nil {
		l, err := pihu.ParseRateLimit(*s, "rate_limit")
		if err != nil {
			return nil, err
		}
		c.RateLimit.Value = l
	}
	if c.RateLimits, err = namedLimitsChange(b.RateLimits); err != nil {
		return nil, err
	}
	c.Expires.Set, c.Expires.Null = b.Expires.Set, b.Expires.Null
	if s := b.Expires.Ptr(); s != nil {
		t, err := time.Parse(time.RFC3339, *s)
		if err != nil {
			return nil, pihu.ParamErrorf(pihu.EParameterInvalid, "expires", "%s", updateKeyHints["expires"])
		}
		c.Expires.Value = t
	}
	c.Refill.Set, c.Refill.Null = b.Refill.Set, b.Refill.Null
	if r := b.Refill.Ptr(); r != nil {
		refill, err := refillFrom(r, "refill")
		if err != nil {
			return nil, err
		}
		c.Refill.Value = *refill
	}
	return c, nil
}

// updateKey changes a key: PATCH /v1/auth/api-keys/{id}. The caller
// needs rights over the key as for revoking it, and gives only rights it
// holds (see pihu.KeyChange.Apply), checked against the key as stored in
// the transaction that changes it; the change reaches every instance's
// cache as a revocation does. "enabled": false disables the key (and the
// tokens minted from it), true enables it again.
func (s *Server) updateKey(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body updateKeyRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, hintUpdate(err))
		return
	}
	change, err := body.change()
	if err == nil && change.Permissions != nil {
		change.Defined, err = s.defined(r.Context(), caller.AccountID)
	}
	if err == nil {
		change.AccountRoles, err = s.accountRoles(r.Context(), caller.AccountID, change.Roles)
	}
	if err == nil {
		change.DefaultRateLimit = s.defaultLimit.RateLimit()
		err = change.Validate(s.now())
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	target, err := s.findKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	k, err := s.store.UpdateKey(r.Context(), pihu.KeyUpdate{
		AccountID: caller.AccountID, ID: target.ID,
		Apply: func(k *pihu.Key) error {
			if !visible(caller, k) {
				return pihu.KeyNotFound(k.ID)
			}
			return change.Apply(caller, k, now)
		},
		Events: func(k *pihu.Key) []*pihu.AuditEvent {
			return change.Events(caller.ID, clientIP(r), k, now)
		},
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.auth.Invalidate(k.ID)
	hidden, err := s.hideLive(r, creators(k))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.keyItem(k, hidden))
}

// importKeyRequest is one key of POST /v1/auth/api-keys/import.
type importKeyRequest struct {
	Hash        *string            `json:"hash"`
	Name        *string            `json:"name"`
	Permissions *[]pihu.Permission `json:"permissions"`
	Expires     *string            `json:"expires"`
	Environment *string            `json:"environment"`
	Metadata    json.RawMessage    `json:"metadata"`
	Remaining   *int64             `json:"remaining"`
	Refill      *RefillJSON        `json:"refill"`
}

type importKeysRequest struct {
	Keys *[]importKeyRequest `json:"keys"`
}

// ImportedKeys is the answer to an import: the keys, in the order given.
type ImportedKeys struct {
	Data []KeyItem `json:"data"`
}

// MaxImportBodyBytes caps the body of an import: 1,000 keys with some
// metadata each.
const MaxImportBodyBytes = 4 << 20

// maxBody is the most bytes r's body may have.
func maxBody(r *http.Request) int64 {
	switch r.Pattern {
	case importPattern:
		return MaxImportBodyBytes
	case secretScanningPattern:
		return MaxSecretScanningBody
	}
	return MaxBodyBytes
}

const importPattern = "POST /v1/auth/api-keys/import"

// importKeys stores keys made by another system, by the SHA-256 of their
// secrets: POST /v1/auth/api-keys/import. All of them, or none.
func (s *Server) importKeys(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body importKeysRequest
	if err := decodeLimit(w, r, &body, MaxImportBodyBytes); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Keys == nil {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterMissing, "keys", "Give \"keys\": a list of 1 to %d keys, each {\"hash\", \"name\", \"permissions\"}.", pihu.MaxImportKeys))
		return
	}
	if n := len(*body.Keys); n == 0 || n > pihu.MaxImportKeys {
		s.writeError(w, r, pihu.ParamErrorf(pihu.EParameterInvalid, "keys", "\"keys\" has %d keys; give 1 to %d (send more in several imports).", n, pihu.MaxImportKeys))
		return
	}
	defined, err := s.defined(r.Context(), caller.AccountID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := s.now()
	keys := make([]*pihu.Key, 0, len(*body.Keys))
	events := make([]*pihu.AuditEvent, 0, len(*body.Keys))
	for i, kb := range *body.Keys {
		req, err := kb.importRequest(i)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.Defined = defined
		k, err := pihu.ImportKey(caller.AccountID, i, req, caller, now)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		keys = append(keys, k)
		events = append(events, pihu.NewAuditEvent(pihu.ActionKeyCreated, caller.ID, clientIP(r), k, now))
	}
	if err := s.store.ImportKeys(r.Context(), keys, events...); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Every instance forgets the secrets it found unknown: one of them
	// may be an imported key's (see auth.Authenticator.Invalidate).
	s.auth.Invalidate(keys[0].ID)
	out := ImportedKeys{Data: make([]KeyItem, len(keys))}
	for i, k := range keys {
		out.Data[i] = NewKeyItem(k, now)
	}
	writeJSON(w, http.StatusOK, out)
}

// importRequest checks the members every key must have, and turns the
// rest into a pihu.ImportRequest.
func (b importKeyRequest) importRequest(i int) (pihu.ImportRequest, error) {
	var req pihu.ImportRequest
	missing := func(field, msg string) error {
		return pihu.ParamErrorf(pihu.EParameterMissing, "keys["+strconv.Itoa(i)+"]."+field, "keys[%d]: %s", i, msg)
	}
	invalid := func(field, msg string) error {
		return pihu.ParamErrorf(pihu.EParameterInvalid, "keys["+strconv.Itoa(i)+"]."+field, "keys[%d]: %s", i, msg)
	}
	switch {
	case b.Hash == nil:
		return req, missing("hash", "Give \"hash\": the SHA-256 of the secret, 64 hexadecimal characters.")
	case b.Name == nil:
		return req, missing("name", "Give \"name\", 1 to 100 characters.")
	case b.Permissions == nil:
		return req, missing("permissions", "Give \"permissions\": a non-empty list such as [\"candidate:read\"].")
	case b.Environment != nil && *b.Environment == "":
		return req, invalid("environment", "\"environment\" must be \"live\" or \"test\".")
	case b.Refill != nil && b.Remaining == nil:
		return req, missing("remaining", "A \"refill\" needs \"remaining\": the credits the key starts with.")
	}
	req = pihu.ImportRequest{Hash: *b.Hash, Name: *b.Name, Permissions: pihu.Permissions(*b.Permissions), Metadata: b.Metadata}
	if req.Permissions == nil {
		req.Permissions = pihu.Permissions{}
	}
	if b.Environment != nil {
		req.Environment = pihu.Environment(*b.Environment)
	}
	if b.Expires != nil {
		t, err := time.Parse(time.RFC3339, *b.Expires)
		if err != nil {
			return req, invalid("expires", "\"expires\" must be a time in RFC 3339, such as \"2030-01-01T00:00:00Z\".")
		}
		req.Expires = &t
	}
	if b.Remaining != nil {
		param := "keys[" + strconv.Itoa(i) + "].refill"
		refill, err := refillFrom(b.Refill, param)
		if err != nil {
			return req, err
		}
		req.Credits = &pihu.Credits{Remaining: *b.Remaining, Refill: refill}
	}
	return req, nil
}

// namedLimitsChange parses the "ratelimits" member of a PATCH body: left
// out, null (none), or every named limit the key or identity is to have.
func namedLimitsChange(o pihu.Optional[map[string]string]) (pihu.Optional[pihu.NamedLimits], error) {
	out := pihu.Optional[pihu.NamedLimits]{Set: o.Set, Null: o.Null}
	if m := o.Ptr(); m != nil {
		l, err := pihu.ParseNamedLimits(*m, "ratelimits")
		if err != nil {
			return out, err
		}
		out.Value = l
	}
	return out, nil
}
