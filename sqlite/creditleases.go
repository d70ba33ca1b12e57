package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// Leases of credits (pihu.CreditLeaseStore). Each method is one immediate
// transaction: it holds the database's write lock from its start, so no
// spend, give-back or other lease reads a key's credits or a lease
// between this one's read and its write, in this process or another. The
// rules (what is given back, what a lease holds) are pihu's; this file
// only reads and writes rows.

// unixMilli is how expires_at is kept: Unix milliseconds, finer than the
// seconds of other times, since a lease lives for seconds.
func unixMilli(t time.Time) int64 { return t.UnixMilli() }

func fromUnixMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// LeaseCredits spends r.Cost + r.Lease credits of key r.KeyID and records
// the lease, in one immediate transaction (see pihu.CreditLeaseStore).
func (db *DB) LeaseCredits(ctx context.Context, r pihu.LeaseRequest, now time.Time) (pihu.Spend, error) {
	if err := r.Validate(); err != nil {
		return pihu.Spend{}, err
	}
	var out pihu.Spend
	err := db.inTx(ctx, "lease credits of key "+r.KeyID, func(tx *sql.Tx) error {
		holder, c, err := heldCredits(ctx, tx, r.KeyID)
		if err != nil {
			return err
		}
		prev, err := readLease(ctx, tx, r.KeyID, r.Instance)
		if err != nil {
			return err
		}
		if prev != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM credit_leases WHERE key_id = ? AND instance = ?`, r.KeyID, r.Instance); err != nil {
				return fmt.Errorf("sqlite: lease credits of key %s: %w", r.KeyID, err)
			}
		}
		cur := c.credits()
		if cur == nil {
			out = pihu.Spend{OK: true, Remaining: -1}
			return nil
		}
		var next pihu.Credits
		var lease *pihu.CreditLease
		out, next, lease = cur.TakeLease(&r, prev, now)
		if err := storeCredits(ctx, tx, holder, cur, next); err != nil {
			return fmt.Errorf("sqlite: lease credits of key %s: %w", r.KeyID, err)
		}
		if lease == nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO credit_leases (key_id, instance, held, refilled, expires_at) VALUES (?, ?, ?, ?, ?)`,
			lease.KeyID, lease.Instance, lease.Held, unixTime(lease.Refilled), unixMilli(lease.Expires)); err != nil {
			return fmt.Errorf("sqlite: lease credits of key %s: %w", r.KeyID, err)
		}
		return nil
	})
	if err != nil {
		return pihu.Spend{}, err
	}
	return out, nil
}

// ReportCreditLease lowers what the lease of instance on key id holds to
// held (never raising it) and moves its expiry to expires.
func (db *DB) ReportCreditLease(ctx context.Context, id, instance string, held int64, expires time.Time) (bool, error) {
	if err := pihu.ValidateLeaseHeld(held); err != nil {
		return false, err
	}
	found := false
	err := db.inTx(ctx, "report lease of key "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE credit_leases SET held = MIN(held, ?), expires_at = ? WHERE key_id = ? AND instance = ?`,
			held, unixMilli(expires), id, instance)
		if err != nil {
			return fmt.Errorf("sqlite: report lease of key %s: %w", id, err)
		}
		n, _ := res.RowsAffected()
		found = n == 1
		return nil
	})
	return found, err
}

// RenewCreditLeases moves the expiry of the leases of instance on keys
// ids to expires, and returns them.
func (db *DB) RenewCreditLeases(ctx context.Context, instance string, ids []string, expires time.Time) ([]pihu.CreditLease, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: renew leases of %s: %w", instance, err)
	}
	var out []pihu.CreditLease
	err = db.inTx(ctx, "renew leases of "+instance, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE credit_leases SET expires_at = ?
			WHERE instance = ? AND key_id IN (SELECT value FROM json_each(?))
			RETURNING key_id, held, refilled, expires_at`, unixMilli(expires), instance, string(list))
		if err != nil {
			return fmt.Errorf("sqlite: renew leases of %s: %w", instance, err)
		}
		defer rows.Close()
		for rows.Next() {
			l := pihu.CreditLease{Instance: instance}
			var refilled, exp int64
			if err := rows.Scan(&l.KeyID, &l.Held, &refilled, &exp); err != nil {
				return fmt.Errorf("sqlite: renew leases of %s: %w", instance, err)
			}
			l.Refilled, l.Expires = fromUnix(refilled), fromUnixMilli(exp)
			out = append(out, l)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: renew leases of %s: %w", instance, err)
		}
		return nil
	})
	return out, err
}

// ReturnCreditLease gives unspent credits of the lease of instance on key
// id back and deletes the lease, in one immediate transaction.
func (db *DB) ReturnCreditLease(ctx context.Context, id, instance string, unspent int64, now time.Time) (bool, error) {
	if err := pihu.ValidateLeaseHeld(unspent); err != nil {
		return false, err
	}
	found := false
	err := db.inTx(ctx, "return lease of key "+id, func(tx *sql.Tx) error {
		var err error
		found, err = returnLease(ctx, tx, id, instance, false, func(*pihu.CreditLease) int64 { return unspent }, now)
		return err
	})
	return found, err
}

// ExpireCreditLeases returns the leases expired at now to their keys,
// at most limit, each in an immediate transaction of its own.
func (db *DB) ExpireCreditLeases(ctx context.Context, now time.Time, limit int) (int, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT key_id, instance FROM credit_leases WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`,
		unixMilli(now), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: expired leases: %w", err)
	}
	type leaseID struct{ key, instance string }
	var expired []leaseID
	for rows.Next() {
		var l leaseID
		if err := rows.Scan(&l.key, &l.instance); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: expired leases: %w", err)
		}
		expired = append(expired, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: expired leases: %w", err)
	}
	n := 0
	for _, l := range expired {
		found := false
		err := db.inTx(ctx, "expire lease of key "+l.key, func(tx *sql.Tx) error {
			var err error
			found, err = returnLease(ctx, tx, l.key, l.instance, true, func(p *pihu.CreditLease) int64 { return p.Held }, now)
			return err
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
// (and, if onlyExpired, expired at now: a lease renewed since it was
// found expired stays), and gives back what give says of it to the key
// at now, inside tx. It reports whether it deleted the lease. A key that
// no longer exists, or has no credits, takes nothing back.
func returnLease(ctx context.Context, tx *sql.Tx, id, instance string, onlyExpired bool, give func(*pihu.CreditLease) int64, now time.Time) (bool, error) {
	l, err := readLease(ctx, tx, id, instance)
	if err != nil || l == nil || onlyExpired && !l.Expired(now) {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM credit_leases WHERE key_id = ? AND instance = ?`, id, instance); err != nil {
		return false, fmt.Errorf("sqlite: return lease of key %s: %w", id, err)
	}
	holder, c, err := heldCredits(ctx, tx, id)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	cur := c.credits()
	if cur == nil {
		return true, nil
	}
	next, ok := cur.GiveBack(give(l), l.Refilled, now)
	if !ok {
		return true, nil
	}
	if err := storeCredits(ctx, tx, holder, cur, next); err != nil {
		return false, fmt.Errorf("sqlite: return lease of key %s: %w", id, err)
	}
	return true, nil
}

// readLease reads the lease of instance on key id; nil if none.
func readLease(ctx context.Context, tx *sql.Tx, id, instance string) (*pihu.CreditLease, error) {
	l := &pihu.CreditLease{KeyID: id, Instance: instance}
	var refilled, exp int64
	err := tx.QueryRowContext(ctx, `SELECT held, refilled, expires_at FROM credit_leases WHERE key_id = ? AND instance = ?`, id, instance).
		Scan(&l.Held, &refilled, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: lease of key %s: %w", id, err)
	}
	l.Refilled, l.Expires = fromUnix(refilled), fromUnixMilli(exp)
	return l, nil
}

// heldCredits reads the credits a spend of key id takes, and the key
// holding them (see creditHolder). Returns ENotFound if the key does not
// exist.
func heldCredits(ctx context.Context, tx *sql.Tx, id string) (string, credits, error) {
	var c credits
	holder, err := creditHolder(ctx, tx, id)
	if err != nil {
		return "", c, fmt.Errorf("sqlite: credits of key %s: %w", id, err)
	}
	err = tx.QueryRowContext(ctx, `SELECT remaining, refill_interval, refill_amount, refill_day, refilled FROM api_keys WHERE id = ?`, holder).
		Scan(&c.remaining, &c.interval, &c.amount, &c.day, &c.refilled)
	if errors.Is(err, sql.ErrNoRows) {
		return "", c, pihu.Errorf(pihu.ENotFound, "No API key has the id %q.", id)
	}
	if err != nil {
		return "", c, fmt.Errorf("sqlite: credits of key %s: %w", id, err)
	}
	return holder, c, nil
}

// storeCredits writes next as key holder's credits, if they differ from
// cur.
func storeCredits(ctx context.Context, tx *sql.Tx, holder string, cur *pihu.Credits, next pihu.Credits) error {
	if next.Remaining == cur.Remaining && unixTime(next.Refilled) == unixTime(cur.Refilled) {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE api_keys SET remaining = ?, refilled = ? WHERE id = ?`,
		next.Remaining, unixTime(next.Refilled), holder)
	return err
}
