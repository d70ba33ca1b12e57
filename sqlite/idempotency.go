package sqlite

import (
	"context"
	"fmt"

	"github.com/pihu-ai/pihu"
)

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
