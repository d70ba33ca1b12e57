package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/pihu-ai/pihu"
)

// endpointColumns are the columns scanEndpoint reads, in its order.
const endpointColumns = `id, account_id, environment, url, description, events, enabled, secret, created, failing_since`

func scanEndpoint(row rowScanner) (*pihu.WebhookEndpoint, error) {
	var (
		e       pihu.WebhookEndpoint
		events  string
		created int64
		failing sql.Null[int64]
	)
	if err := row.Scan(&e.ID, &e.AccountID, &e.Environment, &e.URL, &e.Description, &events, &e.Enabled, &e.Secret, &created, &failing); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return nil, fmt.Errorf("events of webhook endpoint %s: %w", e.ID, err)
	}
	e.Created = fromUnix(created)
	e.FailingSince = fromNullUnix(failing)
	return &e, nil
}
