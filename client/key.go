package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Key is an API key as lists show it: never its secret.
type Key struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Created     time.Time  `json:"created"`
	Expires     *time.Time `json:"expires"`   // nil: never
	LastUsed    *time.Time `json:"last_used"` // nil: not used yet
	Permissions []string   `json:"permissions"`
	// Roles are the ids of the roles the key holds; the key may do what
	// its Permissions and its roles' permissions allow.
	Roles       []string `json:"roles"`
	Environment string   `json:"environment"`
	// Hint is the key's prefix and last 4 characters.
	Hint string `json:"hint"`
	// RateLimit is the key's own limit ("100/m"); nil for the server's
	// default.
	RateLimit *string `json:"rate_limit"`
	// RateLimits are the key's named limits, names to limits
	// ({"tokens": "50000/d"}); empty for none.
	RateLimits map[string]string `json:"ratelimits"`
	// AllowedIPs are where the key may be used from; nil for anywhere.
	AllowedIPs []string `json:"allowed_ips"`
	// CreatedBy is the id of the key that created this one; nil for an
	// owner key (and, for a test key asking, for a live creator).
	CreatedBy *string `json:"created_by"`
	// IdentityID is the id of the key's identity, whose rate limit all
	// its keys share; nil for none.
	IdentityID *string `json:"identity_id"`
	// Enabled is false for a disabled key (see DisableKey): refused
	// everywhere with 401 disabled_api_key, and so are the access tokens
	// minted from it, until it is enabled again.
	Enabled bool `json:"enabled"`
	// Leaked is the last report that the key was found in public which
	// revoked or flagged it (GitHub's secret scanning, or a report of
	// leaked keys); nil if none did.
	Leaked *Leak `json:"leaked"`
	// Hint is "" for an imported key, which has none.
	KeyExtras
	// Revoked is true in the answer to RevokeKey.
	Revoked bool `json:"revoked"`
	// RevokedDescendants is, in the answer to RevokeKey with Cascade, how
	// many keys created by this one were revoked with it.
	RevokedDescendants int `json:"revoked_descendants"`
	Response
}

// Leak is a report that a key was found where others can read it.
type Leak struct {
	// At is when the report was received.
	At time.Time `json:"at"`
	// By is who reported it: "github_secret_scanning", or "anonymous"
	// for a report of leaked keys.
	By string `json:"by"`
	// URL is where the key was found ("" if not said).
	URL string `json:"url"`
	// Source is the kind of place, as GitHub names it ("commit",
	// "content"…; "" if not said).
	Source string `json:"source"`
	// Revoked is whether the report revoked the key; false when the
	// account's leak policy is "flag" and the key kept working.
	Revoked bool `json:"revoked"`
}

// CreatedKey is a new key with its secret, which the API shows in this
// answer only: keep Key now.
type CreatedKey struct {
	ID string `json:"id"`
	// Name is the key's name.
	Name string `json:"name"`
	// Key is the secret: "ph_live_…" or "ph_test_…".
	Key         string     `json:"key"`
	Created     time.Time  `json:"created"`
	Expires     *time.Time `json:"expires"` // nil: never
	Permissions []string   `json:"permissions"`
	Roles       []string   `json:"roles"`
	Environment string     `json:"environment"`
	RateLimit   *string    `json:"rate_limit"`
	// RateLimits are the key's named limits; empty for none.
	RateLimits map[string]string `json:"ratelimits"`
	AllowedIPs []string          `json:"allowed_ips"`
	// CreatedBy is the id of the key that created this one: the calling
	// key.
	CreatedBy *string `json:"created_by"`
	// IdentityID is the id of the key's identity; nil for none.
	IdentityID *string `json:"identity_id"`
	// Enabled is true, but for the successor of a disabled key: a
	// rotation leaves it disabled.
	Enabled bool `json:"enabled"`
	// RotatedFrom is the id of the key this one replaces, for RotateKey.
	RotatedFrom string `json:"rotated_from"`
	KeyExtras
	Response
}

// KeyExtras are what a key carries besides its rights.
type KeyExtras struct {
	// Metadata is the key's JSON object; nil (or "null") for none.
	Metadata json.RawMessage `json:"metadata"`
	// Remaining is the usage credits left; nil if the key's use is not
	// counted.
	Remaining *int64 `json:"remaining"`
	// Refill is how the credits come back; nil for never.
	Refill *Refill `json:"refill"`
	// NextRefill is when they next do; nil without a refill.
	NextRefill *time.Time `json:"next_refill"`
	// Imported is true for a key imported by the hash of its secret.
	Imported bool `json:"imported"`
}

// Refill intervals.
const (
	RefillDaily   = "daily"
	RefillMonthly = "monthly"
)

// Refill is how a key's credits come back: at 00:00 UTC every day, or on
// Day of every month (its last day when the month is shorter), the
// credits left are set to Amount.
type Refill struct {
	Interval string `json:"interval"`
	Amount   int64  `json:"amount"`
	// Day is the day of a monthly refill, 1 to 31; 0 for daily (and for
	// the 1st when creating a monthly refill).
	Day int `json:"day,omitempty"`
}

// KeyList is a page of keys, newest first.
type KeyList struct {
	Data []Key `json:"data"`
	// HasMore tells whether a page follows: ask for it with
	// StartingAfter set to the last id of this one.
	HasMore bool `json:"has_more"`
	Response
}

// KeyParams describe a key to create.
type KeyParams struct {
	// Name is required: 1 to 100 characters.
	Name string `json:"name"`
	// Permissions is required, such as []string{"candidate:read"},
	// unless Roles gives the key a role.
	Permissions []string `json:"permissions"`
	// Roles are the ids of roles of the account to give the key
	// (ListRoles): it also holds their permissions, as they change.
	Roles []string `json:"roles,omitempty"`
	// Expiration is the lifetime, such as "30d"; "" for a key that
	// never expires.
	Expiration string `json:"expiration,omitempty"`
	// Environment is "live" or "test"; "" for the calling key's.
	Environment string `json:"environment,omitempty"`
	// RateLimit is the key's own limit, such as "100/m"; "" for the
	// server's default.
	RateLimit string `json:"rate_limit,omitempty"`
	// RateLimits are the key's named limits, spent by name with a cost
	// (VerifyParams.RateLimits, a gateway's ratelimit): names to limits
	// such as {"tokens": "50000/d"} (N/s, N/m, N/h or N/d), at most 10;
	// nil for none.
	RateLimits map[string]string `json:"ratelimits,omitempty"`
	// AllowedIPs are addresses and CIDR ranges the key may be used from;
	// nil for anywhere.
	AllowedIPs []string `json:"allowed_ips,omitempty"`
	// Metadata is a JSON object of at most 4 KiB and 50 members, such as
	// json.RawMessage(`{"plan":"pro"}`); nil for none.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Remaining, if not nil, gives the key usage credits: each request
	// and verification spends one, and at 0 it is refused.
	Remaining *int64 `json:"remaining,omitempty"`
	// Refill, with Remaining, makes the credits come back.
	Refill *Refill `json:"refill,omitempty"`
	// IdentityID is the id of the identity the key is made for (of the
	// key's environment; CreateIdentity): it shares the identity's rate
	// limit with its other keys. "" for none. Needs identity:read.
	IdentityID string `json:"identity_id,omitempty"`
}

// CreateKey creates a key (permission api_key:write).
func (c *Client) CreateKey(ctx context.Context, p KeyParams) (*CreatedKey, error) {
	var out CreatedKey
	if err := c.do(ctx, http.MethodPost, "/v1/auth/api-keys", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListKeys returns a page of the account's unrevoked keys (permission
// api_key:read).
func (c *Client) ListKeys(ctx context.Context, p ListParams) (*KeyList, error) {
	return c.ListKeysWith(ctx, KeyListParams{ListParams: p})
}

// KeyListParams select a page of keys: ListParams, and filters, all of
// which a key must match (zero values filter nothing).
type KeyListParams struct {
	ListParams
	// Enabled, if not nil, lists the enabled keys only (true) or the
	// disabled ones (false).
	Enabled *bool
	// NamePrefix keeps the keys whose name starts with it, exactly
	// (case-sensitive; "%" and "_" are themselves).
	NamePrefix string
	// Role keeps the keys holding the role of this id ("role_…"); a role
	// of no key, or of another account, lists nothing.
	Role string
	// Permission keeps the keys holding it, as the API decides their
	// requests: themselves or through a role, by a wildcard, or as
	// "X:read" by "X:write".
	Permission string
	// Metadata keeps the keys whose metadata has each member with that
	// string value (metadata[NAME]=VALUE).
	Metadata map[string]string
	// IdentityID, if not "", lists the keys of that identity only.
	IdentityID string
}

// query is p as the list's query string.
func (p KeyListParams) query() url.Values {
	q := p.ListParams.query()
	if p.Enabled != nil {
		q.Set("enabled", strconv.FormatBool(*p.Enabled))
	}
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	set("name_prefix", p.NamePrefix)
	set("role", p.Role)
	set("permission", p.Permission)
	set("identity_id", p.IdentityID)
	for name, v := range p.Metadata {
		q.Set("metadata["+name+"]", v)
	}
	return q
}

// ListKeysWith is ListKeys with filters.
func (c *Client) ListKeysWith(ctx context.Context, p KeyListParams) (*KeyList, error) {
	var out KeyList
	if err := c.do(ctx, http.MethodGet, "/v1/auth/api-keys", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetKey returns the key id (permission api_key:read).
func (c *Client) GetKey(ctx context.Context, id string) (*Key, error) {
	return c.keyCall(ctx, http.MethodGet, id, nil)
}

// RevokeKey revokes the key id at once, everywhere (permission
// api_key:write, and every permission of the key; none for the client's
// own key, which may always revoke itself), and returns it with Revoked
// set.
func (c *Client) RevokeKey(ctx context.Context, id string) (*Key, error) {
	return c.keyCall(ctx, http.MethodDelete, id, nil)
}

// RevokeParams tune a revocation.
type RevokeParams struct {
	// Cascade also revokes, in the same step, every key the key created,
	// recursively; their number is the answer's RevokedDescendants.
	Cascade bool
}

// RevokeKeyWith is RevokeKey with parameters.
func (c *Client) RevokeKeyWith(ctx context.Context, id string, p RevokeParams) (*Key, error) {
	var q url.Values
	if p.Cascade {
		q = url.Values{"cascade": {"true"}}
	}
	return c.keyCall(ctx, http.MethodDelete, id, q)
}

func (c *Client) keyCall(ctx context.Context, method, id string, query url.Values) (*Key, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Key
	if err := c.do(ctx, method, "/v1/auth/api-keys/"+seg, query, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateParams tune a rotation.
type RotateParams struct {
	// ExpireOldIn is when the old key stops working: "now" (also for
	// "") or a lifetime such as "24h".
	ExpireOldIn string `json:"expire_old_in,omitempty"`
}

// RotateKey replaces the key id by a new one with the same name,
// permissions, environment and lifetime (permission api_key:write).
func (c *Client) RotateKey(ctx context.Context, id string, p RotateParams) (*CreatedKey, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var body any
	if p != (RotateParams{}) {
		body = p
	}
	var out CreatedKey
	if err := c.do(ctx, http.MethodPost, "/v1/auth/api-keys/"+seg+"/rotate", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Whoami is the calling key and its account.
type Whoami struct {
	Key struct {
		ID          string     `json:"id"`
		Name        string     `json:"name"`
		Permissions []string   `json:"permissions"`
		Roles       []string   `json:"roles"`
		Environment string     `json:"environment"`
		Expires     *time.Time `json:"expires"`
	} `json:"key"`
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
	// Identity is the key's identity; nil for none.
	Identity *KeyIdentity `json:"identity"`
	Response
}

// Whoami returns the calling key and its account (any valid key).
func (c *Client) Whoami(ctx context.Context) (*Whoami, error) {
	var out Whoami
	if err := c.do(ctx, http.MethodGet, "/v1/auth/whoami", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Kinds of credential Verify verifies.
const (
	KindAPIKey      = "api_key"
	KindAccessToken = "access_token"
)

// VerifyParams name a key (or an access token) to verify.
type VerifyParams struct {
	// Key is the secret a client presented: an API key or an access
	// token.
	Key string `json:"key"`
	// Permissions, if any, must all be held for the key to be valid.
	Permissions []string `json:"permissions,omitempty"`
	// IP is the address of the client that presented the key, as your
	// service sees it. A key with allowed_ips is valid only when IP is
	// given and inside them (else VerifyIPNotAllowed).
	IP string `json:"ip,omitempty"`
	// Cost, if not nil, is how many credits of a key with credits the
	// verification spends (default 1); 0 checks that some are left
	// without spending any.
	Cost *int64 `json:"cost,omitempty"`
	// RateLimits are the named limits the verification spends, each with
	// its cost; "requests" (the key's rate limit) is spent once unless
	// named here. A name the key and its identity do not define is not
	// spent (NamedLimitStatus.Defined false).
	RateLimits []LimitSpend `json:"ratelimits,omitempty"`
}

// LimitSpend is a named limit to spend, and how much of it.
type LimitSpend struct {
	Name string `json:"name"`
	// Cost is how much to spend (the server's default, 1, if nil); 0
	// checks that some is left without spending any.
	Cost *int `json:"cost,omitempty"`
}

// NamedLimitStatus is what a verification left of a named limit it was
// asked to spend.
type NamedLimitStatus struct {
	Name string `json:"name"`
	Cost int    `json:"cost"`
	// Defined is false for a limit neither the key nor its identity has:
	// nothing was spent, and it refused nothing.
	Defined bool `json:"defined"`
	// Limit, Remaining and Reset are as for RateLimitStatus; nil when not
	// defined, or not reached.
	Limit     *int `json:"limit"`
	Remaining *int `json:"remaining"`
	Reset     *int `json:"reset"`
}

// Verification codes: why a verified key is or is not valid.
const (
	VerifyValid                   = "VALID"
	VerifyNotFound                = "NOT_FOUND"
	VerifyExpired                 = "EXPIRED"
	VerifyRevoked                 = "REVOKED"
	VerifyDisabled                = "DISABLED"
	VerifyInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	VerifyIPNotAllowed            = "IP_NOT_ALLOWED"
	VerifyRateLimited             = "RATE_LIMITED"
	VerifyUsageExceeded           = "USAGE_EXCEEDED"
)

// Verification is what a presented key is worth. An invalid key is a
// Verification with Valid false, not an error.
type Verification struct {
	Valid bool `json:"valid"`
	// Code is VerifyValid or why not.
	Code string `json:"code"`
	// Kind is what was verified: KindAPIKey, or KindAccessToken (then
	// KeyID is the token's parent key, Permissions and Expires the
	// token's).
	Kind string `json:"kind"`
	// KeyID, AccountID and Permissions are empty if the key is not found.
	KeyID     string `json:"key_id"`
	AccountID string `json:"account_id"`
	// Environment is "live" or "test" ("" if not found): a live service
	// should refuse test keys.
	Environment string     `json:"environment"`
	Permissions []string   `json:"permissions"`
	Expires     *time.Time `json:"expires"`
	// RateLimit is the verified key's limit after this check; nil if the
	// key is not found.
	RateLimit *RateLimitStatus `json:"ratelimit"`
	// RateLimits are the named limits VerifyParams.RateLimits named, in
	// its order, as the verification left them.
	RateLimits []NamedLimitStatus `json:"ratelimits"`
	// Metadata is the key's metadata; nil (or "null") for none.
	Metadata json.RawMessage `json:"metadata"`
	// Identity is the key's identity; nil for none.
	Identity *KeyIdentity `json:"identity"`
	// Remaining is the key's credits left after this verification; nil
	// for a key whose use is not counted, or a verification refused
	// before its credits were looked at.
	Remaining *int64 `json:"remaining"`
	// NextRefill is when the key's credits next come back; nil without.
	NextRefill *time.Time `json:"next_refill"`
	// IdentityRemaining is the credits the key's identity shares, left
	// after this verification; nil for a key of no identity or of one
	// whose use is not counted, or a verification refused before credits
	// were looked at.
	IdentityRemaining *int64 `json:"identity_remaining"`
	// IdentityNextRefill is when the identity's credits next come back;
	// nil without.
	IdentityNextRefill *time.Time `json:"identity_next_refill"`
	Response
}

// RateLimitStatus is the state of a key's rate limit.
type RateLimitStatus struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	// Reset is the number of seconds until the limit is whole again.
	Reset int `json:"reset"`
}

// Verify checks a key a client presented to your service (permission
// api_key:verify). It spends one request of the verified key's limit.
func (c *Client) Verify(ctx context.Context, p VerifyParams) (*Verification, error) {
	var out Verification
	if err := c.do(ctx, http.MethodPost, "/v1/auth/verify", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateKeyParams is a change to a key: each field left at its zero value
// is not changed. The secret never changes.
type UpdateKeyParams struct {
	Name        string
	Permissions []string
	// Roles replaces the key's roles (ids of the account's roles);
	// NoRoles takes every role from it.
	Roles   []string
	NoRoles bool
	// RateLimit sets the key's own limit ("100/m"); DefaultRateLimit
	// gives it the server's default instead.
	RateLimit        string
	DefaultRateLimit bool
	// RateLimits replaces every named limit of the key; NoRateLimits
	// removes them all.
	RateLimits   map[string]string
	NoRateLimits bool
	// AllowedIPs sets where the key may be used from; AnyIP lets it be
	// used from anywhere.
	AllowedIPs []string
	AnyIP      bool
	// Metadata replaces the key's metadata; json.RawMessage("null")
	// removes it.
	Metadata json.RawMessage
	// Expires sets when the key stops working; NeverExpires makes it
	// never.
	Expires      *time.Time
	NeverExpires bool
	// Remaining sets the credits left; Add adds to them (not both);
	// StopCounting removes the key's credits, and its refill.
	Remaining    *int64
	Add          *int64
	StopCounting bool
	// Refill sets the refill; NoRefill removes it.
	Refill   *Refill
	NoRefill bool
	// Enabled, if not nil, disables the key (false) or enables it again
	// (true); see DisableKey.
	Enabled *bool
	// IdentityID gives the key that identity; NoIdentity takes its
	// identity away.
	IdentityID string
	NoIdentity bool
}

// MarshalJSON is the PATCH body: the members to change, null for those
// to clear.
func (p UpdateKeyParams) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	set := func(name string, v any, ok bool) {
		if ok {
			m[name] = v
		}
	}
	set("name", p.Name, p.Name != "")
	set("permissions", p.Permissions, p.Permissions != nil)
	set("roles", p.Roles, p.Roles != nil)
	set("roles", []string{}, p.NoRoles)
	set("rate_limit", p.RateLimit, p.RateLimit != "")
	set("rate_limit", nil, p.DefaultRateLimit)
	set("ratelimits", p.RateLimits, p.RateLimits != nil)
	set("ratelimits", nil, p.NoRateLimits)
	set("allowed_ips", p.AllowedIPs, p.AllowedIPs != nil)
	set("allowed_ips", nil, p.AnyIP)
	set("metadata", p.Metadata, p.Metadata != nil)
	if p.Expires != nil {
		m["expires"] = p.Expires.UTC().Format(time.RFC3339)
	}
	set("expires", nil, p.NeverExpires)
	set("remaining", p.Remaining, p.Remaining != nil)
	set("remaining", nil, p.StopCounting)
	set("add", p.Add, p.Add != nil)
	set("refill", p.Refill, p.Refill != nil)
	set("refill", nil, p.NoRefill)
	if p.Enabled != nil {
		m["enabled"] = *p.Enabled
	}
	set("identity_id", p.IdentityID, p.IdentityID != "")
	set("identity_id", nil, p.NoIdentity)
	return json.Marshal(m)
}

// UpdateKey changes the key id (permission api_key:write, and rights over
// the key as for RevokeKey; a key changing itself may only narrow its own
// limits) and returns it as changed. The change reaches every instance of
// the server at once.
func (c *Client) UpdateKey(ctx context.Context, id string, p UpdateKeyParams) (*Key, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Key
	if err := c.do(ctx, http.MethodPatch, "/v1/auth/api-keys/"+seg, nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DisableKey disables the key id and returns it: it is refused everywhere
// with 401 disabled_api_key (the API, verification, gateways, and the
// access tokens minted from it) until EnableKey, at once on every
// instance. Nothing else about the key changes: it is not revoked, and the
// keys it created keep working. The rights needed are UpdateKey's; a key
// may disable itself, and then cannot enable itself again.
func (c *Client) DisableKey(ctx context.Context, id string) (*Key, error) {
	return c.UpdateKey(ctx, id, UpdateKeyParams{Enabled: new(false)})
}

// EnableKey enables the disabled key id again, and returns it.
func (c *Client) EnableKey(ctx context.Context, id string) (*Key, error) {
	return c.UpdateKey(ctx, id, UpdateKeyParams{Enabled: new(true)})
}

// ImportKeyParams describe a key made by another system, imported by the
// SHA-256 of its secret (see HashSecret); the secret is never sent.
type ImportKeyParams struct {
	Hash        string          `json:"hash"`
	Name        string          `json:"name"`
	Permissions []string        `json:"permissions"`
	Expires     *time.Time      `json:"expires,omitempty"`
	Environment string          `json:"environment,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Remaining   *int64          `json:"remaining,omitempty"`
	Refill      *Refill         `json:"refill,omitempty"`
}

// HashSecret is the hash ImportKeyParams wants: the SHA-256 of secret in
// hexadecimal.
func HashSecret(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(d[:])
}

// ImportedKeys are the keys of an import, in the order given.
type ImportedKeys struct {
	Data []Key `json:"data"`
	Response
}

// ImportKeys stores 1 to 1,000 keys made by another system, all or none
// (permission api_key:write); their holders go on using their secrets. A
// hash stored already is a 409 key_exists naming it.
func (c *Client) ImportKeys(ctx context.Context, keys []ImportKeyParams) (*ImportedKeys, error) {
	var out ImportedKeys
	body := struct {
		Keys []ImportKeyParams `json:"keys"`
	}{keys}
	if err := c.do(ctx, http.MethodPost, "/v1/auth/api-keys/import", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
