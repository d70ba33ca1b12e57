package pihu

import "time"

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
	Environment string   `json:"environment"`
	Hint        string   `json:"hint"`
	RateLimit   *string  `json:"rate_limit"` // null: the server's default
	AllowedIPs  []string `json:"allowed_ips"`
	// CreatedBy is the id of the key that created this one; null for an
	// owner key, and for a test key created by a live key when a test
	// key (or a test webhook endpoint) is shown it.
	CreatedBy *string `json:"created_by"`
}

// NewKeyItem is k as lists show it.
func NewKeyItem(k *Key) KeyItem {
	return KeyItem{
		ID: k.ID, Name: k.Name, Created: FormatTime(k.Created), Expires: formatTimePtr(k.Expires),
		LastUsed: formatTimePtr(k.LastUsed), Permissions: k.Permissions.Strings(),
		Environment: string(k.Environment), Hint: k.Hint, RateLimit: optionalString(k.RateLimit),
		AllowedIPs: k.AllowedIPs, CreatedBy: optionalString(k.CreatedBy),
	}
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
