package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// interviewColumns are the columns scanInterview reads, in its order.
const interviewColumns = `id, account_id, environment, candidate_id, position, scheduled_at, status, created`

// CreateInterview stores iv if its candidate is a live row of iv's account
// and environment, in one statement that reads the candidate FOR SHARE: a
// deletion of the candidate in progress is waited for, and then the
// candidate is read as it committed (deleted: nothing is stored); a
// deletion that starts later waits for this one to commit, and then erases
// the interview with the candidate. Returns EParameterInvalid on
// "candidate_id" if there is no such candidate.
func (db *DB) CreateInterview(ctx context.Context, iv *pihu.Interview) error {
	return db.inTx(ctx, "create interview "+iv.ID, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO interviews (`+interviewColumns+`)
			SELECT $1, $2, $3, c.id, $5, $6, $7, $8 FROM candidates c
			WHERE c.id = $4 AND c.account_id = $2 AND c.environment = $3 AND c.deleted IS NULL
			FOR SHARE`,
			iv.ID, iv.AccountID, string(iv.Environment), iv.CandidateID, iv.Position, nullTS(iv.ScheduledAt),
			string(iv.Status), ts(iv.Created))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pihu.InterviewCandidateNotFound(iv.CandidateID)
		}
		return nil
	})
}

func scanInterview(row pgx.Row) (*pihu.Interview, error) {
	var (
		iv          pihu.Interview
		env, status string
		scheduledAt *time.Time
		created     time.Time
	)
	if err := row.Scan(&iv.ID, &iv.AccountID, &env, &iv.CandidateID, &iv.Position, &scheduledAt, &status, &created); err != nil {
		return nil, err
	}
	iv.Environment = pihu.Environment(env)
	iv.Status = pihu.InterviewStatus(status)
	iv.ScheduledAt = utc(scheduledAt)
	iv.Created = created.UTC()
	return &iv, nil
}

func interviewNotFound(id string) error {
	return pihu.InterviewNotFound(id)
}

// DeleteInterview erases the interview id in scope s, leaving a tombstone
// that keeps its id valid as a cursor. Returns ENotFound as Interview does.
func (db *DB) DeleteInterview(ctx context.Context, s pihu.Scope, id string) error {
	now := ts(db.Now())
	return db.inTx(ctx, "delete interview "+id, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE interviews SET deleted = $1, position = '', scheduled_at = NULL
			WHERE id = $2 AND account_id = $3 AND environment = $4 AND deleted IS NULL`,
			now, id, s.AccountID, string(s.Environment))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return interviewNotFound(id)
		}
		return nil
	})
}
