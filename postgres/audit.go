package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// eventColumns are the columns scanEvent reads, in its order.
const eventColumns = `id, account_id, environment, action, actor, target, ip, created, changes, url, source`

// insertEvents stores audit events, inside the transaction of the change
// they record, and the webhook events of the key changes among them (see
// outboxKeyEvent), so that a change committed has its deliveries
// committed.
func insertEvents(ctx context.Context, q querier, events []*pihu.AuditEvent) error {
	var subs sqlstore.Subscriptions
	for _, ev := range events {
		if err := sqlstore.OutboxKeyEvent(ctx, txn{conn: conn{q}}, ev, subs); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO audit_events (`+eventColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			ev.ID, ev.AccountID, nullString(string(ev.Environment)), ev.Action, ev.Actor, ev.Target, ev.IP, ts(ev.Created), ev.Changes,
			nullString(ev.URL), nullString(ev.Source)); err != nil {
			return fmt.Errorf("record event %s: %w", ev.ID, err)
		}
	}
	return nil
}

func scanEvent(row pgx.Row) (*pihu.AuditEvent, error) {
	var (
		ev      pihu.AuditEvent
		env     *string
		created time.Time
		url     *string
		source  *string
	)
	if err := row.Scan(&ev.ID, &ev.AccountID, &env, &ev.Action, &ev.Actor, &ev.Target, &ev.IP, &created, &ev.Changes, &url, &source); err != nil {
		return nil, err
	}
	if url != nil {
		ev.URL = *url
	}
	if source != nil {
		ev.Source = *source
	}
	if env != nil {
		ev.Environment = pihu.Environment(*env)
	}
	ev.Created = created.UTC()
	return &ev, nil
}
