package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// candidateColumns are the columns scanCandidate reads, in its order.
const candidateColumns = `id, account_id, environment, name, email, created`

// CreateCandidate stores c. An id already stored, or an unknown account,
// is an error (EInternal).
func (db *DB) CreateCandidate(ctx context.Context, c *pihu.Candidate) error {
	return db.inTx(ctx, "create candidate "+c.ID, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO candidates (`+candidateColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.ID, c.AccountID, string(c.Environment), c.Name, c.Email, ts(c.Created))
		return err
	})
}

func scanCandidate(row pgx.Row) (*pihu.Candidate, error) {
	var (
		c       pihu.Candidate
		env     string
		created time.Time
	)
	if err := row.Scan(&c.ID, &c.AccountID, &env, &c.Name, &c.Email, &created); err != nil {
		return nil, err
	}
	c.Environment = pihu.Environment(env)
	c.Created = created.UTC()
	return &c, nil
}

func candidateNotFound(id string) error {
	return pihu.CandidateNotFound(id)
}

// DeleteCandidate erases the candidate id in scope s and every interview
// of it, in one transaction, leaving tombstones that keep their ids valid
// as cursors. Returns ENotFound as Candidate does. The UPDATE of the
// candidate locks its row, which CreateInterview reads FOR SHARE, so that
// an interview is either created first, and erased here, or refused.
func (db *DB) DeleteCandidate(ctx context.Context, s pihu.Scope, id string) error {
	now := ts(db.Now())
	return db.inTx(ctx, "delete candidate "+id, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE candidates SET deleted = $1, name = '', email = ''
			WHERE id = $2 AND account_id = $3 AND environment = $4 AND deleted IS NULL`, now, id, s.AccountID, string(s.Environment))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return candidateNotFound(id)
		}
		_, err = tx.Exec(ctx, `UPDATE interviews SET deleted = $1, position = '', scheduled_at = NULL
			WHERE candidate_id = $2 AND deleted IS NULL`, now, id)
		return err
	})
}
