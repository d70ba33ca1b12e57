package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// ReserveIdempotency claims rec.Lookup for the request rec describes; see
// pihu.IdempotencyStore. The claim is an INSERT … ON CONFLICT DO NOTHING
// on the primary key: of concurrent reservations exactly one inserts
// (where the transaction is WriteLocked, the others then find its record;
// elsewhere they wait for it to commit and insert nothing), and the others
// read its record FOR UPDATE, to replay, refuse, or take over a stale
// lock.
func (s Store) ReserveIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) (*pihu.IdempotencyRecord, error) {
	now := pihu.Timestamp(rec.Created)
	return write(ctx, s, "reserve idempotency key", "", func(ctx context.Context, tx Tx) (*pihu.IdempotencyRecord, error) {
		d := tx.Dialect()
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_records WHERE created <= ?`, d.Time(now.Add(-pihu.IdempotencyTTL))); err != nil {
			return nil, fmt.Errorf("purge idempotency records: %w", err)
		}
		// The record may vanish between the insert that conflicts and
		// the read (its request released it): then insert again.
		for {
			old, err := claimIdempotency(ctx, tx, rec, now)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil || old == nil {
				return nil, err
			}
			if !old.Stale(now) || !bytes.Equal(old.Fingerprint, rec.Fingerprint) {
				return old, nil
			}
			// The request holding it most likely died with its process:
			// the retry takes it over.
			_, err = tx.Exec(ctx, `UPDATE idempotency_records SET token = ?, created = ?
				WHERE lookup = ? AND status = 0`, rec.Token, d.Time(now), rec.Lookup)
			return nil, err
		}
	})
}

// claimIdempotency stores rec, unless a record of its lookup is stored:
// then it returns that record, locked. sql.ErrNoRows is a record that
// vanished meanwhile.
func claimIdempotency(ctx context.Context, tx Tx, rec *pihu.IdempotencyRecord, now time.Time) (*pihu.IdempotencyRecord, error) {
	d := tx.Dialect()
	n, err := tx.Exec(ctx, `INSERT INTO idempotency_records (lookup, fingerprint, token, created)
		VALUES (?, ?, ?, ?) ON CONFLICT (lookup) DO NOTHING`, rec.Lookup, rec.Fingerprint, rec.Token, d.Time(now))
	if err != nil || n == 1 {
		return nil, err
	}
	return Idempotency.Scan(tx.QueryRow(ctx,
		`SELECT `+Idempotency.Columns+` FROM idempotency_records WHERE lookup = ?`+d.ForUpdate, rec.Lookup))
}

// IdempotencyRecord returns the unexpired record of lookup; see
// pihu.IdempotencyStore.
func (s Store) IdempotencyRecord(ctx context.Context, lookup []byte, now time.Time) (*pihu.IdempotencyRecord, error) {
	d := s.Dialect
	return one(ctx, s, "idempotency record", Idempotency.Scan, pihu.ErrIdempotencyKeyUnknown,
		`SELECT `+Idempotency.Columns+` FROM idempotency_records WHERE lookup = ? AND created > ?`,
		lookup, d.Time(pihu.Timestamp(now).Add(-pihu.IdempotencyTTL)))
}

// CompleteIdempotency stores the response of a reserved record; see
// pihu.IdempotencyStore.
func (s Store) CompleteIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) error {
	return s.Driver.WriteOne(ctx, "complete idempotency key", func(ctx context.Context, c Conn) error {
		n, err := c.Exec(ctx, `UPDATE idempotency_records SET status = ?, response = ?, ended_key = ?
			WHERE lookup = ? AND token = ? AND status = 0`,
			rec.Status, rec.Response, rec.EndedKey, rec.Lookup, rec.Token)
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.ErrIdempotencyReservationGone
		}
		return nil
	})
}

// ReleaseIdempotency deletes a reserved record that was not completed; see
// pihu.IdempotencyStore.
func (s Store) ReleaseIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) error {
	return s.Driver.WriteOne(ctx, "release idempotency key", func(ctx context.Context, c Conn) error {
		_, err := c.Exec(ctx, `DELETE FROM idempotency_records WHERE lookup = ? AND token = ? AND status = 0`, rec.Lookup, rec.Token)
		return err
	})
}
