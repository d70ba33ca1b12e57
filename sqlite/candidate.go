package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pihu-ai/pihu"
)

// candidateColumns are the columns scanCandidate reads, in its order.
const candidateColumns = `id, account_id, environment, name, email, created`

// CreateCandidate stores c. An id already stored, or an unknown account,
// is an error (EInternal).
func (db *DB) CreateCandidate(ctx context.Context, c *pihu.Candidate) error {
	return db.inTx(ctx, "create candidate "+c.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO candidates (`+candidateColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.AccountID, string(c.Environment), c.Name, c.Email, unixTime(c.Created))
		if err != nil {
			return fmt.Errorf("sqlite: create candidate %s: %w", c.ID, err)
		}
		return nil
	})
}

func scanCandidate(row rowScanner) (*pihu.Candidate, error) {
	var (
		c       pihu.Candidate
		created int64
	)
	if err := row.Scan(&c.ID, &c.AccountID, &c.Environment, &c.Name, &c.Email, &created); err != nil {
		return nil, err
	}
	c.Created = fromUnix(created)
	return &c, nil
}

func candidateNotFound(id string) error {
	return pihu.CandidateNotFound(id)
}

// DeleteCandidate erases the candidate id in scope s and every interview
// of it, in one transaction, leaving tombstones that keep their ids valid
// as cursors. Returns ENotFound as Candidate does.
func (db *DB) DeleteCandidate(ctx context.Context, s pihu.Scope, id string) error {
	now := unixTime(pihu.Timestamp(db.Now()))
	return db.inTx(ctx, "delete candidate "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE candidates SET deleted = ?, name = '', email = ''
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`, now, id, s.AccountID, string(s.Environment))
		if err != nil {
			return fmt.Errorf("sqlite: delete candidate %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete candidate %s: %w", id, err)
		} else if n == 0 {
			return candidateNotFound(id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE interviews SET deleted = ?, position = '', scheduled_at = NULL
			WHERE candidate_id = ? AND deleted IS NULL`, now, id); err != nil {
			return fmt.Errorf("sqlite: delete interviews of candidate %s: %w", id, err)
		}
		return nil
	})
}
