package pihu

import (
	"encoding/json"
	"time"
)

// KeyItem is a key as the API shows it in lists, gets and webhook events:
// never the secret. It is the one place a key is shaped for the outside,
// so that the HTTP API and the webhook payloads (built by the stores
// inside the transaction of the change) cannot drift apart.
type KeyItem struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Created     string   `json:"created"`
	Expires     *string  `json:"expires"`
	LastUsed    *string  `json:"last_used"`
	Permissions []string `json:"permissions"`
	// Roles are the ids of the roles the key holds, whose permissions it
	// holds too; [] for none.
	Roles       []string `json:"roles"`
	Environment string   `json:"environment"`
	Hint        *string  `json:"hint"`       // null for an imported key
	RateLimit   *string  `json:"rate_limit"` // null: the server's default
	AllowedIPs  []string `json:"allowed_ips"`
	// CreatedBy is the id of the key that created this one; null for an
	// owner key, and for a test key created by a live key when a test
	// key (or a test webhook endpoint) is shown it.
	CreatedBy *string `json:"created_by"`
	// IdentityID is the id of the key's identity, whose limits it
	// shares; null: none.
	IdentityID *string `json:"identity_id"`
	// Enabled is false for a key disabled with PATCH: refused everywhere
	// (disabled_api_key) until it is enabled again.
	Enabled bool `json:"enabled"`
	// Leaked is the last report that the key was found in public which
	// revoked or flagged it; null if none did.
	Leaked *Leak `json:"leaked"`
	KeyExtras
}

// KeyExtras are what a key carries besides its rights, as every answer
// (and event) showing a key shows them.
type KeyExtras struct {
	// RateLimits are the key's named limits, names to limits
	// ({"tokens": "50000/d"}); {} for none.
	RateLimits map[string]string `json:"ratelimits"`
	// Metadata is the key's JSON object; null: none.
	Metadata json.RawMessage `json:"metadata"`
	// Remaining is the credits left (a refill due included); null: the
	// key's use is not counted.
	Remaining *int64 `json:"remaining"`
	// Refill is how the credits come back; null: never.
	Refill *RefillJSON `json:"refill"`
	// NextRefill is when they next do; null without a refill.
	NextRefill *string `json:"next_refill"`
	// Imported is true for a key imported by the hash of its secret.
	Imported bool `json:"imported"`
}

// RefillJSON is a key's refill as the API shows and takes it.
type RefillJSON struct {
	Interval string `json:"interval"`
	Amount   int64  `json:"amount"`
	// Day is the day of the month of a monthly refill; null for daily.
	Day *int `json:"day"`
}

// NewKeyExtras is k's metadata, credits at now, and import marker.
func NewKeyExtras(k *Key, now time.Time) KeyExtras {
	x := KeyExtras{RateLimits: k.RateLimits.Map(), Metadata: k.Metadata, Imported: k.Imported}
	x.Remaining, x.Refill, x.NextRefill = CreditsView(k.Credits, now)
	return x
}

// CreditsView is c (a key's or an identity's credits) at now as answers
// show it: the credits left (a refill due included), the refill and the
// next refill; nil for each that c does not have (c nil: not counted).
func CreditsView(c *Credits, now time.Time) (remaining *int64, refill *RefillJSON, next *string) {
	if c == nil {
		return nil, nil, nil
	}
	n, _ := c.At(now)
	remaining, next = &n, formatTimePtr(c.NextRefill(now))
	if r := c.Refill; r != nil {
		refill = &RefillJSON{Interval: r.Interval, Amount: r.Amount}
		if r.Interval == RefillMonthly {
			day := r.Day
			refill.Day = &day
		}
	}
	return remaining, refill, next
}

// NewKeyItem is k as lists show it; now is when its credits are counted
// (a refill due by then included).
func NewKeyItem(k *Key, now time.Time) KeyItem {
	return KeyItem{
		ID: k.ID, Name: k.Name, Created: FormatTime(k.Created), Expires: formatTimePtr(k.Expires),
		LastUsed: formatTimePtr(k.LastUsed), Permissions: k.Permissions.Strings(), Roles: RoleList(k.Roles),
		Environment: string(k.Environment), Enabled: !k.Disabled, Hint: optionalString(k.Hint), RateLimit: optionalString(k.RateLimit.String()),
		AllowedIPs: k.AllowedIPs.Strings(), CreatedBy: optionalString(k.CreatedBy), IdentityID: KeyIdentityID(k), Leaked: k.Leaked,
		KeyExtras: NewKeyExtras(k, now),
	}
}

// KeyIdentityID is the id of k's identity as every answer shows it: null
// for none.
func KeyIdentityID(k *Key) *string {
	if k.Identity == nil {
		return nil
	}
	return &k.Identity.ID
}

// RoleList is a key's role ids as every answer shows them: [] for none,
// never null.
func RoleList(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// FormatTime formats t as the API shows every time: RFC 3339, UTC, to the
// second.
func FormatTime(t time.Time) string { return Timestamp(t).Format(time.RFC3339) }

func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := FormatTime(*t)
	return &s
}

// optionalString is s, or null when empty.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
