package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pihu-ai/pihu"
)

// interviewColumns are the columns scanInterview reads, in its order.
const interviewColumns = `id, account_id, environment, candidate_id, position, scheduled_at, status, created`

// CreateInterview stores iv if its candidate is a live row of iv's account
// and environment, in one statement, so that a candidate deleted at the
// same moment cannot be left with an interview. Returns EParameterInvalid
// on "candidate_id" otherwise.
func (db *DB) CreateInterview(ctx context.Context, iv *pihu.Interview) error {
	return db.inTx(ctx, "create interview "+iv.ID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO interviews (`+interviewColumns+`)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?
			WHERE EXISTS (SELECT 1 FROM candidates WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL)`,
			iv.ID, iv.AccountID, string(iv.Environment), iv.CandidateID, iv.Position, nullTime(iv.ScheduledAt),
			string(iv.Status), unixTime(iv.Created),
			iv.CandidateID, iv.AccountID, string(iv.Environment))
		if err != nil {
			return fmt.Errorf("sqlite: create interview %s: %w", iv.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: create interview %s: %w", iv.ID, err)
		}
		if n == 0 {
			return pihu.InterviewCandidateNotFound(iv.CandidateID)
		}
		return nil
	})
}

func scanInterview(row rowScanner) (*pihu.Interview, error) {
	var (
		iv          pihu.Interview
		scheduledAt sql.Null[int64]
		created     int64
	)
	if err := row.Scan(&iv.ID, &iv.AccountID, &iv.Environment, &iv.CandidateID, &iv.Position, &scheduledAt, &iv.Status, &created); err != nil {
		return nil, err
	}
	iv.ScheduledAt = fromNullUnix(scheduledAt)
	iv.Created = fromUnix(created)
	return &iv, nil
}

func interviewNotFound(id string) error {
	return pihu.InterviewNotFound(id)
}

// DeleteInterview erases the interview id in scope s, leaving a tombstone
// that keeps its id valid as a cursor. Returns ENotFound as Interview does.
func (db *DB) DeleteInterview(ctx context.Context, s pihu.Scope, id string) error {
	now := unixTime(pihu.Timestamp(db.Now()))
	return db.inTx(ctx, "delete interview "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE interviews SET deleted = ?, position = '', scheduled_at = NULL
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
			now, id, s.AccountID, string(s.Environment))
		if err != nil {
			return fmt.Errorf("sqlite: delete interview %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete interview %s: %w", id, err)
		}
		if n == 0 {
			return interviewNotFound(id)
		}
		return nil
	})
}
