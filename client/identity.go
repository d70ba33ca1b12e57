package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// CustomerIdentity is an identity of the API (/v1/identities): the
// customer's own user or organisation that keys are made for
// (KeyParams.IdentityID), with its id in your system (ExternalID), your
// metadata about it, and the rate limit and usage credits all its keys
// share, on every instance of the server. (Identity is the caller
// Middleware verified.)
type CustomerIdentity struct {
	ID          string `json:"id"`
	ExternalID  string `json:"external_id"`
	Environment string `json:"environment"`
	// Metadata is your JSON object about it; nil (or "null") for none.
	Metadata json.RawMessage `json:"metadata"`
	// RateLimit is the limit its keys share ("100/m"); nil for none.
	RateLimit *string `json:"rate_limit"`
	// Remaining is the usage credits its keys share, left; nil if they
	// are not counted. A key's own credits, if it has some, are needed
	// too: a request spends both, or neither.
	Remaining *int64 `json:"remaining"`
	// Refill is how the credits come back; nil for never.
	Refill *Refill `json:"refill"`
	// NextRefill is when they next do; nil without a refill.
	NextRefill *time.Time `json:"next_refill"`
	// RateLimits are the named limits its keys share; empty for none.
	RateLimits map[string]string `json:"ratelimits"`
	Created    time.Time         `json:"created"`
	Updated    time.Time         `json:"updated"`
	Response
}

// KeyIdentity is a key's identity as Whoami and Verify answer it.
type KeyIdentity struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"external_id"`
	Metadata   json.RawMessage `json:"metadata"`
}

// IdentityList is a page of identities, newest first.
type IdentityList struct {
	Data    []CustomerIdentity `json:"data"`
	HasMore bool               `json:"has_more"`
	Response
}

// IdentityParams describe an identity to create.
type IdentityParams struct {
	// ExternalID is required: your own id of the user or organisation,
	// unique among the identities of the account and environment.
	ExternalID string `json:"external_id"`
	// Metadata is a JSON object; nil for none.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// RateLimit is the limit all its keys share, such as "100/m"; "" for
	// none.
	RateLimit string `json:"rate_limit,omitempty"`
	// Remaining, if not nil, gives the identity usage credits all its
	// keys share: its keys work for this many requests in all.
	Remaining *int64 `json:"remaining,omitempty"`
	// Refill, with Remaining, makes the credits come back.
	Refill *Refill `json:"refill,omitempty"`
	// RateLimits are the named limits all its keys share, such as
	// {"tokens": "50000/d"}; nil for none.
	RateLimits map[string]string `json:"ratelimits,omitempty"`
}

// UpdateIdentityParams are the fields of an identity to change; those
// left zero stay as they are.
type UpdateIdentityParams struct {
	ExternalID string
	// Metadata replaces its metadata; json.RawMessage("null") removes it.
	Metadata json.RawMessage
	// RateLimit sets the shared limit; NoRateLimit removes it.
	RateLimit   string
	NoRateLimit bool
	// Remaining sets the shared credits left; Add adds to them (not
	// both); StopCounting removes the credits, and their refill.
	Remaining    *int64
	Add          *int64
	StopCounting bool
	// Refill sets the refill; NoRefill removes it.
	Refill   *Refill
	NoRefill bool
	// RateLimits replaces every shared named limit; NoRateLimits removes
	// them all.
	RateLimits   map[string]string
	NoRateLimits bool
}

// MarshalJSON is the PATCH body: the members to change, null for those
// to clear.
func (p UpdateIdentityParams) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if p.ExternalID != "" {
		m["external_id"] = p.ExternalID
	}
	if p.Metadata != nil {
		m["metadata"] = p.Metadata
	}
	if p.RateLimit != "" {
		m["rate_limit"] = p.RateLimit
	}
	if p.NoRateLimit {
		m["rate_limit"] = nil
	}
	switch {
	case p.Remaining != nil:
		m["remaining"] = *p.Remaining
	case p.StopCounting:
		m["remaining"] = nil
	}
	if p.Add != nil {
		m["add"] = *p.Add
	}
	switch {
	case p.Refill != nil:
		m["refill"] = p.Refill
	case p.NoRefill:
		m["refill"] = nil
	}
	if p.RateLimits != nil {
		m["ratelimits"] = p.RateLimits
	}
	if p.NoRateLimits {
		m["ratelimits"] = nil
	}
	return json.Marshal(m)
}

// IdentityListParams select a page of identities: ListParams, and a
// filter.
type IdentityListParams struct {
	ListParams
	// ExternalID, if not "", lists the identity of that external id only.
	ExternalID string
}

// IdentityDeleted is the answer to DeleteIdentity: the identity, and how
// many of its keys were revoked with it.
type IdentityDeleted struct {
	ID          string            `json:"id"`
	ExternalID  string            `json:"external_id"`
	Environment string            `json:"environment"`
	Metadata    json.RawMessage   `json:"metadata"`
	RateLimit   *string           `json:"rate_limit"`
	RateLimits  map[string]string `json:"ratelimits"`
	Remaining   *int64            `json:"remaining"`
	Refill      *Refill           `json:"refill"`
	NextRefill  *time.Time        `json:"next_refill"`
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
	Deleted     bool              `json:"deleted"`
	RevokedKeys int               `json:"revoked_keys"`
	Response
}

// CreateIdentity creates an identity in the calling key's account and
// environment (permission identity:write). An external id that one has
// already is an *Error with Code "identity_exists".
func (c *Client) CreateIdentity(ctx context.Context, p IdentityParams) (*CustomerIdentity, error) {
	var out CustomerIdentity
	if err := c.do(ctx, http.MethodPost, "/v1/identities", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListIdentities returns a page of the identities of the calling key's
// account and environment, newest first (permission identity:read).
func (c *Client) ListIdentities(ctx context.Context, p IdentityListParams) (*IdentityList, error) {
	q := p.query()
	if p.ExternalID != "" {
		q.Set("external_id", p.ExternalID)
	}
	var out IdentityList
	if err := c.do(ctx, http.MethodGet, "/v1/identities", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetIdentity returns the identity id (permission identity:read).
func (c *Client) GetIdentity(ctx context.Context, id string) (*CustomerIdentity, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out CustomerIdentity
	if err := c.do(ctx, http.MethodGet, "/v1/identities/"+seg, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateIdentity changes the identity id (permission identity:write) and
// returns it as changed; the change reaches every key of the identity on
// every instance at once.
func (c *Client) UpdateIdentity(ctx context.Context, id string, p UpdateIdentityParams) (*CustomerIdentity, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out CustomerIdentity
	if err := c.do(ctx, http.MethodPatch, "/v1/identities/"+seg, nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteIdentity deletes the identity id (permission identity:write). If
// active keys have it, it is an *Error with Code "identity_in_use" and
// KeyCount set, unless revokeKeys: the keys are then revoked with it (the
// calling key needs the right to revoke each).
func (c *Client) DeleteIdentity(ctx context.Context, id string, revokeKeys bool) (*IdentityDeleted, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if revokeKeys {
		q = url.Values{"revoke_keys": {"true"}}
	}
	var out IdentityDeleted
	if err := c.do(ctx, http.MethodDelete, "/v1/identities/"+seg, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
