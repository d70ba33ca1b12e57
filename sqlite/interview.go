package sqlite

import (
	"database/sql"

	"github.com/pihu-ai/pihu"
)

// interviewColumns are the columns scanInterview reads, in its order.
const interviewColumns = `id, account_id, environment, candidate_id, position, scheduled_at, status, created`

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
