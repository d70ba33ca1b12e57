package client

import (
	"context"
	"net/http"
	"net/url"
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
	Environment string     `json:"environment"`
	// Hint is the key's prefix and last 4 characters.
	Hint string `json:"hint"`
	// RateLimit is the key's own limit ("100/m"); nil for the server's
	// default.
	RateLimit *string `json:"rate_limit"`
	// AllowedIPs are where the key may be used from; nil for anywhere.
	AllowedIPs []string `json:"allowed_ips"`
	// CreatedBy is the id of the key that created this one; nil for an
	// owner key (and, for a test key asking, for a live creator).
	CreatedBy *string `json:"created_by"`
	// Revoked is true in the answer to RevokeKey.
	Revoked bool `json:"revoked"`
	// RevokedDescendants is, in the answer to RevokeKey with Cascade, how
	// many keys created by this one were revoked with it.
	RevokedDescendants int `json:"revoked_descendants"`
	Response
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
	Environment string     `json:"environment"`
	RateLimit   *string    `json:"rate_limit"`
	AllowedIPs  []string   `json:"allowed_ips"`
	// CreatedBy is the id of the key that created this one: the calling
	// key.
	CreatedBy *string `json:"created_by"`
	// RotatedFrom is the id of the key this one replaces, for RotateKey.
	RotatedFrom string `json:"rotated_from"`
	Response
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
	// Permissions is required, such as []string{"candidate:read"}.
	Permissions []string `json:"permissions"`
	// Expiration is the lifetime, such as "30d"; "" for a key that
	// never expires.
	Expiration string `json:"expiration,omitempty"`
	// Environment is "live" or "test"; "" for the calling key's.
	Environment string `json:"environment,omitempty"`
	// RateLimit is the key's own limit, such as "100/m"; "" for the
	// server's default.
	RateLimit string `json:"rate_limit,omitempty"`
	// AllowedIPs are addresses and CIDR ranges the key may be used from;
	// nil for anywhere.
	AllowedIPs []string `json:"allowed_ips,omitempty"`
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
// api_key:write, and every permission of the key), and returns it with
// Revoked set.
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
		Environment string     `json:"environment"`
		Expires     *time.Time `json:"expires"`
	} `json:"key"`
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
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
}

// Verification codes: why a verified key is or is not valid.
const (
	VerifyValid                   = "VALID"
	VerifyNotFound                = "NOT_FOUND"
	VerifyExpired                 = "EXPIRED"
	VerifyRevoked                 = "REVOKED"
	VerifyInsufficientPermissions = "INSUFFICIENT_PERMISSIONS"
	VerifyIPNotAllowed            = "IP_NOT_ALLOWED"
	VerifyRateLimited             = "RATE_LIMITED"
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
