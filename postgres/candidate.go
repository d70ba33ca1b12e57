package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// candidateColumns are the columns scanCandidate reads, in its order.
const candidateColumns = `id, account_id, environment, name, email, created`

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
