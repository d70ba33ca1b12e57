package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
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

// Interview returns the interview id in scope s. Returns ENotFound if it
// does not exist, was deleted, or is outside s.
func (db *DB) Interview(ctx context.Context, s pihu.Scope, id string) (*pihu.Interview, error) {
	iv, err := scanInterview(db.db.QueryRowContext(ctx, `SELECT `+interviewColumns+` FROM interviews
		WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`, id, s.AccountID, string(s.Environment)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, interviewNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: interview %s: %w", id, err)
	}
	return iv, nil
}

// ListInterviews returns a page of the interviews in scope s, newest
// first, and whether more follow. Returns EParameterInvalid on
// "starting_after" if that id was never an interview in s; a deleted
// interview's id is a valid cursor.
func (db *DB) ListInterviews(ctx context.Context, s pihu.Scope, p pihu.Page) ([]*pihu.Interview, bool, error) {
	return sqlstore.ListPage(ctx, conn{db.db}, sqlstore.ScopedPage("interviews", interviewColumns, s, p), scanInterview)
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
