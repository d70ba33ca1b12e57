package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// RequestLogEntry is a request made with a key, as the server's request
// log keeps it; or, with Omitted above 0, how many of the key's requests
// were left out of the log (over the account's recording budget). Never
// a query string, a header or a secret.
type RequestLogEntry struct {
	ID        string    `json:"id"`
	RequestID string    `json:"request_id,omitempty"`
	KeyID     string    `json:"key_id"`
	TokenID   string    `json:"token_id,omitempty"`
	Time      time.Time `json:"time"`
	// Door is "api", "verify" (the key verified by another service),
	// "forward" (forward auth) or "envoy" (Envoy's ext_authz).
	Door   string `json:"door,omitempty"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Status int    `json:"status,omitempty"`
	IP     string `json:"ip,omitempty"`
	// Code is the error code of an error answer, such as
	// "rate_limited"; "" for a success. Refused tells whether it is a
	// refusal of the key.
	Code    string `json:"code,omitempty"`
	Refused bool   `json:"refused"`
	Omitted int64  `json:"omitted,omitempty"`
}

// RequestLog is a page of the request log, newest first.
type RequestLog struct {
	Data []RequestLogEntry `json:"data"`
	// HasMore tells whether a page follows: ask for it with
	// StartingAfter set to the last id of this one.
	HasMore bool `json:"has_more"`
	Response
}

// RequestLogParams select a page of the request log: ListParams, and
// filters (zero values filter nothing).
type RequestLogParams struct {
	ListParams
	// KeyID, for ListRequests, keeps one key's requests.
	KeyID string
	// Status is a status ("429") or a class ("4xx").
	Status string
	// Refused keeps the refused requests (and the counts of omitted
	// ones).
	Refused bool
	// Code keeps the answers of one error code, such as "rate_limited".
	Code string
	// Since and Until, if not zero, keep the requests at or after Since
	// and before Until.
	Since, Until time.Time
}

func (p RequestLogParams) query() url.Values {
	q := p.ListParams.query()
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	set("key_id", p.KeyID)
	set("status", p.Status)
	set("code", p.Code)
	if p.Refused {
		q.Set("refused", "true")
	}
	if !p.Since.IsZero() {
		q.Set("created[gte]", p.Since.UTC().Format(time.RFC3339))
	}
	if !p.Until.IsZero() {
		q.Set("created[lt]", p.Until.UTC().Format(time.RFC3339))
	}
	return q
}

// ListRequests returns a page of the account's request log (permission
// api_key:read); a test key sees the requests of test keys only.
func (c *Client) ListRequests(ctx context.Context, p RequestLogParams) (*RequestLog, error) {
	var out RequestLog
	if err := c.do(ctx, http.MethodGet, "/v1/auth/requests", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeyRequests returns a page of the request log of key id (permission
// api_key:read), a revoked key's included; p.KeyID is ignored.
func (c *Client) KeyRequests(ctx context.Context, id string, p RequestLogParams) (*RequestLog, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	p.KeyID = ""
	var out RequestLog
	if err := c.do(ctx, http.MethodGet, "/v1/auth/api-keys/"+seg+"/requests", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
