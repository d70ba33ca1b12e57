package pihu

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Limits of a key's metadata: a JSON object of at most MaxMetadataBytes
// once compacted, with at most MaxMetadataMembers top-level members.
const (
	MaxMetadataBytes   = 4096
	MaxMetadataMembers = 50
)

// ValidateMetadata checks a key's metadata as given (param names the
// field, "metadata" or "keys[3].metadata") and returns it compacted, as it
// is stored and shown: a JSON object of at most MaxMetadataBytes, with at
// most MaxMetadataMembers members and no member name twice. JSON null is
// no metadata (nil). Returns EParameterInvalid on param otherwise.
func ValidateMetadata(raw json.RawMessage, param string) (json.RawMessage, error) {
	raw = bytes.Trim(raw, " \t\r\n") // JSON's whitespace, no other
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return ParamErrorf(EParameterInvalid, param, format, args...)
	}
	if raw[0] != '{' || !json.Valid(raw) || !utf8.Valid(raw) {
		return nil, bad("\"metadata\" must be a JSON object, such as {\"plan\": \"pro\"}, or null.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.Token() // the '{' checked above
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad("\"metadata\" must be a JSON object, such as {\"plan\": \"pro\"}, or null.")
		}
		name, _ := t.(string)
		if seen[name] {
			return nil, bad("\"metadata\" has the member %q twice; give each member once.", name)
		}
		seen[name] = true
		if len(seen) > MaxMetadataMembers {
			return nil, bad("\"metadata\" has more than %d members; keep at most %d.", MaxMetadataMembers, MaxMetadataMembers)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, bad("\"metadata\" must be a JSON object, such as {\"plan\": \"pro\"}, or null.")
		}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, bad("\"metadata\" must be a JSON object, such as {\"plan\": \"pro\"}, or null.")
	}
	if out.Len() > MaxMetadataBytes {
		return nil, bad("\"metadata\" is %d bytes long once compacted; at most %d are allowed.", out.Len(), MaxMetadataBytes)
	}
	return json.RawMessage(out.Bytes()), nil
}

// Refill intervals.
const (
	RefillDaily   = "daily"
	RefillMonthly = "monthly"
)

// MaxCredits bounds remaining credits and refill amounts, far below what
// would overflow when credits are added.
const MaxCredits = 1_000_000_000_000

// Refill is how a key's credits come back: at 00:00 UTC every day, or on
// day Day of every month (the month's last day when it has fewer days),
// its remaining credits are set to Amount (not increased by it: unused
// credits do not accumulate).
type Refill struct {
	Interval string // RefillDaily or RefillMonthly
	Amount   int64  // 1 to MaxCredits
	Day      int    // 1 to 31 for RefillMonthly; 0 for RefillDaily
}

// Validate checks r; param names the field ("refill"). A monthly refill
// without a day refills on the 1st. Returns EParameterInvalid on param.
func (r *Refill) Validate(param string) error {
	switch r.Interval {
	case RefillDaily:
		if r.Day != 0 {
			return ParamErrorf(EParameterInvalid, param, "A daily refill has no \"day\"; give \"day\" only with \"interval\": \"monthly\".")
		}
	case RefillMonthly:
		if r.Day == 0 {
			r.Day = 1
		}
		if r.Day < 1 || r.Day > 31 {
			return ParamErrorf(EParameterInvalid, param, "\"day\" must be a day of the month from 1 to 31 (31 means the last day of every month).")
		}
	default:
		return ParamErrorf(EParameterInvalid, param, "\"interval\" must be \"daily\" or \"monthly\".")
	}
	if r.Amount < 1 || r.Amount > MaxCredits {
		return ParamErrorf(EParameterInvalid, param, "\"amount\" must be a whole number from 1 to %d.", int64(MaxCredits))
	}
	return nil
}

// at is the refill of the month of year y and month m, for a monthly
// refill: day Day, or the month's last day if it has fewer.
func (r *Refill) at(y int, m time.Month) time.Time {
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y, m, min(r.Day, last), 0, 0, 0, 0, time.UTC)
}

// Last is the latest refill at or before now.
func (r *Refill) Last(now time.Time) time.Time {
	now = now.UTC()
	y, m, d := now.Date()
	if r.Interval == RefillDaily {
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	if t := r.at(y, m); !t.After(now) {
		return t
	}
	return r.at(y, m-1)
}

// Next is the first refill after now.
func (r *Refill) Next(now time.Time) time.Time {
	now = now.UTC()
	y, m, d := now.Date()
	if r.Interval == RefillDaily {
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	}
	if t := r.at(y, m); t.After(now) {
		return t
	}
	return r.at(y, m+1)
}

// Credits are a key's usage credits: each request made with it, and each
// verification of it, spends some; at zero it is refused (EUsageExceeded)
// until a refill or a change through the API. A key without Credits (nil)
// is not counted.
type Credits struct {
	Remaining int64   // as stored, before any refill due since Refilled
	Refill    *Refill // nil: never refilled
	// Refilled is when Remaining was last set: by the key's creation, a
	// change, or a refill. A refill due after it applies at the next
	// spend (lazily), so no job has to run at midnight.
	Refilled time.Time
}

// Clone returns a copy of c (nil for nil).
func (c *Credits) Clone() *Credits {
	if c == nil {
		return nil
	}
	out := *c
	if c.Refill != nil {
		r := *c.Refill
		out.Refill = &r
	}
	return &out
}

// MaxRotations bounds the chain of successors a spend follows to find
// the key holding the credits (see KeyStore's SpendCredits): a key
// rotates once, and each link lives only for a grace period.
const MaxRotations = 16

// At returns the credits left at now, the refill due since Refilled
// included, and the Refilled to store with them.
func (c *Credits) At(now time.Time) (remaining int64, refilled time.Time) {
	if c.Refill != nil {
		if last := c.Refill.Last(now); c.Refilled.Before(last) {
			return c.Refill.Amount, last
		}
	}
	return c.Remaining, c.Refilled
}

// Left is the credits left at now, the refill due since Refilled
// included (At's remaining).
func (c *Credits) Left(now time.Time) int64 {
	n, _ := c.At(now)
	return n
}

// NextRefill is the next refill after now, or nil if c has no refill.
func (c *Credits) NextRefill(now time.Time) *time.Time {
	if c == nil || c.Refill == nil {
		return nil
	}
	t := c.Refill.Next(now)
	return &t
}

// ValidateCredits checks a number of credits given as param ("remaining",
// "add"): 0 to MaxCredits. Returns EParameterInvalid on param.
func ValidateCredits(n int64, param string) error {
	if n < 0 || n > MaxCredits {
		return ParamErrorf(EParameterInvalid, param, "\"%s\" must be a whole number from 0 to %d.", param, int64(MaxCredits))
	}
	return nil
}

// Spend is the outcome of spending a key's credits.
type Spend struct {
	// OK is whether the credits were there, and are now spent.
	OK bool
	// Remaining is what is left, after the spend if OK.
	Remaining int64
	// NextRefill is the next refill, nil without one.
	NextRefill *time.Time
	// Refilled is when the balance was last set or refilled, as stored
	// after the spend (see Credits.Refilled): what a lease gives back to
	// (Credits.GiveBack).
	Refilled time.Time
}

// Spend checks that c, at now, holds cost credits (at least one when cost
// is 0, which spends nothing: a check that the key is not exhausted), and
// returns the outcome and the credits to store if OK. Stores call it
// inside the transaction that holds the key's row, so that two spends
// never both see the same credits.
func (c *Credits) Spend(cost int64, now time.Time) (Spend, Credits) {
	remaining, refilled := c.At(now)
	out := Spend{Remaining: remaining, NextRefill: c.NextRefill(now), Refilled: c.Refilled}
	if remaining < max(cost, 1) {
		return out, *c
	}
	out.Refilled = refilled
	out.OK, out.Remaining = true, remaining-cost
	return out, Credits{Remaining: remaining - cost, Refill: c.Refill, Refilled: refilled}
}

// GiveBack returns the credits to store once n credits of a lease (a
// process spends cost+n at once, then the n request by request without
// asking the store) that were not used are given back at now; and false,
// storing nothing, if they no longer belong to the balance: the credits
// were set (changed through the API) or refilled since the lease, whose
// spend left them with Refilled leased (Spend.Refilled), or a refill is
// due since. Unused credits of a lease taken before a refill are not
// carried over, as unused credits are not at a refill; a balance set
// after the lease is the balance. It never goes over MaxCredits.
func (c *Credits) GiveBack(n int64, leased, now time.Time) (Credits, bool) {
	remaining, refilled := c.At(now)
	if n <= 0 || !refilled.Equal(leased) {
		return *c, false
	}
	return Credits{Remaining: min(remaining+n, MaxCredits), Refill: c.Refill, Refilled: refilled}, true
}

// CreditStore spends keys' credits, and records the leases processes
// take of them (CreditLeaseStore). Implementations are safe for
// concurrent use, and exact across every process that shares the
// database: no two spends see the same credits.
type CreditStore interface {
	CreditLeaseStore

	// SpendCredits spends cost credits of key id at now, after the refill
	// due by then if any (see Credits.Spend), in one transaction. A key
	// without credits spends nothing and is OK with Remaining -1. A key
	// that was rotated spends its successor's credits (the successor's
	// successor's, if that was rotated too, up to MaxRotations keys):
	// RotateKey gives the successor the old key's credits, and the two
	// share one balance for the grace period.
	// Returns ENotFound if the key does not exist.
	//
	// An identity's id ("idt_…") spends the identity's credits, which all
	// its keys share, likewise (no rotation applies), as do the lease
	// methods (CreditLeaseStore); an identity without credits is OK with
	// Remaining -1, and a deleted one is ENotFound.
	SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (Spend, error)

	// RefundCredits gives n credits back to key or identity id at now, in
	// one transaction, after a spend that answered sp (OK) whose request
	// was then refused for another balance (a key's own credits short
	// after its identity's were spent): Credits.GiveBack with
	// sp.Refilled, so nothing goes back to a balance set or refilled
	// since. It reports whether they went back; a key or identity that no
	// longer exists, or counts no credits, takes nothing.
	RefundCredits(ctx context.Context, id string, n int64, sp Spend, now time.Time) (bool, error)
}
