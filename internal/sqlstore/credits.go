package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// CreditColumns are the columns of a key's credits, in the order of a
// Dialect's Credits scanner.
const CreditColumns = `remaining, refill_interval, refill_amount, refill_day, refilled`

// CreditArgs are the values of CreditColumns for c: all NULL for a key
// without credits.
func CreditArgs(d *Dialect, c *pihu.Credits) []any {
	if c == nil {
		return []any{nil, nil, nil, nil, nil}
	}
	out := []any{c.Remaining, nil, nil, nil, d.Time(c.Refilled)}
	if r := c.Refill; r != nil {
		out[1], out[2], out[3] = r.Interval, r.Amount, int64(r.Day)
	}
	return out
}

// LockCredits reads, FOR UPDATE where rows are locked, the credits that a
// spend of key id takes (nil for a key without credits), and the key
// holding them: id, or while id is in the grace period of a rotation its
// successor (and so on, up to pihu.MaxRotations keys). A rotated key and
// its successor share one balance, so a grace period doubles no credit.
// Each row is locked before its successor is looked for, so a rotation
// that committed while the transaction waited for the lock is followed:
// the old key's balance, copied by the rotation, is never spent again.
// Returns pihu.KeyIDNotFound if the key does not exist.
//
// An identity's id ("idt_…") names the identity's credits, which all its
// keys share: the identity's row is read (locked likewise), and a
// deleted identity does not exist.
func LockCredits(ctx context.Context, tx Tx, id string) (*pihu.Credits, string, error) {
	d := tx.Dialect()
	if pihu.IsIdentityID(id) {
		query := selectIdentityCredits
		if d.ForUpdate != "" {
			query = selectIdentityCreditsForUpdate
		}
		cur, err := d.Credits.Scan(tx.QueryRow(ctx, query, id))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", pihu.IdentityNotFound(id)
		}
		if err != nil {
			return nil, "", fmt.Errorf("credits of identity %s: %w", id, err)
		}
		return cur, id, nil
	}
	query := selectCredits // constants: the hot path builds no string
	if d.ForUpdate != "" {
		query = selectCreditsForUpdate
	}
	holder := id
	for i := range pihu.MaxRotations {
		cur, err := d.Credits.Scan(tx.QueryRow(ctx, query, holder))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, "", pihu.KeyIDNotFound(id)
		}
		if err != nil {
			return nil, "", fmt.Errorf("credits of key %s: %w", id, err)
		}
		if i == pihu.MaxRotations-1 {
			return cur, holder, nil
		}
		var next string
		err = tx.QueryRow(ctx, `SELECT id FROM api_keys WHERE rotated_from = ? ORDER BY created, id LIMIT 1`, holder).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			return cur, holder, nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("credits of key %s: %w", id, err)
		}
		holder = next
	}
	return nil, "", nil // not reached: the loop returns on its last round
}

// The reads of LockCredits, with the row lock (Dialect.ForUpdate) and
// without.
const (
	selectCredits          = `SELECT ` + CreditColumns + ` FROM api_keys WHERE id = ?`
	selectCreditsForUpdate = selectCredits + ` FOR UPDATE`

	selectIdentityCredits          = `SELECT ` + CreditColumns + ` FROM identities WHERE id = ? AND deleted IS NULL`
	selectIdentityCreditsForUpdate = selectIdentityCredits + ` FOR UPDATE`
)

// creditsTable is the table holding the credits of holder: a key's, or
// an identity's.
func creditsTable(holder string) string {
	if pihu.IsIdentityID(holder) {
		return "identities"
	}
	return "api_keys"
}

// Spend spends cost credits of key id at now, after the refill due by
// then, inside tx (see pihu.CreditStore.SpendCredits): the credits are
// read as LockCredits reads them, and written only if the spend is OK and
// changes them. The write is conditional all the same (remaining
// unchanged). A key without credits is OK with Remaining -1.
func Spend(ctx context.Context, tx Tx, id string, cost int64, now time.Time) (pihu.Spend, error) {
	cur, holder, err := LockCredits(ctx, tx, id)
	if err != nil {
		return pihu.Spend{}, err
	}
	if cur == nil {
		return pihu.Spend{OK: true, Remaining: -1}, nil
	}
	out, next := cur.Spend(cost, now)
	if !out.OK || cost == 0 && next.Refilled.Unix() == cur.Refilled.Unix() {
		return out, nil
	}
	n, err := tx.Exec(ctx, `UPDATE `+creditsTable(holder)+` SET remaining = ?, refilled = ? WHERE id = ? AND remaining = ?`,
		next.Remaining, tx.Dialect().Time(next.Refilled), holder, cur.Remaining)
	if err != nil {
		return pihu.Spend{}, err
	}
	if n != 1 {
		return pihu.Spend{}, fmt.Errorf("credits of key %s changed during the spend", id)
	}
	return out, nil
}

// storeCredits writes next as key holder's credits, if they differ from
// cur (as stored: to the second).
func storeCredits(ctx context.Context, tx Tx, holder string, cur *pihu.Credits, next pihu.Credits) error {
	if next.Remaining == cur.Remaining && next.Refilled.Unix() == cur.Refilled.Unix() {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE `+creditsTable(holder)+` SET remaining = ?, refilled = ? WHERE id = ?`,
		next.Remaining, tx.Dialect().Time(next.Refilled), holder)
	return err
}

// Leases of credits (pihu.CreditLeaseStore). A transaction that touches a
// key's credits locks the key's row (LockCredits) before the lease's, as
// every spend does, so that two of them never wait for each other the
// other way round; a lease is deleted with DELETE … RETURNING, so that of
// two transactions returning it, one finds it and the other finds it
// gone. Where the transaction is WriteLocked, no other reads a key's
// credits or a lease between this one's read and its write. The rules
// (what is given back, what a lease holds) are pihu's; these methods only
// read and write rows.

// LeaseCredits spends r.Cost + r.Lease credits of key r.KeyID and records
// the lease, in one transaction (see pihu.CreditLeaseStore).
func (s Store) LeaseCredits(ctx context.Context, r pihu.LeaseRequest, now time.Time) (pihu.Spend, error) {
	if err := r.Validate(); err != nil {
		return pihu.Spend{}, err
	}
	return write(ctx, s, "lease credits of key "+r.KeyID, r.KeyID, func(ctx context.Context, tx Tx) (pihu.Spend, error) {
		cur, holder, err := LockCredits(ctx, tx, r.KeyID)
		if err != nil {
			return pihu.Spend{}, err
		}
		prev, err := deleteLease(ctx, tx, r.KeyID, r.Instance, nil)
		if err != nil {
			return pihu.Spend{}, err
		}
		if cur == nil {
			return pihu.Spend{OK: true, Remaining: -1}, nil
		}
		out, next, lease := cur.TakeLease(&r, prev, now)
		if err := storeCredits(ctx, tx, holder, cur, next); err != nil {
			return pihu.Spend{}, err
		}
		if lease == nil {
			return out, nil
		}
		d := tx.Dialect()
		_, err = tx.Exec(ctx, `INSERT INTO credit_leases (key_id, instance, held, refilled, expires_at) VALUES (?, ?, ?, ?, ?)`,
			lease.KeyID, lease.Instance, lease.Held, d.Time(lease.Refilled), d.LeaseTime(lease.Expires))
		return out, err
	})
}

// ReportCreditLease lowers what the lease of instance on key id holds to
// held (never raising it) and moves its expiry to expires.
func (s Store) ReportCreditLease(ctx context.Context, id, instance string, held int64, expires time.Time) (bool, error) {
	if err := pihu.ValidateLeaseHeld(held); err != nil {
		return false, err
	}
	return write(ctx, s, "report lease of key "+id, "", func(ctx context.Context, tx Tx) (bool, error) {
		d := tx.Dialect()
		n, err := tx.Exec(ctx, `UPDATE credit_leases SET held = `+d.Least+`(held, ?), expires_at = ? WHERE key_id = ? AND instance = ?`,
			held, d.LeaseTime(expires), id, instance)
		return n == 1, err
	})
}

// RenewCreditLeases moves the expiry of the leases of instance on keys
// ids to expires, and returns them.
func (s Store) RenewCreditLeases(ctx context.Context, instance string, ids []string, expires time.Time) ([]pihu.CreditLease, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return write(ctx, s, "renew leases of "+instance, "", func(ctx context.Context, tx Tx) ([]pihu.CreditLease, error) {
		d := tx.Dialect()
		rows, err := tx.Query(ctx, `UPDATE credit_leases SET expires_at = ? WHERE instance = ? AND key_id `+d.InList+`
			RETURNING key_id, held, refilled, expires_at`, d.LeaseTime(expires), instance, d.Strings(ids))
		if err != nil {
			return nil, err
		}
		out, err := collect(rows, func(row Row) (pihu.CreditLease, error) {
			l := pihu.CreditLease{Instance: instance}
			err := row.Scan(&l.KeyID, &l.Held, (*timeDest)(&l.Refilled), (*milliTime)(&l.Expires))
			return l, err
		})
		if len(out) == 0 {
			out = nil
		}
		return out, err
	})
}

// ReturnCreditLease gives unspent credits of the lease of instance on key
// id back and deletes the lease, in one transaction.
func (s Store) ReturnCreditLease(ctx context.Context, id, instance string, unspent int64, now time.Time) (bool, error) {
	if err := pihu.ValidateLeaseHeld(unspent); err != nil {
		return false, err
	}
	return write(ctx, s, "return lease of key "+id, "", func(ctx context.Context, tx Tx) (bool, error) {
		return returnLease(ctx, tx, id, instance, nil, func(*pihu.CreditLease) int64 { return unspent }, now)
	})
}

// RefundCredits gives n credits back to key or identity id, after a
// spend that answered sp (see pihu.CreditStore.RefundCredits).
func (s Store) RefundCredits(ctx context.Context, id string, n int64, sp pihu.Spend, now time.Time) (bool, error) {
	if err := pihu.ValidateLeaseHeld(n); err != nil {
		return false, err
	}
	return write(ctx, s, "refund credits of "+id, id, func(ctx context.Context, tx Tx) (bool, error) {
		cur, holder, err := LockCredits(ctx, tx, id)
		if pihu.ErrorCode(err) == pihu.ENotFound {
			return false, nil
		}
		if err != nil || cur == nil {
			return false, err
		}
		next, ok := cur.GiveBack(n, sp.Refilled, now)
		if !ok {
			return false, nil
		}
		return true, storeCredits(ctx, tx, holder, cur, next)
	})
}

// ExpireCreditLeases returns the leases expired at now to their keys, at
// most limit, each in a transaction of its own.
func (s Store) ExpireCreditLeases(ctx context.Context, now time.Time, limit int) (int, error) {
	type leaseID struct{ key, instance string }
	expired, err := all(ctx, s, "expired leases", func(row Row) (l leaseID, err error) {
		return l, row.Scan(&l.key, &l.instance)
	}, `SELECT key_id, instance FROM credit_leases WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`, s.Dialect.LeaseTime(now), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range expired {
		found, err := write(ctx, s, "expire lease of key "+l.key, "", func(ctx context.Context, tx Tx) (bool, error) {
			return returnLease(ctx, tx, l.key, l.instance, &now, func(p *pihu.CreditLease) int64 { return p.Held }, now)
		})
		if err != nil {
			return n, err
		}
		if found {
			n++
		}
	}
	return n, nil
}

// returnLease deletes the lease of instance on key id if it is recorded
// (and, if expiredAt is not nil, expired then: a lease renewed since it
// was found expired stays), and gives back what give says of it to the
// key at now, inside tx. It reports whether it deleted the lease. A key
// that no longer exists, or has no credits, takes nothing back.
func returnLease(ctx context.Context, tx Tx, id, instance string, expiredAt *time.Time, give func(*pihu.CreditLease) int64, now time.Time) (bool, error) {
	cur, holder, err := LockCredits(ctx, tx, id)
	gone := pihu.ErrorCode(err) == pihu.ENotFound
	if err != nil && !gone {
		return false, err
	}
	l, err := deleteLease(ctx, tx, id, instance, expiredAt)
	if err != nil || l == nil {
		return false, err
	}
	if gone || cur == nil {
		return true, nil
	}
	next, ok := cur.GiveBack(give(l), l.Refilled, now)
	if !ok {
		return true, nil
	}
	return true, storeCredits(ctx, tx, holder, cur, next)
}

// deleteLease deletes the lease of instance on key id (only if expired
// at *expiredAt, if expiredAt is not nil) and returns it; nil if there
// was none.
func deleteLease(ctx context.Context, tx Tx, id, instance string, expiredAt *time.Time) (*pihu.CreditLease, error) {
	query, args := `DELETE FROM credit_leases WHERE key_id = ? AND instance = ?`, []any{id, instance}
	if expiredAt != nil {
		query += ` AND expires_at <= ?`
		args = append(args, tx.Dialect().LeaseTime(*expiredAt))
	}
	l := &pihu.CreditLease{KeyID: id, Instance: instance}
	err := tx.QueryRow(ctx, query+` RETURNING held, refilled, expires_at`, args...).
		Scan(&l.Held, (*timeDest)(&l.Refilled), (*milliTime)(&l.Expires))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lease of key %s: %w", id, err)
	}
	return l, nil
}

// timeDest reads a time column of either driver into a time.Time (unix
// seconds, or a time), in UTC; NULL is the zero time.
type timeDest time.Time

// Scan implements sql.Scanner, which both drivers call.
func (t *timeDest) Scan(src any) error {
	var v TimeValue
	if err := v.Scan(src); err != nil {
		return err
	}
	*t = timeDest(v.Time())
	return nil
}

// milliTime is timeDest for a column that SQLite keeps in Unix
// milliseconds (credit_leases.expires_at: a lease lives for seconds).
type milliTime time.Time

// Scan implements sql.Scanner, which both drivers call.
func (t *milliTime) Scan(src any) error {
	if ms, ok := src.(int64); ok {
		*t = milliTime(time.UnixMilli(ms).UTC())
		return nil
	}
	return (*timeDest)(t).Scan(src)
}
