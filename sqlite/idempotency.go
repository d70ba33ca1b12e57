package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// idempotencyColumns are the columns scanIdempotency reads, in its order.
const idempotencyColumns = `lookup, fingerprint, token, created, status, response, ended_key`

// ReserveIdempotency claims rec.Lookup for the request rec describes; see
// pihu.IdempotencyStore. The check and the write are one immediate
// transaction, which holds the write lock, so that of concurrent
// reservations exactly one stores its record.
func (db *DB) ReserveIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) (*pihu.IdempotencyRecord, error) {
	now := pihu.Timestamp(rec.Created)
	var existing *pihu.IdempotencyRecord
	err := db.inTx(ctx, "reserve idempotency key", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_records WHERE created <= ?`,
			unixTime(now.Add(-pihu.IdempotencyTTL))); err != nil {
			return fmt.Errorf("sqlite: purge idempotency records: %w", err)
		}
		old, err := scanIdempotency(tx.QueryRowContext(ctx,
			`SELECT `+idempotencyColumns+` FROM idempotency_records WHERE lookup = ?`, rec.Lookup))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_records (lookup, fingerprint, token, created)
				VALUES (?, ?, ?, ?)`, rec.Lookup, rec.Fingerprint, rec.Token, unixTime(now))
		case err != nil:
		case old.Stale(now) && bytes.Equal(old.Fingerprint, rec.Fingerprint):
			// The request holding it most likely died with its process:
			// the retry takes it over.
			_, err = tx.ExecContext(ctx, `UPDATE idempotency_records SET token = ?, created = ?
				WHERE lookup = ? AND status = 0`, rec.Token, unixTime(now), rec.Lookup)
		default:
			existing = old
		}
		if err != nil {
			return fmt.Errorf("sqlite: reserve idempotency key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return existing, nil
}

// CompleteIdempotency stores the response of a reserved record; see
// pihu.IdempotencyStore.
func (db *DB) CompleteIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) error {
	defer db.queueWrite()()
	res, err := db.db.ExecContext(ctx, `UPDATE idempotency_records SET status = ?, response = ?, ended_key = ?
		WHERE lookup = ? AND token = ? AND status = 0`,
		rec.Status, rec.Response, rec.EndedKey, rec.Lookup, rec.Token)
	if err != nil {
		return fmt.Errorf("sqlite: complete idempotency key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: complete idempotency key: %w", err)
	} else if n == 0 {
		return pihu.ErrIdempotencyReservationGone
	}
	return nil
}

// ReleaseIdempotency deletes a reserved record that was not completed; see
// pihu.IdempotencyStore.
func (db *DB) ReleaseIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) error {
	defer db.queueWrite()()
	if _, err := db.db.ExecContext(ctx, `DELETE FROM idempotency_records WHERE lookup = ? AND token = ? AND status = 0`,
		rec.Lookup, rec.Token); err != nil {
		return fmt.Errorf("sqlite: release idempotency key: %w", err)
	}
	return nil
}

// IdempotencyRecord returns the unexpired record of lookup; see
// pihu.IdempotencyStore.
func (db *DB) IdempotencyRecord(ctx context.Context, lookup []byte, now time.Time) (*pihu.IdempotencyRecord, error) {
	rec, err := scanIdempotency(db.db.QueryRowContext(ctx,
		`SELECT `+idempotencyColumns+` FROM idempotency_records WHERE lookup = ? AND created > ?`,
		lookup, unixTime(pihu.Timestamp(now).Add(-pihu.IdempotencyTTL))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.ErrIdempotencyKeyUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: idempotency record: %w", err)
	}
	return rec, nil
}

func scanIdempotency(row rowScanner) (*pihu.IdempotencyRecord, error) {
	var (
		rec     pihu.IdempotencyRecord
		created int64
	)
	if err := row.Scan(&rec.Lookup, &rec.Fingerprint, &rec.Token, &created, &rec.Status, &rec.Response, &rec.EndedKey); err != nil {
		return nil, err
	}
	rec.Created = fromUnix(created)
	return &rec, nil
}
