package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// endpointColumns are the columns scanEndpoint reads, in its order.
const endpointColumns = `id, account_id, environment, url, description, events, enabled, secret, created, failing_since`

func scanEndpoint(row pgx.Row) (*pihu.WebhookEndpoint, error) {
	var (
		e       pihu.WebhookEndpoint
		env     string
		created time.Time
		failing *time.Time
	)
	if err := row.Scan(&e.ID, &e.AccountID, &env, &e.URL, &e.Description, &e.Events, &e.Enabled, &e.Secret, &created, &failing); err != nil {
		return nil, err
	}
	e.Environment = pihu.Environment(env)
	e.Created = created.UTC()
	e.FailingSince = utc(failing)
	return &e, nil
}
