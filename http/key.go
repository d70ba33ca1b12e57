package http

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// KeyCreated is the response to creating or rotating a key: the only one
// that shows the secret.
type KeyCreated struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Key         string   `json:"key"`
	Created     string   `json:"created"`
	Expires     *string  `json:"expires"`
	Permissions []string `json:"permissions"`
	Roles       []string `json:"roles"`
	Environment string   `json:"environment"`
	RateLimit   *string  `json:"rate_limit"` // null: the server's default
	AllowedIPs  []string `json:"allowed_ips"`
	CreatedBy   *string  `json:"created_by"` // null: an owner key
	// IdentityID is the id of the key's identity; null: none.
	IdentityID *string `json:"identity_id"`
	// Enabled is true, but for the successor of a disabled key, which a
	// rotation leaves disabled.
	Enabled bool `json:"enabled"`
	KeyExtras
}

// KeyExtras are what a key carries besides its rights (pihu.KeyExtras).
type KeyExtras = pihu.KeyExtras

// RefillJSON is a key's refill as the API shows and takes it.
type RefillJSON = pihu.RefillJSON

// KeyItem is a key as lists and gets show it: never the secret. It is
// pihu.KeyItem, shared with the webhook events so the two cannot drift.
type KeyItem = pihu.KeyItem

// KeyList is a page of keys.
type KeyList struct {
	Data    []KeyItem `json:"data"`
	HasMore bool      `json:"has_more"`
}

// NewKeyCreated is the response showing k and its secret, once; now is
// when its credits are counted.
func NewKeyCreated(k *pihu.Key, secret string, now time.Time) KeyCreated {
	return KeyCreated{
		ID: k.ID, Name: k.Name, Key: secret, Created: timestamp(k.Created), Expires: timestampPtr(k.Expires),
		Permissions: k.Permissions.Strings(), Roles: pihu.RoleList(k.Roles), Environment: string(k.Environment), Enabled: !k.Disabled, RateLimit: optional(k.RateLimit.String()),
		AllowedIPs: k.AllowedIPs.Strings(), CreatedBy: optional(k.CreatedBy), IdentityID: pihu.KeyIdentityID(k), KeyExtras: pihu.NewKeyExtras(k, now),
	}
}

// NewKeyItem is k as lists show it; now is when its credits are counted
// (a refill due by then included).
func NewKeyItem(k *pihu.Key, now time.Time) KeyItem { return pihu.NewKeyItem(k, now) }

// optional is s, or null when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// timestamp formats t as the API shows every time: RFC 3339, UTC, seconds.
func timestamp(t time.Time) string { return pihu.Timestamp(t).Format(time.RFC3339) }

func timestampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}

type createKeyRequest struct {
	Name        *string            `json:"name"`
	Expiration  *string            `json:"expiration"`
	Permissions *[]pihu.Permission `json:"permissions"`
	Roles       *[]string          `json:"roles"`
	Environment *string            `json:"environment"`
	RateLimit   *string            `json:"rate_limit"`
	RateLimits  map[string]string  `json:"ratelimits"`
	AllowedIPs  *[]string          `json:"allowed_ips"`
	Metadata    json.RawMessage    `json:"metadata"`
	Remaining   *int64             `json:"remaining"`
	Refill      *RefillJSON        `json:"refill"`
	IdentityID  *string            `json:"identity_id"`
}

// refillFrom turns a refill given in a body into a pihu.Refill; null is nil.
func refillFrom(r *RefillJSON, param string) (*pihu.Refill, error) {
	if r == nil {
		return nil, nil
	}
	out := &pihu.Refill{Interval: r.Interval, Amount: r.Amount}
	if r.Day != nil {
		if *r.Day == 0 {
			return nil, pihu.ParamErrorf(pihu.EParameterInvalid, param, "\"day\" must be a day of the month from 1 to 31 (31 means the last day of every month).")
		}
		out.Day = *r.Day
	}
	return out, out.Validate(param)
}

// keyRequest turns the body into a pihu.KeyRequest. An explicit empty
// "expiration" or "environment" is an error rather than the default.
func (b createKeyRequest) keyRequest() (pihu.KeyRequest, error) {
	req := pihu.KeyRequest{Name: deref(b.Name), Expiration: deref(b.Expiration), Environment: pihu.Environment(deref(b.Environment))}
	if b.Expiration != nil && *b.Expiration == "" {
		return req, pihu.ParamErrorf(pihu.EParameterInvalid, "expiration", "\"expiration\" is empty: leave it out for a key that never expires, or give a lifetime such as \"30d\".")
	}
	if b.Environment != nil && *b.Environment == "" {
		return req, pihu.ParamErrorf(pihu.EParameterInvalid, "environment", "\"environment\" must be \"live\" or \"test\".")
	}
	if b.Name != nil && *b.Name == "" {
		return req, pihu.ParamErrorf(pihu.EParameterInvalid, "name", "\"name\" is empty; give the key a name of 1 to 100 characters.")
	}
	if b.Permissions != nil {
		req.Permissions = pihu.Permissions(*b.Permissions)
	}
	if b.Roles != nil {
		req.Roles = *b.Roles
		if req.Roles == nil {
			req.Roles = []string{}
		}
	}
	if b.AllowedIPs != nil {
		req.AllowedIPs = *b.AllowedIPs
		if req.AllowedIPs == nil {
			req.AllowedIPs = []string{} // [] is not null: it is refused as empty
		}
	}
	req.Metadata = b.Metadata
	req.RateLimit, req.RateLimits = b.RateLimit, b.RateLimits
	if b.IdentityID != nil {
		if *b.IdentityID == "" {
			return req, pihu.ParamErrorf(pihu.EParameterInvalid, "identity_id", "\"identity_id\" is empty: leave it out for a key of no identity, or give the id of one (\"idt_…\").")
		}
		req.IdentityID = *b.IdentityID
	}
	if b.Refill != nil && b.Remaining == nil {
		return req, pihu.ParamErrorf(pihu.EParameterMissing, "remaining", "A \"refill\" needs \"remaining\": the credits the key starts with.")
	}
	if b.Remaining != nil {
		refill, err := refillFrom(b.Refill, "refill")
		if err != nil {
			return req, err
		}
		req.Credits = &pihu.Credits{Remaining: *b.Remaining, Refill: refill}
	}
	return req, nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body createKeyRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := body.keyRequest()
	if err == nil && req.Permissions != nil {
		req.Defined, err = s.defined(r.Context(), caller.AccountID)
	}
	if err == nil {
		req.AccountRoles, err = s.accountRoles(r.Context(), caller.AccountID, req.Roles)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k, secret, err := pihu.NewKey(caller.AccountID, req, caller, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, caller.ID, clientIP(r), k, k.Created)
	if err := s.store.CreateKey(r.Context(), k, ev); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewKeyCreated(k, secret, s.now()))
}

// visible reports whether caller may see key k: keys of its own account,
// and for a test key only test keys. Anything else is a 404.
func visible(caller, k *pihu.Key) bool {
	return k.AccountID == caller.AccountID && caller.Environment.CanUse(k.Environment)
}

// keyScope is the environment filter of the caller's key lists: a test key
// sees test keys only; a live key, which can create both, sees both.
func keyScope(caller *pihu.Key) pihu.Environment {
	if caller.Environment == pihu.Test {
		return pihu.Test
	}
	return ""
}

// listKeys lists the caller's keys: GET /v1/auth/api-keys, with the
// filters of keyListFilters, all applied (AND).
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	params := make([]string, len(keyListFilters))
	for i, kf := range keyListFilters {
		params[i] = kf.param
	}
	page, err := parsePage(r, params...)
	f := pihu.KeyFilter{
		AccountID: caller.AccountID, Environment: keyScope(caller), Limit: page.limit, StartingAfter: page.startingAfter, EndingBefore: page.endingBefore,
	}
	for _, name := range slices.Sorted(maps.Keys(page.query)) {
		for _, kf := range keyListFilters {
			if err == nil && matchParam(kf.param, name) {
				err = kf.set(&f, name, page.query.Get(name))
			}
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	keys, more, err := s.store.ListKeys(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hidden, err := s.hideLive(r, creators(keys...))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := KeyList{Data: make([]KeyItem, 0, len(keys)), HasMore: more}
	for _, k := range keys {
		out.Data = append(out.Data, s.keyItem(k, hidden))
	}
	writeJSON(w, http.StatusOK, out)
}

// keyListFilters are the filters of GET /v1/auth/api-keys, by query
// parameter: each sets its field of the filter from the parameter's value
// (a filter more is a line more here). pihu.KeyFilter.Validate, which the
// store calls, checks the values; here only their syntax is read.
var keyListFilters = []struct {
	param string // a name, or a pattern such as "metadata[KEY]" (see matchParam)
	set   func(f *pihu.KeyFilter, name, value string) error
}{
	{"enabled", func(f *pihu.KeyFilter, name, v string) (err error) { f.Enabled, err = parseBool(name, v); return err }},
	{"name_prefix", func(f *pihu.KeyFilter, name, v string) error { f.NamePrefix = v; return nonEmpty(name, v) }},
	{"role", func(f *pihu.KeyFilter, name, v string) error { f.Role = v; return nonEmpty(name, v) }},
	{"identity_id", func(f *pihu.KeyFilter, name, v string) error {
		if f.Identity = v; v == "" {
			return pihu.ParamErrorf(pihu.EParameterInvalid, name, "%q must be the id of an identity (\"idt_…\").", name)
		}
		return nil
	}},
	{"permission", func(f *pihu.KeyFilter, name, v string) error {
		f.Permission = pihu.Permission(v)
		return nonEmpty(name, v)
	}},
	{"metadata[KEY]", func(f *pihu.KeyFilter, name, v string) error {
		if f.Metadata == nil {
			f.Metadata = make(map[string]string)
		}
		f.Metadata[name[len("metadata["):len(name)-1]] = v
		return nil
	}},
}

// nonEmpty refuses a filter given without a value: "name_prefix=" is a
// 400, not a filter that keeps everything.
func nonEmpty(name, v string) error {
	if v == "" {
		return pihu.ParamErrorf(pihu.EParameterInvalid, name, "%q is given without a value; give one, or leave the parameter out.", name)
	}
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.findKey(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hidden, err := s.hideLive(r, creators(k))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.keyItem(k, hidden))
}

// keyItem is NewKeyItem, without a creator that hideLive hid.
func (s *Server) keyItem(k *pihu.Key, hidden map[string]bool) KeyItem {
	item := NewKeyItem(k, s.now())
	if hidden[k.CreatedBy] {
		item.CreatedBy = nil
	}
	return item
}

// creators are the ids of the keys that created keys.
func creators(keys ...*pihu.Key) []string {
	var ids []string
	for _, k := range keys {
		if k.CreatedBy != "" {
			ids = append(ids, k.CreatedBy)
		}
	}
	return ids
}

// hideLive returns which of the key ids a test key may not see: the live
// keys among them. A test key learns nothing about live keys, not even
// their ids, which would otherwise show as the creator of a test key that
// a live key made, or as the actor of its audit events. A live key sees
// everything, and costs no read.
func (s *Server) hideLive(r *http.Request, ids []string) (map[string]bool, error) {
	caller := pihu.KeyFromContext(r.Context())
	if caller.Environment != pihu.Test || len(ids) == 0 {
		return nil, nil
	}
	hidden := make(map[string]bool)
	seen := make(map[string]bool)
	for _, id := range ids {
		if seen[id] || !strings.HasPrefix(id, pihu.PrefixKey) {
			continue
		}
		seen[id] = true
		k, err := s.store.Key(r.Context(), caller.AccountID, id)
		if pihu.ErrorCode(err) == pihu.ENotFound {
			hidden[id] = true
			continue
		}
		if err != nil {
			return nil, err
		}
		if !visible(caller, k) {
			hidden[id] = true
		}
	}
	return hidden, nil
}

// findKey returns the unrevoked key named by the path's {id}, if the caller
// may see it. Returns ENotFound otherwise.
func (s *Server) findKey(r *http.Request) (*pihu.Key, error) {
	return s.lookupKey(r, false)
}

// lookupKey is findKey, revoked keys included if revoked is true.
func (s *Server) lookupKey(r *http.Request, revoked bool) (*pihu.Key, error) {
	caller := pihu.KeyFromContext(r.Context())
	id := r.PathValue("id")
	k, err := s.store.Key(r.Context(), caller.AccountID, id)
	if err == nil && (!visible(caller, k) || k.Revoked != nil && !revoked) {
		err = pihu.Errorf(pihu.ENotFound, "not visible")
	}
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil, pihu.KeyNotFound(id)
	}
	return k, err
}

// whoamiResponse is whoami's body.
type whoamiResponse struct {
	Key struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
		Roles       []string `json:"roles"`
		Environment string   `json:"environment"`
		Expires     *string  `json:"expires"`
	} `json:"key"`
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
	// Identity is the key's identity; null: none.
	Identity *KeyIdentity `json:"identity"`
}

func newWhoamiResponse(k *pihu.Key, a *pihu.Account) whoamiResponse {
	var out whoamiResponse
	out.Key.ID, out.Key.Name, out.Key.Permissions, out.Key.Roles = k.ID, k.Name, k.Permissions.Strings(), pihu.RoleList(k.Roles)
	out.Key.Environment, out.Key.Expires = string(k.Environment), timestampPtr(k.Expires)
	out.Account.ID, out.Account.Name = a.ID, a.Name
	out.Identity = NewKeyIdentity(k)
	return out
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	k := pihu.KeyFromContext(r.Context())
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.auth.Account(r.Context(), k.AccountID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newWhoamiResponse(k, a))
}

// page is a list request's pagination.
type page struct {
	limit         int
	startingAfter string
	endingBefore  string
	// query is the query string, for the list's own filters (extra).
	query url.Values
}

// parsePage reads `limit` (1–100, default 10), and `starting_after` or
// `ending_before` (not both: a 400 on ending_before), and rejects any
// other query parameter (see query) but the list's own filters, extra,
// which it leaves in page.query for the list to read.
func parsePage(r *http.Request, extra ...string) (page, error) {
	p := page{limit: 10}
	q, err := query(r, append([]string{"limit", "starting_after", "ending_before"}, extra...)...)
	if err != nil {
		return p, err
	}
	p.query = q
	if vs, ok := q["limit"]; ok {
		n, err := strconv.Atoi(vs[0])
		if err != nil || n < 1 || n > 100 {
			return p, pihu.ParamErrorf(pihu.EParameterInvalid, "limit", "\"limit\" must be a whole number from 1 to 100.")
		}
		p.limit = n
	}
	if vs, ok := q["starting_after"]; ok {
		if vs[0] == "" {
			return p, pihu.ParamErrorf(pihu.EParameterInvalid, "starting_after", "\"starting_after\" must be the id of an item of this list.")
		}
		p.startingAfter = vs[0]
	}
	if vs, ok := q["ending_before"]; ok {
		if vs[0] == "" {
			return p, pihu.ParamErrorf(pihu.EParameterInvalid, "ending_before", "\"ending_before\" must be the id of an item of this list.")
		}
		if p.startingAfter != "" {
			return p, pihu.ParamErrorf(pihu.EParameterInvalid, "ending_before",
				"Give starting_after (the next page) or ending_before (the previous page), not both.")
		}
		p.endingBefore = vs[0]
	}
	return p, nil
}

// parseBool reads v, the value of the query parameter name: true or
// false; anything else is EParameterInvalid on name.
func parseBool(name, v string) (*bool, error) {
	switch v {
	case "true":
		return new(true), nil
	case "false":
		return new(false), nil
	}
	return nil, pihu.ParamErrorf(pihu.EParameterInvalid, name, "%q must be true or false.", name)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
