package pihu

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// LeakPolicy is what an account has done with its keys that a secret
// scanner (GitHub's secret scanning) reports found in public.
type LeakPolicy string

const (
	// LeakRevoke revokes a reported key at once: a key seen in public is
	// compromised. It is every account's policy until changed.
	LeakRevoke LeakPolicy = "revoke"
	// LeakFlag keeps a reported key working, and records the report (an
	// api_key.leaked audit and webhook event, and the key's Leaked) for
	// the account to act on.
	LeakFlag LeakPolicy = "flag"
)

// Valid reports whether p is LeakRevoke or LeakFlag.
func (p LeakPolicy) Valid() bool { return p == LeakRevoke || p == LeakFlag }

// ParseLeakPolicy parses s as a leak policy. Returns EParameterInvalid on
// param otherwise.
func ParseLeakPolicy(s, param string) (LeakPolicy, error) {
	if p := LeakPolicy(s); p.Valid() {
		return p, nil
	}
	return "", ParamErrorf(EParameterInvalid, param,
		"%q is not a leak policy: use \"revoke\" (revoke a key found in public at once) or \"flag\" (keep it working, and notify).", MaskSecrets(s))
}

// ActorGitHubSecretScanning is the actor of the api_key.leaked events
// that GitHub's secret scanning reports make.
const ActorGitHubSecretScanning = "github_secret_scanning"

// Limits of what a report says about where a key was found: longer text
// is cut (at a character boundary).
const (
	maxLeakURL    = 2048
	maxLeakSource = 100
)

// Leak is a report that a key was found where others can read it: who
// said so, where, and when. It never holds the key.
type Leak struct {
	// At is when the report was received.
	At time.Time `json:"at"`
	// By is who reported it: ActorGitHubSecretScanning, or ActorAnonymous
	// for a report to /v1/auth/leaked-keys.
	By string `json:"by"`
	// URL is where the key was found ("" when not said).
	URL string `json:"url"`
	// Source is the kind of place, as the scanner names it (GitHub's
	// "content", "commit", "issue_comment"…; "" when not said).
	Source string `json:"source"`
	// Revoked is whether the report revoked the key; false when the key
	// was flagged and kept working (LeakFlag).
	Revoked bool `json:"revoked"`
}

// NewLeak is the report by by, at the time at, that a key was found at
// url, in a place of kind source. Any key in url or source is masked
// (MaskSecrets), control characters are dropped and both are cut to a
// reasonable length, so that a report can neither store a key nor
// disturb a log or a page.
func NewLeak(by, url, source string, at time.Time) Leak {
	return Leak{At: Timestamp(at), By: by, URL: cleanLeakText(url, maxLeakURL), Source: cleanLeakText(source, maxLeakSource)}
}

func cleanLeakText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return -1
		}
		return r
	}, MaskSecrets(s))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// LeakOutcome is what a report of a leak did to a key.
type LeakOutcome int

const (
	// LeakIgnored: nothing. The key was already revoked or expired, was
	// already flagged for the same place, or is not stored.
	LeakIgnored LeakOutcome = iota
	// LeakRevoked: the key was revoked.
	LeakRevoked
	// LeakFlagged: the key was flagged, and keeps working.
	LeakFlagged
)

// LeakAction decides what the report l does to key k, as stored, under
// its account's policy: nothing to a key that no longer works for good
// (revoked or expired at l.At), or that is flagged already for the same
// place (a report sent again); otherwise revoke it if force or the policy
// is LeakRevoke, and else flag it. A report that is forced (someone holding
// the key asks to revoke it) revokes whatever the policy. A disabled key
// is not ignored: it could be enabled again, so its leak is acted on as an
// enabled key's.
func (l Leak) LeakAction(k *Key, policy LeakPolicy, force bool) LeakOutcome {
	if ok, code := k.Active(l.At); !ok && code != EDisabledAPIKey {
		return LeakIgnored
	}
	if force || policy != LeakFlag {
		return LeakRevoked
	}
	if p := k.Leaked; p != nil && p.URL == l.URL && p.Source == l.Source && p.By == l.By {
		return LeakIgnored
	}
	return LeakFlagged
}

// NewLeakEvent is the api_key.leaked audit event of the report l about
// key k, received from client address ip.
func NewLeakEvent(l Leak, ip string, k *Key) *AuditEvent {
	ev := NewAuditEvent(ActionKeyLeaked, l.By, ip, k, l.At)
	ev.URL, ev.Source = l.URL, l.Source
	return ev
}

// LeakReport is one key reported leaked, as KeyStore.RecordLeaks records
// it.
type LeakReport struct {
	AccountID string
	KeyID     string
	Leak      Leak
	// IP is the client address the report came from.
	IP string
	// Force revokes the key whatever its account's policy (see
	// Leak.LeakAction).
	Force bool
}

// LeakStore records reports of leaked keys. Implementations are safe for
// concurrent use.
type LeakStore interface {
	// RecordLeaks handles the reports given, in one transaction: for
	// each, it reads the key and its account's policy as they are inside
	// the transaction, asks Leak.LeakAction what to do, and revokes or
	// flags the key (storing the Leak on it, Revoked set as the outcome
	// is) with its api_key.leaked event (NewLeakEvent), or does nothing.
	// A key reported twice, in one call or two, is handled once: the
	// second report finds it revoked, or flagged for the same place. It
	// returns the outcome of each report, in order; a report of a key
	// that is not stored (or not of the account named) is LeakIgnored.
	RecordLeaks(ctx context.Context, reports []LeakReport) ([]LeakOutcome, error)

	// SetLeakPolicy sets the leak policy of account id and records the
	// audit events given, in one transaction, and returns the account as
	// changed. Returns ENotFound if there is no such account, and
	// EParameterInvalid on "leak_policy" if p is not valid.
	SetLeakPolicy(ctx context.Context, id string, p LeakPolicy, events ...*AuditEvent) (*Account, error)
}

// ActionAccountUpdated is the audit action of a change to an account's
// settings; its target is the account, and Changes names the settings
// changed (such as "leak_policy").
const ActionAccountUpdated = "account.updated"

// NewAccountEvent returns the event of actor, at client address ip,
// changing the settings changes of account a at the time at. It belongs
// to no environment: only lists of both show it.
func NewAccountEvent(actor, ip string, a *Account, changes []string, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID:        NewID(PrefixEvent),
		AccountID: a.ID,
		Action:    ActionAccountUpdated,
		Actor:     actor,
		Target:    a.ID,
		IP:        ip,
		Created:   Timestamp(at),
		Changes:   changes,
	}
}

// ChangeLeakPolicy sets account a's leak policy to p through store, the
// one way every door (the API, the dashboard) changes it: if p is a's
// policy already, nothing is written or recorded; otherwise the change is
// recorded as account.updated by actor (a key or user id) from ip, at
// the time at. It returns the account as it is after, and whether it
// changed. Returns EParameterInvalid on "leak_policy" if p is not valid,
// and SetLeakPolicy's errors.
func ChangeLeakPolicy(ctx context.Context, store LeakStore, a *Account, p LeakPolicy, actor, ip string, at time.Time) (*Account, bool, error) {
	if _, err := ParseLeakPolicy(string(p), "leak_policy"); err != nil {
		return nil, false, err
	}
	current := a.LeakPolicy
	if current == "" {
		current = LeakRevoke
	}
	if p == current {
		return a, false, nil
	}
	changed, err := store.SetLeakPolicy(ctx, a.ID, p, NewAccountEvent(actor, ip, a, []string{"leak_policy"}, at))
	if err != nil {
		return nil, false, err
	}
	return changed, true, nil
}
