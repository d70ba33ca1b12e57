package pihu

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook event types: what happened to the key an event carries.
const (
	EventKeyCreated       = ActionKeyCreated
	EventKeyRevoked       = ActionKeyRevoked
	EventKeyRotated       = ActionKeyRotated
	EventKeyLeaked        = ActionKeyLeaked
	EventKeyDisabled      = ActionKeyDisabled
	EventKeyEnabled       = ActionKeyEnabled
	EventKeyExpiringSoon  = "api_key.expiring_soon"
	EventKeyUsageExceeded = "api_key.usage_exceeded"
	EventKeyRateLimited   = "api_key.rate_limited"
	// EventWebhookTest is the event a person sends to one endpoint to try
	// it (POST /v1/webhook-endpoints/{id}/test); no endpoint subscribes to
	// it, and no other endpoint receives it.
	EventWebhookTest = "webhook.test"
)

// WebhookEventTypes is every event type an endpoint may subscribe to, in
// the order the docs list them.
var WebhookEventTypes = []string{
	EventKeyCreated, EventKeyRevoked, EventKeyRotated, EventKeyLeaked,
	EventKeyDisabled, EventKeyEnabled,
	EventKeyExpiringSoon, EventKeyUsageExceeded, EventKeyRateLimited,
}

// Audit actions of webhook endpoints; their target is the endpoint.
const (
	ActionWebhookEndpointCreated  = "webhook_endpoint.created"
	ActionWebhookEndpointUpdated  = "webhook_endpoint.updated"
	ActionWebhookEndpointDeleted  = "webhook_endpoint.deleted"
	ActionWebhookEndpointDisabled = "webhook_endpoint.disabled"
	ActionWebhookSecretRolled     = "webhook_endpoint.secret_rolled"
)

// Prefixes of webhook ids and secrets.
const (
	PrefixWebhookEndpoint = "we_"
	PrefixDelivery        = "whd_"
	PrefixWebhookSecret   = "whsec_"
)

// Limits of an endpoint's fields.
const (
	MaxWebhookURL         = 2048
	maxWebhookDescription = 200
)

// WebhookEndpoint is a URL an account's events are posted to. Like every
// piece of data it belongs to one account and one environment: a test
// key's endpoints receive the events of test keys only.
type WebhookEndpoint struct {
	ID          string
	AccountID   string
	Environment Environment
	URL         string
	Description string
	Events      []string // a non-empty subset of WebhookEventTypes
	Enabled     bool
	// Secret signs the deliveries ("whsec_…"). It is stored as it is,
	// since signing needs it, and shown once, when the endpoint is
	// created.
	Secret string
	// PreviousSecret is the secret Secret replaced when it was rolled
	// with an overlap: deliveries are signed with both until
	// PreviousSecretExpires, so that receivers can change theirs
	// meanwhile. Empty, and PreviousSecretExpires nil, otherwise.
	PreviousSecret        string
	PreviousSecretExpires *time.Time
	Created               time.Time
	// FailingSince is when deliveries to the endpoint started failing
	// without a success since; nil while they succeed. An endpoint
	// failing for WebhookGiveUp is disabled.
	FailingSince *time.Time
}

// NewWebhookAuditEvent returns the audit event of actor, at client address
// ip, doing action to endpoint e at the time at.
func NewWebhookAuditEvent(action, actor, ip string, e *WebhookEndpoint, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID:          NewID(PrefixEvent),
		AccountID:   e.AccountID,
		Environment: e.Environment,
		Action:      action,
		Actor:       actor,
		Target:      e.ID,
		IP:          ip,
		Created:     Timestamp(at),
	}
}

// WebhookGiveUp is how long deliveries are retried, and how long an
// endpoint may fail before it is disabled.
const WebhookGiveUp = 72 * time.Hour

// WebhookMaxAttempts is the most attempts a delivery gets: it is given up
// after this many, or after WebhookGiveUp, whichever comes first. The
// default schedule (30 s, doubling up to 6 hours) makes about this many in
// three days.
const WebhookMaxAttempts = 20

// CheckWebhookWriter applies the rule for who may create or change a
// webhook endpoint: an API key, not an access token. An endpoint lasts
// until it is deleted, receiving the account's events all along, and a
// token must leave nothing behind that outlives it (keys and tokens it
// makes expire with it; an endpoint cannot). Returns
// EInsufficientPermissions for a key that authenticated with a token.
func CheckWebhookWriter(k *Key) error {
	if k.Token == nil {
		return nil
	}
	return &Error{
		Code:    EInsufficientPermissions,
		Message: "An access token cannot create or change webhook endpoints, which outlive it; use an API key with the \"webhook:write\" permission.",
	}
}

// NewWebhookEndpoint builds an endpoint of the account and environment of
// the key that creates it, at now, with a new secret, and validates it.
// Returns EInsufficientPermissions if creator authenticated with an access
// token (see CheckWebhookWriter).
func NewWebhookEndpoint(creator *Key, rawURL string, events []string, description string, enabled bool, now time.Time) (*WebhookEndpoint, error) {
	if err := CheckWebhookWriter(creator); err != nil {
		return nil, err
	}
	e := &WebhookEndpoint{
		ID:          NewID(PrefixWebhookEndpoint),
		AccountID:   creator.AccountID,
		Environment: creator.Environment,
		URL:         rawURL,
		Description: description,
		Events:      events,
		Enabled:     enabled,
		Secret:      PrefixWebhookSecret + randomBase62(32),
		Created:     Timestamp(now),
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// Validate checks the endpoint's own fields. Returns EParameterMissing or
// EParameterInvalid with "url", "events" or "description" as Param.
func (e *WebhookEndpoint) Validate() error {
	if e.URL == "" {
		return ParamErrorf(EParameterMissing, "url", "A webhook endpoint needs a \"url\", such as \"https://example.com/pihu-events\".")
	}
	if err := ValidateWebhookURL(e.URL); err != nil {
		return err
	}
	if len(e.Events) == 0 {
		return ParamErrorf(EParameterMissing, "events", "Give \"events\", the event types to send, out of: %s.", strings.Join(WebhookEventTypes, ", "))
	}
	seen := map[string]bool{}
	for _, ev := range e.Events {
		if !slices.Contains(WebhookEventTypes, ev) {
			return ParamErrorf(EParameterInvalid, "events", "%q is not an event type. Event types: %s.", MaskSecrets(ev), strings.Join(WebhookEventTypes, ", "))
		}
		if seen[ev] {
			return ParamErrorf(EParameterInvalid, "events", "%q is given twice; name each event type once.", ev)
		}
		seen[ev] = true
	}
	if n := len([]rune(e.Description)); n > maxWebhookDescription {
		return ParamErrorf(EParameterInvalid, "description", "The description is %d characters long; at most %d are allowed.", n, maxWebhookDescription)
	}
	return CheckText("description", "description", e.Description)
}

// WebhookEndpointChange is a change of an endpoint's fields, as PATCH
// /v1/webhook-endpoints/{id} and the dashboard's edit form give it: a nil
// field stays as it is.
type WebhookEndpointChange struct {
	URL         *string
	Events      *[]string
	Description *string
	Enabled     *bool
}

// Apply makes the change c to e and validates the result, the one rule of
// every door that changes an endpoint. Enabling a disabled endpoint clears
// FailingSince. A new URL to a loopback host is refused unless
// allowLoopback (see RefuseLoopbackWebhookURL). Returns EParameterInvalid
// or EParameterMissing with "url", "events" or "description" as Param,
// with e in an unspecified state then.
func (e *WebhookEndpoint) Apply(c WebhookEndpointChange, allowLoopback bool) error {
	if c.URL != nil {
		if *c.URL == "" {
			return ParamErrorf(EParameterInvalid, "url", "\"url\" is empty; give the https URL to post events to.")
		}
		e.URL = *c.URL
	}
	if c.Events != nil {
		if len(*c.Events) == 0 {
			return ParamErrorf(EParameterInvalid, "events", "\"events\" is empty; name at least one event type.")
		}
		e.Events = *c.Events
	}
	if c.Description != nil {
		e.Description = *c.Description
	}
	if c.Enabled != nil {
		if *c.Enabled && !e.Enabled {
			e.FailingSince = nil
		}
		e.Enabled = *c.Enabled
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if c.URL != nil && !allowLoopback {
		return RefuseLoopbackWebhookURL(e.URL)
	}
	return nil
}

// MaxWebhookSecretOverlap is the longest the secret a roll replaces may
// keep signing deliveries.
const MaxWebhookSecretOverlap = 7 * 24 * time.Hour

// ParseWebhookSecretOverlap parses the expire_old_in of a roll of an
// endpoint's secret: "now" (0: the old secret stops signing at once), the
// default, or a duration as for a key's expiration, at most
// MaxWebhookSecretOverlap. Returns EParameterInvalid on "expire_old_in"
// otherwise.
func ParseWebhookSecretOverlap(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := ParseExpireOldIn(s)
	if err != nil || d > MaxWebhookSecretOverlap {
		return 0, ParamErrorf(EParameterInvalid, "expire_old_in",
			"%q is not an overlap the old signing secret may have: use \"now\" to stop it at once, or a whole number followed by m, h, d or w (minutes, hours, days, weeks), such as \"24h\", up to 7 days (\"7d\"); it may not be longer than 7 days.", MaskSecrets(s))
	}
	return d, nil
}

// RollSecret gives e a new secret at now. The one it replaces keeps
// signing deliveries, beside the new one, for overlap (not at all if 0).
// roller is the key that rolls it, nil for a person in the dashboard.
// Returns EInsufficientPermissions if roller authenticated with an access
// token (see CheckWebhookWriter).
func (e *WebhookEndpoint) RollSecret(roller *Key, overlap time.Duration, now time.Time) error {
	if roller != nil {
		if err := CheckWebhookWriter(roller); err != nil {
			return err
		}
	}
	e.PreviousSecret, e.PreviousSecretExpires = "", nil
	if overlap > 0 {
		until := Timestamp(now.Add(overlap))
		e.PreviousSecret, e.PreviousSecretExpires = e.Secret, &until
	}
	e.Secret = PrefixWebhookSecret + randomBase62(32)
	return nil
}

// NewTestWebhookEvent is an event of type EventWebhookTest for endpoint e
// at the time at, whose data names the endpoint: what a person sends to
// try an endpoint.
func NewTestWebhookEvent(e *WebhookEndpoint, at time.Time) (*WebhookEvent, error) {
	id := NewID(PrefixEvent)
	created := Timestamp(at)
	payload, err := json.Marshal(testWebhookPayload{ID: id, Type: EventWebhookTest, Created: FormatTime(created),
		Livemode: e.Environment == Live, Data: testWebhookData{EndpointID: e.ID, Message: "A test event, sent on request to this endpoint only."}})
	if err != nil {
		return nil, fmt.Errorf("test event for %s: %w", e.ID, err)
	}
	return &WebhookEvent{ID: id, AccountID: e.AccountID, Environment: e.Environment, Type: EventWebhookTest, Created: created, Payload: payload}, nil
}

// testWebhookPayload is the body of a test event: WebhookPayload's, with
// data naming the endpoint rather than a key.
type testWebhookPayload struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Created  string          `json:"created"`
	Livemode bool            `json:"livemode"`
	Data     testWebhookData `json:"data"`
}

type testWebhookData struct {
	EndpointID string `json:"endpoint_id"`
	Message    string `json:"message"`
}

// Subscribes reports whether the endpoint receives events of type typ.
func (e *WebhookEndpoint) Subscribes(typ string) bool { return slices.Contains(e.Events, typ) }

// ValidateWebhookURL checks that raw is an absolute https URL, or an http
// URL to a loopback host (localhost, 127.0.0.0/8, ::1: for development and
// tests), without user information or a fragment, of at most
// MaxWebhookURL characters. Returns EParameterInvalid on "url" otherwise.
//
// Where the host's name leads is checked again when a delivery connects,
// at every connection (see the webhook package), since DNS may answer
// differently then.
func ValidateWebhookURL(raw string) error {
	bad := func(why string) error {
		return ParamErrorf(EParameterInvalid, "url", "%s", why)
	}
	if len(raw) > MaxWebhookURL {
		return bad(fmt.Sprintf("The URL is %d characters long; at most %d are allowed.", len(raw), MaxWebhookURL))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return bad(fmt.Sprintf("%q is not an absolute URL; give one such as \"https://example.com/pihu-events\".", MaskSecrets(raw)))
	}
	if u.User != nil {
		return bad("The URL holds a user name or password; webhook URLs may not (every delivery is signed instead).")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("The URL has a fragment (#…), which is never sent; remove it.")
	}
	for _, c := range raw {
		if c <= 0x20 || c == 0x7f {
			return bad("The URL contains a space or a control character; encode it.")
		}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !LoopbackHost(u.Hostname()) {
			return bad("Webhook URLs must use https; http is allowed only to a loopback host (localhost, 127.0.0.1, [::1]) for development.")
		}
	default:
		return bad(fmt.Sprintf("The URL's scheme is %q; webhook URLs must use https.", u.Scheme))
	}
	return nil
}

// RefuseLoopbackWebhookURL returns EParameterInvalid on "url" if raw, a
// URL ValidateWebhookURL accepted, names a loopback host: what a server
// whose deliveries may not reach its own machine answers (serve
// --webhook-loopback deny, the default). A name that only resolves to a
// loopback address is refused when a delivery connects.
func RefuseLoopbackWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !LoopbackHost(u.Hostname()) {
		return nil
	}
	return ParamErrorf(EParameterInvalid, "url", "%s", "This server does not deliver webhooks to its own machine (localhost, 127.0.0.0/8, [::1]); give a public https URL. For development, start it with --webhook-loopback allow.")
}

// LoopbackHost reports whether host (without a port) is "localhost" or a
// loopback address.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// ForbiddenWebhookAddress reports whether a delivery may not connect to
// ip: a private, link-local, multicast, unspecified or otherwise
// non-public address (carrier-grade NAT, 0.0.0.0/8, the IPv6 unique local
// and documentation ranges…), or a loopback address unless allowLoopback
// (serve --webhook-loopback allow: for development and tests, where the
// receiver runs beside pihu).
//
// An IPv6 address that carries an IPv4 address a translator or tunnel
// delivers to (see EmbeddedIPv4: NAT64, 6to4, Teredo, IPv4-compatible) is
// forbidden when that IPv4 address is, loopback included whatever
// allowLoopback says: 64:ff9b::a00:1 reaches 10.0.0.1 through a NAT64
// gateway as surely as 10.0.0.1 does.
func ForbiddenWebhookAddress(ip netip.Addr, allowLoopback bool) bool {
	if forbiddenAddress(ip, allowLoopback) {
		return true
	}
	for _, v4 := range EmbeddedIPv4(ip) {
		if forbiddenAddress(v4, false) {
			return true
		}
	}
	return false
}

// EmbeddedIPv4 returns the IPv4 addresses an IPv6 address ip carries, to
// which a translator or a tunnel delivers what is sent to ip:
//
//   - NAT64 (RFC 6052): the last 32 bits of 64:ff9b::/96 (the well-known
//     prefix; the local-use 64:ff9b:1::/48 is forbidden whole);
//   - 6to4 (RFC 3056): bits 16 to 47 of 2002::/16;
//   - Teredo (RFC 4380): in 2001::/32, the server's address in bits 32 to
//     63, and the client's in the last 32 bits, inverted;
//   - IPv4-compatible (RFC 4291, deprecated): the last 32 bits of ::/96.
//
// IPv4-mapped addresses (::ffff:0:0/96) are their IPv4 address already
// (netip.Addr.Unmap). Any other address carries none.
func EmbeddedIPv4(ip netip.Addr) []netip.Addr {
	if !ip.Is6() || ip.Is4In6() {
		return nil
	}
	b := ip.As16()
	v4 := func(i int, invert bool) netip.Addr {
		var a [4]byte
		copy(a[:], b[i:i+4])
		if invert {
			for j := range a {
				a[j] ^= 0xff
			}
		}
		return netip.AddrFrom4(a)
	}
	switch {
	case nat64.Contains(ip):
		return []netip.Addr{v4(12, false)}
	case ipv4Compatible.Contains(ip) && !ip.IsLoopback() && !ip.IsUnspecified(): // not ::1 nor ::
		return []netip.Addr{v4(12, false)}
	case sixToFour.Contains(ip):
		return []netip.Addr{v4(2, false)}
	case teredo.Contains(ip):
		return []netip.Addr{v4(4, false), v4(12, true)}
	}
	return nil
}

// The IPv6 ranges that carry an IPv4 address (EmbeddedIPv4).
var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
	ipv4Compatible = netip.MustParsePrefix("::/96")
)

// forbiddenAddress is ForbiddenWebhookAddress for ip itself, without the
// IPv4 address it may carry.
func forbiddenAddress(ip netip.Addr, allowLoopback bool) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return true
	case ip.IsLoopback():
		return !allowLoopback
	case ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast(),
		ip.IsMulticast(), ip.IsUnspecified():
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// forbiddenPrefixes are the special-purpose ranges netip has no predicate
// for.
var forbiddenPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // carrier-grade NAT
		"192.0.0.0/24",    // IETF protocol assignments
		"198.18.0.0/15",   // benchmarking
		"240.0.0.0/4",     // reserved, broadcast included
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard-only
		"2001:db8::/32",   // documentation
		"fec0::/10",       // deprecated site-local
		"::ffff:0:0:0/96", // IPv4-translated
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// SplitHostPortAddr parses the "ip:port" address a dialer is about to
// connect to.
func SplitHostPortAddr(address string) (netip.Addr, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(host)
}

// WebhookEvent is one event as it is delivered: its payload is fixed
// when the event happens, so that every endpoint and every retry sends the
// same bytes, and a delivery after a restart sends what was true then.
type WebhookEvent struct {
	ID          string // "evt_…": the audit event's id, for events that have one
	AccountID   string
	Environment Environment
	Type        string
	Created     time.Time
	// Payload is the JSON body of every delivery of the event.
	Payload []byte
}

// WebhookPayload is the JSON body of a delivery: the event, with the key
// as the API shows it.
type WebhookPayload struct {
	ID       string  `json:"id"`
	Type     string  `json:"type"`
	Created  string  `json:"created"`
	Livemode bool    `json:"livemode"`
	Data     KeyItem `json:"data"`
}

// NewKeyEvent is the event typ about key k at the time at, with the id
// id (a new one if ""). hideCreator leaves the key's creator out of the
// data, as the API does when a test key is shown a test key a live key
// created.
func NewKeyEvent(id, typ string, k *Key, hideCreator bool, at time.Time) (*WebhookEvent, error) {
	if id == "" {
		id = NewID(PrefixEvent)
	}
	item := NewKeyItem(k, at)
	if hideCreator {
		item.CreatedBy = nil
	}
	created := Timestamp(at)
	payload, err := json.Marshal(WebhookPayload{
		ID: id, Type: typ, Created: FormatTime(created), Livemode: k.Environment == Live, Data: item,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook event %s: %w", id, err)
	}
	return &WebhookEvent{ID: id, AccountID: k.AccountID, Environment: k.Environment, Type: typ, Created: created, Payload: payload}, nil
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt
	DeliveryDelivered = "delivered" // an attempt got a 2xx
	DeliveryFailed    = "failed"    // retried for WebhookGiveUp, or the endpoint is gone
)

// Delivery is one event on its way to one endpoint, with every attempt
// made so far.
type Delivery struct {
	ID          string // "whd_…"
	EndpointID  string
	EventID     string
	EventType   string
	Status      string // one of the Delivery… constants
	Attempts    []DeliveryAttempt
	NextAttempt *time.Time // nil unless pending
	Created     time.Time

	// Set by ClaimDeliveries only: what sending needs.
	AccountID   string
	Environment Environment
	URL         string
	Secret      string
	// PreviousSecret, if not empty, also signs: the secret a roll
	// replaced, until its overlap ends.
	PreviousSecret string
	// Payload is set by ClaimDeliveries and Delivery.
	Payload []byte
	// Lease names the claim: FinishDelivery records an attempt only
	// under the lease that claimed it.
	Lease string
}

// Describe says in words where the delivery stands, for a person: "pending"
// before its first attempt, "retrying (attempt 3 of 20)" after 3 failed
// attempts when another will come, "delivered", or "failed after 20
// attempts". maxAttempts is the most attempts a delivery gets
// (WebhookMaxAttempts unless the dispatcher was told otherwise).
func (d *Delivery) Describe(maxAttempts int) string {
	n := len(d.Attempts)
	switch {
	case d.Status == DeliveryPending && n > 0:
		return fmt.Sprintf("retrying (attempt %d of %d)", n, max(maxAttempts, n))
	case d.Status == DeliveryFailed && n == 1:
		return "failed after 1 attempt"
	case d.Status == DeliveryFailed && n > 1:
		return fmt.Sprintf("failed after %d attempts", n)
	}
	return d.Status
}

// DeliveryAttempt is one POST of a delivery.
type DeliveryAttempt struct {
	At         time.Time     `json:"at"`
	StatusCode int           `json:"status_code,omitempty"` // 0 if no response came
	Error      string        `json:"error,omitempty"`       // why it failed, without the URL
	Duration   time.Duration `json:"duration"`
}

// DeliveryOutcome is what FinishDelivery records.
type DeliveryOutcome struct {
	Attempt   DeliveryAttempt
	Delivered bool
	// NextAttempt is when to try again; nil gives the delivery up (status
	// failed) unless it was delivered.
	NextAttempt *time.Time
}

// WebhookStore keeps webhook endpoints, the outbox of events and their
// deliveries. The events of key changes (created, revoked, rotated,
// leaked) are written by the KeyStore methods that record the audit
// events, in the same transaction, with one delivery for each enabled
// endpoint of the key's account and environment subscribed to the type:
// a change committed has its deliveries committed.
// Implementations are safe for concurrent use.
type WebhookStore interface {
	// CreateWebhookEndpoint stores e and the audit events given,
	// atomically.
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint, events ...*AuditEvent) error
	// WebhookEndpoint returns the endpoint id in scope s, its secret
	// included. Returns ENotFound if it does not exist, was deleted, or
	// is outside s.
	WebhookEndpoint(ctx context.Context, s Scope, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints returns a page of the endpoints in scope s,
	// newest first, and whether more follow. Returns EParameterInvalid on
	// "starting_after" or "ending_before" as ListCandidates does.
	ListWebhookEndpoints(ctx context.Context, s Scope, p Page) ([]*WebhookEndpoint, bool, error)
	// UpdateWebhookEndpoint stores e's URL, description, events and
	// enabled flag, and the audit events given, atomically. Enabling an
	// endpoint clears FailingSince. Returns ENotFound as WebhookEndpoint
	// does.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint, events ...*AuditEvent) error
	// DeleteWebhookEndpoint deletes the endpoint id in scope s and its
	// pending deliveries, and records the audit events given,
	// atomically. Its id stays valid as a list cursor. Returns ENotFound
	// as WebhookEndpoint does.
	DeleteWebhookEndpoint(ctx context.Context, s Scope, id string, events ...*AuditEvent) error

	// ListDeliveries returns a page of the deliveries to endpoint
	// endpointID in scope s, newest first, and whether more follow.
	// Returns ENotFound if the endpoint is not in s, and
	// EParameterInvalid on a cursor that is not one of its deliveries.
	ListDeliveries(ctx context.Context, s Scope, endpointID string, p Page) ([]*Delivery, bool, error)
	// Delivery returns the delivery deliveryID of the endpoint endpointID
	// in scope s, with its payload. Returns ENotFound if the endpoint is
	// not in s or the delivery is not one of its.
	Delivery(ctx context.Context, s Scope, endpointID, deliveryID string) (*Delivery, error)
	// QueueWebhookEvent stores ev, of the endpoint endpointID's scope,
	// and one delivery of it, due at once, to that endpoint only, whatever
	// event types it subscribes to, and returns the delivery. Returns
	// ENotFound if the endpoint is not in ev's account and environment.
	QueueWebhookEvent(ctx context.Context, endpointID string, ev *WebhookEvent) (*Delivery, error)
	// ResendDelivery makes a new delivery, due at once, of the event of
	// the delivery deliveryID (the same event id and payload) to the
	// endpoint endpointID in scope s, and returns it. Returns ENotFound
	// as Delivery does.
	ResendDelivery(ctx context.Context, s Scope, endpointID, deliveryID string) (*Delivery, error)
	// RollWebhookSecret makes e.Secret the secret of the endpoint e
	// names, and records the audit events given, atomically. The secret
	// it replaces, as stored, keeps signing until
	// e.PreviousSecretExpires, if set (a secret a former roll kept stops
	// then); not at all if nil. Returns ENotFound as WebhookEndpoint
	// does.
	RollWebhookSecret(ctx context.Context, e *WebhookEndpoint, events ...*AuditEvent) error

	// EmitWebhookEvent stores ev, with one delivery for each enabled
	// endpoint of its account and environment subscribed to its type,
	// due at once. A non-empty dedupe names the event (such as
	// "api_key.expiring_soon:key_…:7d"): an event of a name already
	// stored, by any instance, is not stored again, and emitted is false.
	EmitWebhookEvent(ctx context.Context, ev *WebhookEvent, dedupe string) (emitted bool, err error)
	// ExpiringKeys returns up to 1,000 unrevoked keys, of every account,
	// that expire after from and no later than to, whose lifetime
	// (Expires - Created) is longer than minLifetime, and that have no
	// event named dedupePrefix followed by the key's id stored yet.
	ExpiringKeys(ctx context.Context, from, to time.Time, minLifetime time.Duration, dedupePrefix string) ([]*Key, error)

	// ClaimDeliveries leases up to max pending deliveries due at now, of
	// enabled endpoints, for lease: no other claim, by any instance,
	// gets them until the lease ends or FinishDelivery records them.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*Delivery, error)
	// FinishDelivery records an attempt of the claimed delivery d and its
	// outcome, and updates its endpoint's FailingSince: cleared by a
	// success, set by a failure if unset. It returns the endpoint's
	// FailingSince after the change. An attempt under a lease that has
	// ended and been claimed again records nothing.
	FinishDelivery(ctx context.Context, d *Delivery, o DeliveryOutcome) (failingSince *time.Time, err error)
	// PruneWebhooks deletes up to 10,000 deliveries created before
	// before, whatever their status, and the events created before it
	// that have no delivery left, and returns how many rows it deleted.
	PruneWebhooks(ctx context.Context, before time.Time) (int, error)
}

// WebhookRetention is how long deliveries, with their attempts, and
// events are kept: long after their last retry (WebhookGiveUp), and after
// the keys an expiry notice was about have expired.
const WebhookRetention = 30 * 24 * time.Hour
