package pihu

import (
	"context"
	"time"
)

// CreditLease is a lease of a key's credits as the store records it: an
// instance (a process spending credits from memory, see
// auth.CreditLeases) spent them from the key's balance at once, and
// holds them to hand out request by request.
//
// Held is never more than the instance holds unspent: the instance lowers
// it (CreditStore.ReportCreditLease) before it spends what it lowered it
// by, so that whatever is recorded may go back to the key without any
// credit being spent twice. If the instance dies, its leases expire and
// what they hold goes back (CreditStore.ExpireCreditLeases); what it had
// reported as spent and had not spent (at most what it may spend between
// two reports) is lost.
type CreditLease struct {
	KeyID    string    // the key as the instance spends it (a rotated key's credits are its successor's)
	Instance string    // the instance holding the lease
	Held     int64     // credits the instance holds, as it last reported
	Refilled time.Time // Spend.Refilled of the spend that took it: the balance it goes back to
	Expires  time.Time // when it may be returned to the key, unless renewed first
}

// Expired reports whether l may be returned to its key at now.
func (l *CreditLease) Expired(now time.Time) bool {
	return !now.Before(l.Expires)
}

// LeaseRequest is a spend that takes a lease (CreditStore.LeaseCredits):
// the request's Cost, and Lease credits more that the instance holds.
type LeaseRequest struct {
	KeyID    string
	Instance string
	// Cost is the request's cost, spent now.
	Cost int64
	// Lease is how many credits more the instance takes, to spend later.
	Lease int64
	// Unreported is how many of Lease the instance may spend before it
	// reports again: the lease is recorded holding Lease − Unreported.
	Unreported int64
	// Unspent is what the instance still holds of its previous lease of
	// the key, given back first if that lease is still recorded (it was
	// neither returned nor expired): the new lease replaces it.
	Unspent int64
	// Expires is when the lease may be returned, unless renewed first.
	Expires time.Time
}

// Validate checks r. Returns EParameterInvalid naming the field.
func (r *LeaseRequest) Validate() error {
	switch {
	case r.KeyID == "":
		return ParamErrorf(EParameterInvalid, "key_id", "A lease needs the key's id.")
	case r.Instance == "":
		return ParamErrorf(EParameterInvalid, "instance", "A lease needs the instance's id.")
	case r.Cost < 0 || r.Cost > MaxCredits:
		return ParamErrorf(EParameterInvalid, "cost", "\"cost\" must be from 0 to %d.", int64(MaxCredits))
	case r.Lease < 1 || r.Lease > MaxCredits:
		return ParamErrorf(EParameterInvalid, "lease", "\"lease\" must be from 1 to %d.", int64(MaxCredits))
	case r.Unreported < 0 || r.Unreported > r.Lease:
		return ParamErrorf(EParameterInvalid, "unreported", "\"unreported\" must be from 0 to the lease, %d.", r.Lease)
	case r.Unspent < 0 || r.Unspent > MaxCredits:
		return ParamErrorf(EParameterInvalid, "unspent", "\"unspent\" must be from 0 to %d.", int64(MaxCredits))
	}
	return nil
}

// LeaseSealed reports whether a lease taken at now by a spend that
// answered sp can never be given back: it was taken in the second its
// balance was set or refilled, and stores keep seconds, so a change later
// in that second would leave the same Refilled and could not be told from
// it (see Credits.GiveBack). Such a lease is recorded holding nothing.
func LeaseSealed(sp Spend, now time.Time) bool {
	return !now.Truncate(time.Second).After(sp.Refilled)
}

// Held is what a lease taken at now by r, whose spend answered sp, is
// recorded to hold: Lease − Unreported, or nothing if it is sealed
// (LeaseSealed).
func (r *LeaseRequest) Held(sp Spend, now time.Time) int64 {
	if LeaseSealed(sp, now) {
		return 0
	}
	return r.Lease - r.Unreported
}

// TakeLease applies r to c at now, as a store does inside the
// transaction that holds the key's row and the lease's: prev, the lease
// of r.Instance on the key as recorded (nil if none), has r.Unspent
// given back to it (Credits.GiveBack, to the balance it was taken
// against), then r.Cost + r.Lease are spent (Credits.Spend). It returns
// the spend's outcome, the credits to store, and the lease to record in
// place of prev: nil if the spend was refused (prev is deleted all the
// same, what it held given back).
func (c *Credits) TakeLease(r *LeaseRequest, prev *CreditLease, now time.Time) (Spend, Credits, *CreditLease) {
	cur := *c
	if prev != nil {
		if next, ok := cur.GiveBack(r.Unspent, prev.Refilled, now); ok {
			cur = next
		}
	}
	sp, next := cur.Spend(r.Cost+r.Lease, now)
	if !sp.OK {
		return sp, cur, nil
	}
	return sp, next, &CreditLease{KeyID: r.KeyID, Instance: r.Instance, Held: r.Held(sp, now), Refilled: sp.Refilled, Expires: r.Expires}
}

// CreditLeaseStore records leases of keys' credits (see CreditLease), so
// that what an instance that died held goes back to its keys.
// Implementations are safe for concurrent use, and exact across every
// process sharing the database: each lease is returned at most once,
// whoever returns it.
type CreditLeaseStore interface {
	// LeaseCredits spends r.Cost + r.Lease credits of key r.KeyID at now,
	// as SpendCredits does, and records the lease (Credits.TakeLease), in
	// one transaction: the instance's previous lease of the key, if still
	// recorded, is replaced, its unspent credits given back first. A
	// refused spend records no lease, and deletes the previous one. A key
	// without credits records none either (OK with Remaining -1).
	// Returns EParameterInvalid if r is invalid, ENotFound if the key
	// does not exist.
	LeaseCredits(ctx context.Context, r LeaseRequest, now time.Time) (Spend, error)

	// ReportCreditLease records that the lease of instance on key id
	// holds held credits, never raising what is recorded (a lower value
	// stays), and that it expires at expires. It reports false, and
	// records nothing, if no such lease is recorded: it was returned, or
	// expired and returned by ExpireCreditLeases.
	ReportCreditLease(ctx context.Context, id, instance string, held int64, expires time.Time) (bool, error)

	// RenewCreditLeases moves the expiry of the leases instance holds of
	// the keys ids to expires, in one transaction, and returns them as
	// recorded (a key of ids without a lease of instance is left out).
	// A lease the instance no longer lists (it lost track of it, after an
	// error) is not renewed, and expires.
	RenewCreditLeases(ctx context.Context, instance string, ids []string, expires time.Time) ([]CreditLease, error)

	// ReturnCreditLease gives unspent credits of the lease of instance on
	// key id back to the key (Credits.GiveBack, to the balance the lease
	// was taken against) and deletes the lease, in one transaction. It
	// reports false, giving nothing back, if no such lease is recorded:
	// it was returned already, or expired and returned by
	// ExpireCreditLeases.
	ReturnCreditLease(ctx context.Context, id, instance string, unspent int64, now time.Time) (bool, error)

	// ExpireCreditLeases returns what the leases expired at now hold to
	// their keys (Credits.GiveBack, to the balance each was taken
	// against; a key that no longer exists takes nothing) and deletes
	// them, at most limit leases, each in a transaction of its own that
	// deletes it only if it is still recorded and expired: of two callers
	// at once, each lease is returned by one. It returns how many it
	// deleted.
	ExpireCreditLeases(ctx context.Context, now time.Time, limit int) (int, error)
}

// ValidateLeaseHeld checks a lease's held credits as reported. Returns
// EParameterInvalid.
func ValidateLeaseHeld(held int64) error {
	if held < 0 || held > MaxCredits {
		return ParamErrorf(EParameterInvalid, "held", "\"held\" must be from 0 to %d.", int64(MaxCredits))
	}
	return nil
}
