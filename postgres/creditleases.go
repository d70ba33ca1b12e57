package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// Leases of credits (pihu.CreditLeaseStore). A transaction that touches a
// key's credits locks the key's row (lockCredits) before the lease's, as
// every spend does, so that two of them never wait for each other the
// other way round; a lease is deleted with DELETE … RETURNING, so that of
// two transactions returning it, one finds it and the other finds it
// gone. The rules (what is given back, what a lease holds) are pihu's;
// this file only reads and writes rows.

// LeaseCredits spends r.Cost + r.Lease credits of key r.KeyID and records
// the lease, in one transaction (see pihu.CreditLeaseStore).
func (db *DB) LeaseCredits(ctx context.Context, r pihu.LeaseRequest, now time.Time) (pihu.Spend, error) {
	if err := r.Validate(); err != nil {
		return pihu.Spend{}, err
	}
	var out pihu.Spend
	err := db.inTxLocking(ctx, "lease credits of key "+r.KeyID, r.KeyID, func(ctx context.Context, tx pgx.Tx) error {
		c, holder, err := lockCredits(ctx, tx, r.KeyID)
		if err != nil {
			return err
		}
		prev, err := deleteLease(ctx, tx, r.KeyID, r.Instance, nil)
		if err != nil {
			return err
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
			return err
		}
		if lease == nil {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO credit_leases (key_id, instance, held, refilled, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			lease.KeyID, lease.Instance, lease.Held, ts(lease.Refilled), lease.Expires.UTC())
		return err
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
	err := db.inTx(ctx, "report lease of key "+id, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE credit_leases SET held = LEAST(held, $1), expires_at = $2 WHERE key_id = $3 AND instance = $4`,
			held, expires.UTC(), id, instance)
		found = err == nil && tag.RowsAffected() == 1
		return err
	})
	return found, err
}

// RenewCreditLeases moves the expiry of the leases of instance on keys
// ids to expires, and returns them.
func (db *DB) RenewCreditLeases(ctx context.Context, instance string, ids []string, expires time.Time) ([]pihu.CreditLease, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []pihu.CreditLease
	err := db.inTx(ctx, "renew leases of "+instance, func(ctx context.Context, tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `UPDATE credit_leases SET expires_at = $1 WHERE instance = $2 AND key_id = ANY($3)
			RETURNING key_id, held, refilled, expires_at`, expires.UTC(), instance, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l := pihu.CreditLease{Instance: instance}
			if err := rows.Scan(&l.KeyID, &l.Held, &l.Refilled, &l.Expires); err != nil {
				return err
			}
			l.Refilled, l.Expires = l.Refilled.UTC(), l.Expires.UTC()
			out = append(out, l)
		}
		return rows.Err()
	})
	return out, err
}

// ReturnCreditLease gives unspent credits of the lease of instance on key
// id back and deletes the lease, in one transaction.
func (db *DB) ReturnCreditLease(ctx context.Context, id, instance string, unspent int64, now time.Time) (bool, error) {
	if err := pihu.ValidateLeaseHeld(unspent); err != nil {
		return false, err
	}
	found := false
	err := db.inTx(ctx, "return lease of key "+id, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		found, err = returnLease(ctx, tx, id, instance, nil, func(*pihu.CreditLease) int64 { return unspent }, now)
		return err
	})
	return found, err
}

// ExpireCreditLeases returns the leases expired at now to their keys, at
// most limit, each in a transaction of its own.
func (db *DB) ExpireCreditLeases(ctx context.Context, now time.Time, limit int) (int, error) {
	type leaseID struct{ key, instance string }
	var expired []leaseID
	err := db.inTx(ctx, "expired leases", func(ctx context.Context, tx pgx.Tx) error {
		expired = expired[:0]
		rows, err := tx.Query(ctx, `SELECT key_id, instance FROM credit_leases WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2`,
			now.UTC(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l leaseID
			if err := rows.Scan(&l.key, &l.instance); err != nil {
				return err
			}
			expired = append(expired, l)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range expired {
		found := false
		err := db.inTx(ctx, "expire lease of key "+l.key, func(ctx context.Context, tx pgx.Tx) error {
			var err error
			found, err = returnLease(ctx, tx, l.key, l.instance, &now, func(p *pihu.CreditLease) int64 { return p.Held }, now)
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
// (and, if expiredAt is not nil, expired then: a lease renewed since it
// was found expired stays), and gives back what give says of it to the
// key at now, inside tx. It reports whether it deleted the lease. A key
// that no longer exists, or has no credits, takes nothing back.
func returnLease(ctx context.Context, tx pgx.Tx, id, instance string, expiredAt *time.Time, give func(*pihu.CreditLease) int64, now time.Time) (bool, error) {
	c, holder, err := lockCredits(ctx, tx, id)
	gone := pihu.ErrorCode(err) == pihu.ENotFound
	if err != nil && !gone {
		return false, err
	}
	l, err := deleteLease(ctx, tx, id, instance, expiredAt)
	if err != nil || l == nil {
		return false, err
	}
	cur := c.credits()
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
func deleteLease(ctx context.Context, tx pgx.Tx, id, instance string, expiredAt *time.Time) (*pihu.CreditLease, error) {
	l := &pihu.CreditLease{KeyID: id, Instance: instance}
	var err error
	if expiredAt == nil {
		err = tx.QueryRow(ctx, `DELETE FROM credit_leases WHERE key_id = $1 AND instance = $2 RETURNING held, refilled, expires_at`,
			id, instance).Scan(&l.Held, &l.Refilled, &l.Expires)
	} else {
		err = tx.QueryRow(ctx, `DELETE FROM credit_leases WHERE key_id = $1 AND instance = $2 AND expires_at <= $3 RETURNING held, refilled, expires_at`,
			id, instance, expiredAt.UTC()).Scan(&l.Held, &l.Refilled, &l.Expires)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l.Refilled, l.Expires = l.Refilled.UTC(), l.Expires.UTC()
	return l, nil
}

// storeCredits writes next as key holder's credits, if they differ from
// cur.
func storeCredits(ctx context.Context, tx pgx.Tx, holder string, cur *pihu.Credits, next pihu.Credits) error {
	if next.Remaining == cur.Remaining && next.Refilled.Equal(cur.Refilled) {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE api_keys SET remaining = $1, refilled = $2 WHERE id = $3`,
		next.Remaining, ts(next.Refilled), holder)
	return err
}
