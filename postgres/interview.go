package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// interviewColumns are the columns scanInterview reads, in its order.
const interviewColumns = `id, account_id, environment, candidate_id, position, scheduled_at, status, created`

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
