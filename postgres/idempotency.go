package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// idempotencyColumns are the columns scanIdempotency reads, in its order.
const idempotencyColumns = `lookup, fingerprint, token, created, status, response, ended_key`

// ReserveIdempotency claims rec.Lookup for the request rec describes; see
// pihu.IdempotencyStore. The claim is an INSERT … ON CONFLICT DO NOTHING
// on the primary key: of concurrent reservations exactly one inserts, and
// the others wait for it to commit, insert nothing, and then read its
// record FOR UPDATE (to replay, refuse, or take over a stale lock).
func (db *DB) ReserveIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) (*pihu.IdempotencyRecord, error) {
	now := pihu.Timestamp(rec.Created)
	var existing *pihu.IdempotencyRecord
	err := db.inTx(ctx, "reserve idempotency key", func(ctx context.Context, tx pgx.Tx) error {
		existing = nil
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_records WHERE created <= $1`, now.Add(-pihu.IdempotencyTTL)); err != nil {
			return err
		}
		// The record may vanish between the insert that conflicts and
		// the read (its request released it): then insert again.
		for {
			tag, err := tx.Exec(ctx, `INSERT INTO idempotency_records (lookup, fingerprint, token, created)
				VALUES ($1, $2, $3, $4) ON CONFLICT (lookup) DO NOTHING`, rec.Lookup, rec.Fingerprint, rec.Token, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				return nil
			}
			old, err := scanIdempotency(tx.QueryRow(ctx,
				`SELECT `+idempotencyColumns+` FROM idempotency_records WHERE lookup = $1 FOR UPDATE`, rec.Lookup))
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if old.Stale(now) && bytes.Equal(old.Fingerprint, rec.Fingerprint) {
				// The request holding it most likely died with its
				// process: the retry takes it over.
				_, err = tx.Exec(ctx, `UPDATE idempotency_records SET token = $1, created = $2
					WHERE lookup = $3 AND status = 0`, rec.Token, now, rec.Lookup)
				return err
			}
			existing = old
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return existing, nil
}

// CompleteIdempotency stores the response of a reserved record; see
// pihu.IdempotencyStore.
func (db *DB) CompleteIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) error {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	tag, err := db.pool.Exec(ctx, `UPDATE idempotency_records SET status = $1, response = $2, ended_key = $3
		WHERE lookup = $4 AND token = $5 AND status = 0`,
		rec.Status, rec.Response, rec.EndedKey, rec.Lookup, rec.Token)
	if err != nil {
		return wrap("complete idempotency key", err)
	}
	if tag.RowsAffected() == 0 {
		return pihu.ErrIdempotencyReservationGone
	}
	return nil
}

// ReleaseIdempotency deletes a reserved record that was not completed; see
// pihu.IdempotencyStore.
func (db *DB) ReleaseIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) error {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	if _, err := db.pool.Exec(ctx, `DELETE FROM idempotency_records WHERE lookup = $1 AND token = $2 AND status = 0`,
		rec.Lookup, rec.Token); err != nil {
		return wrap("release idempotency key", err)
	}
	return nil
}

// IdempotencyRecord returns the unexpired record of lookup; see
// pihu.IdempotencyStore.
func (db *DB) IdempotencyRecord(ctx context.Context, lookup []byte, now time.Time) (*pihu.IdempotencyRecord, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rec, err := scanIdempotency(db.pool.QueryRow(ctx,
		`SELECT `+idempotencyColumns+` FROM idempotency_records WHERE lookup = $1 AND created > $2`,
		lookup, pihu.Timestamp(now).Add(-pihu.IdempotencyTTL)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.ErrIdempotencyKeyUnknown
	}
	if err != nil {
		return nil, wrap("idempotency record", err)
	}
	return rec, nil
}

func scanIdempotency(row pgx.Row) (*pihu.IdempotencyRecord, error) {
	var rec pihu.IdempotencyRecord
	if err := row.Scan(&rec.Lookup, &rec.Fingerprint, &rec.Token, &rec.Created, &rec.Status, &rec.Response, &rec.EndedKey); err != nil {
		return nil, err
	}
	rec.Created = rec.Created.UTC()
	return &rec, nil
}
