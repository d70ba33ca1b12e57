package client

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebhookEndpoint is a URL the account's events are posted to.
type WebhookEndpoint struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Events      []string  `json:"events"`
	Enabled     bool      `json:"enabled"`
	Environment string    `json:"environment"`
	Created     time.Time `json:"created"`
	// FailingSince is when deliveries started failing with no success
	// since; nil while they succeed.
	FailingSince *time.Time `json:"failing_since"`
	// PreviousSecretExpires is when the secret a roll replaced stops
	// signing deliveries beside the new one; nil when none does.
	PreviousSecretExpires *time.Time `json:"previous_secret_expires"`
	// Secret signs the deliveries ("whsec_…"): set only in the answers to
	// CreateWebhookEndpoint and RollWebhookSecret. Keep it then.
	Secret string `json:"secret"`
	Response
}

// WebhookEndpointList is a page of endpoints, newest first.
type WebhookEndpointList struct {
	Data    []WebhookEndpoint `json:"data"`
	HasMore bool              `json:"has_more"`
	Response
}

// WebhookEndpointParams describe an endpoint to create, or the changes to
// make to one (nil fields are left as they are).
type WebhookEndpointParams struct {
	// URL is https (http to a loopback host only on a server run with
	// --webhook-loopback allow); required to create.
	URL *string `json:"url,omitempty"`
	// Events are the event types to send; required to create.
	Events      []string `json:"events,omitempty"`
	Description *string  `json:"description,omitempty"`
	// Enabled defaults to true on creation.
	Enabled *bool `json:"enabled,omitempty"`
}

// Delivery is one event on its way to an endpoint, with every attempt.
type Delivery struct {
	ID          string            `json:"id"`
	EventID     string            `json:"event_id"`
	Type        string            `json:"type"`
	Status      string            `json:"status"` // pending, delivered or failed
	Attempts    []DeliveryAttempt `json:"attempts"`
	NextAttempt *time.Time        `json:"next_attempt"`
	Created     time.Time         `json:"created"`
	Response
}

// DeliveryAttempt is one POST of a delivery.
type DeliveryAttempt struct {
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code"` // nil: no answer came
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
}

// DeliveryList is a page of deliveries, newest first.
type DeliveryList struct {
	Data    []Delivery `json:"data"`
	HasMore bool       `json:"has_more"`
	Response
}

// CreateWebhookEndpoint registers an endpoint (permission webhook:write).
// The answer's Secret is shown this once.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, p WebhookEndpointParams) (*WebhookEndpoint, error) {
	var out WebhookEndpoint
	if err := c.do(ctx, http.MethodPost, "/v1/webhook-endpoints", nil, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWebhookEndpoints returns a page of endpoints (permission
// webhook:read).
func (c *Client) ListWebhookEndpoints(ctx context.Context, p ListParams) (*WebhookEndpointList, error) {
	var out WebhookEndpointList
	if err := c.do(ctx, http.MethodGet, "/v1/webhook-endpoints", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWebhookEndpoint returns the endpoint id (permission webhook:read).
func (c *Client) GetWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error) {
	return c.endpointCall(ctx, http.MethodGet, id, "", nil)
}

// UpdateWebhookEndpoint changes the endpoint id (permission
// webhook:write).
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, id string, p WebhookEndpointParams) (*WebhookEndpoint, error) {
	return c.endpointCall(ctx, http.MethodPatch, id, "", p)
}

// DeleteWebhookEndpoint deletes the endpoint id and its pending
// deliveries (permission webhook:write).
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id string) (*Deleted, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Deleted
	if err := c.do(ctx, http.MethodDelete, "/v1/webhook-endpoints/"+seg, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListDeliveries returns a page of the deliveries to endpoint id, with
// their attempts (permission webhook:read).
func (c *Client) ListDeliveries(ctx context.Context, id string, p ListParams) (*DeliveryList, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out DeliveryList
	if err := c.do(ctx, http.MethodGet, "/v1/webhook-endpoints/"+seg+"/deliveries", p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendTestEvent queues an event of type "webhook.test" to the endpoint id
// only, and returns its delivery (permission webhook:write).
func (c *Client) SendTestEvent(ctx context.Context, id string) (*Delivery, error) {
	return c.deliveryCall(ctx, id, "/test")
}

// ResendDelivery makes a new delivery of the event of delivery deliveryID
// (the same event id and body) to the endpoint id, and returns it
// (permission webhook:write).
func (c *Client) ResendDelivery(ctx context.Context, id, deliveryID string) (*Delivery, error) {
	seg, err := escapeID(deliveryID)
	if err != nil {
		return nil, err
	}
	return c.deliveryCall(ctx, id, "/deliveries/"+seg+"/resend")
}

// RollWebhookSecret gives the endpoint id a new signing secret, in the
// answer's Secret, shown this once; the old one keeps signing deliveries
// beside it for expireOldIn ("now", the default if "", or a duration such
// as "24h", at most "7d") (permission webhook:write, with an API key).
func (c *Client) RollWebhookSecret(ctx context.Context, id, expireOldIn string) (*WebhookEndpoint, error) {
	body := map[string]string{}
	if expireOldIn != "" {
		body["expire_old_in"] = expireOldIn
	}
	return c.endpointCall(ctx, http.MethodPost, id, "/roll-secret", body)
}

func (c *Client) deliveryCall(ctx context.Context, id, suffix string) (*Delivery, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out Delivery
	if err := c.do(ctx, http.MethodPost, "/v1/webhook-endpoints/"+seg+suffix, nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) endpointCall(ctx context.Context, method, id, suffix string, body any) (*WebhookEndpoint, error) {
	seg, err := escapeID(id)
	if err != nil {
		return nil, err
	}
	var out WebhookEndpoint
	if err := c.do(ctx, method, "/v1/webhook-endpoints/"+seg+suffix, nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Event is a webhook delivery's body: what happened (Type) to the key in
// Data, and when.
type Event struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Created  time.Time `json:"created"`
	Livemode bool      `json:"livemode"`
	// Data is the key as the API shows it, at the time of the event.
	Data Key `json:"data"`
}

// Errors of VerifyWebhook. Answer them with a 400, and do not act on the
// payload.
var (
	ErrWebhookSignature = errors.New("client: the webhook's Pihu-Signature does not match its body and secret")
	ErrWebhookTimestamp = errors.New("client: the webhook's timestamp is outside the tolerance")
	ErrWebhookHeader    = errors.New("client: the Pihu-Signature header is missing or malformed")
)

// VerifyWebhook checks that payload, the raw body of a webhook delivery,
// was signed by pihu with secret (the endpoint's "whsec_…"), as the
// Pihu-Signature header (header) says, at most tolerance ago (or ahead,
// for clock skew), and returns the event it holds. Any v1 signature of the
// header may match, so that deliveries signed during a change of secret
// verify with either. A signature matches only as pihu writes it, in
// lowercase hex; the comparison takes constant time. A tolerance of
// 0 means 5 minutes.
//
// Read the body whole, unparsed and unchanged, before calling it: a
// re-encoded body no longer matches its signature.
func VerifyWebhook(payload []byte, header string, secret string, tolerance time.Duration) (Event, error) {
	return verifyWebhook(payload, header, secret, tolerance, time.Now())
}

func verifyWebhook(payload []byte, header, secret string, tolerance time.Duration, now time.Time) (Event, error) {
	if tolerance == 0 {
		tolerance = 5 * time.Minute
	}
	var (
		ts   string
		sigs []string
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return Event{}, ErrWebhookHeader
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(payload)
	// The signature as pihu writes it, lowercase hex: another spelling of
	// the same bytes (uppercase digits) is not the header pihu sent.
	want := hex.AppendEncode(nil, m.Sum(nil))
	match := false
	for _, sig := range sigs {
		if subtle.ConstantTimeCompare([]byte(sig), want) == 1 {
			match = true
		}
	}
	if !match {
		return Event{}, ErrWebhookSignature
	}
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return Event{}, ErrWebhookTimestamp
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return Event{}, fmt.Errorf("client: the webhook's body is not an event: %w", err)
	}
	return ev, nil
}
