package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Granularities of KeyUsage.
const (
	// Hourly is 24 buckets of an hour: the last 24 hours, the current one
	// included.
	Hourly = "hour"
	// Daily is 30 buckets of a UTC day: the last 30 days, today included.
	Daily = "day"
)

// UsageParams choose the buckets of KeyUsage.
type UsageParams struct {
	// Granularity is Hourly or Daily; "" means Hourly.
	Granularity string
}

// KeyUsage is how many requests a key made in each bucket of a window,
// oldest first, every bucket present (zeros included).
type KeyUsage struct {
	KeyID string `json:"key_id"`
	// Granularity is Hourly or Daily.
	Granularity string `json:"granularity"`
	// Start is the first bucket's start; End the last bucket's end
	// (exclusive): the end of the current hour or UTC day.
	Start time.Time     `json:"start"`
	End   time.Time     `json:"end"`
	Total UsageCounts   `json:"total"`
	Data  []UsageBucket `json:"data"`
	Response
}

// UsageCounts are the requests let through (Allowed, whatever the endpoint
// then answered) and those refused after the key was recognised (Refused:
// an address outside its allowed_ips, its rate limit spent, a missing
// permission, its credits used up), with why (RefusedBy).
type UsageCounts struct {
	Allowed   int64     `json:"allowed"`
	Refused   int64     `json:"refused"`
	RefusedBy RefusedBy `json:"refused_by"`
}

// RefusedBy splits Refused by the error code each request was answered
// with; the fields add up to Refused. Other is refusals the server counted
// before it kept reasons (history from an earlier version).
type RefusedBy struct {
	RateLimited             int64 `json:"rate_limited"`
	IPNotAllowed            int64 `json:"ip_not_allowed"`
	InsufficientPermissions int64 `json:"insufficient_permissions"`
	UsageExceeded           int64 `json:"usage_exceeded"`
	DisabledAPIKey          int64 `json:"disabled_api_key"`
	Other                   int64 `json:"other"`
}

// UsageBucket is the requests of one hour or UTC day.
type UsageBucket struct {
	Start time.Time `json:"start"`
	UsageCounts
}

// KeyUsage returns the requests the key id made (permission api_key:read),
// per hour over the last 24 hours or per day over the last 30; a revoked
// key's included. A request shows at once.
func (c *Client) KeyUsage(ctx context.Context, id string, p UsageParams) (*KeyUsage, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if p.Granularity != "" {
		q = url.Values{"granularity": {p.Granularity}}
	}
	var out KeyUsage
	if err := c.do(ctx, http.MethodGet, "/v1/auth/api-keys/"+seg+"/usage", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// IdentityUsage is how many requests all the keys of an identity made
// (revoked ones included), in the buckets of KeyUsage.
type IdentityUsage struct {
	IdentityID  string        `json:"identity_id"`
	Granularity string        `json:"granularity"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	Total       UsageCounts   `json:"total"`
	Data        []UsageBucket `json:"data"`
	Response
}

// IdentityUsage returns the requests of all the keys of identity id
// (permission identity:read), added up as KeyUsage counts one key's.
func (c *Client) IdentityUsage(ctx context.Context, id string, p UsageParams) (*IdentityUsage, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if p.Granularity != "" {
		q = url.Values{"granularity": {p.Granularity}}
	}
	var out IdentityUsage
	if err := c.do(ctx, http.MethodGet, "/v1/identities/"+seg+"/usage", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
