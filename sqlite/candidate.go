package sqlite

import "github.com/pihu-ai/pihu"

// candidateColumns are the columns scanCandidate reads, in its order.
const candidateColumns = `id, account_id, environment, name, email, created`

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
