package postgres

import (
	"context"

	"github.com/pihu-ai/pihu"
)

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
