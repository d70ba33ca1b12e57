package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// EventsScanner reads audit events, their changes through list (see
// Dialect.StringList).
func EventsScanner(list func(*[]string) any) Scanner[*pihu.AuditEvent] {
	return Scanner[*pihu.AuditEvent]{Columns: eventColumns, Scan: func(row Row) (*pihu.AuditEvent, error) {
		var (
			ev               pihu.AuditEvent
			env, url, source sql.Null[string]
			created          timeDest
		)
		if err := row.Scan(&ev.ID, &ev.AccountID, &env, &ev.Action, &ev.Actor, &ev.Target, &ev.IP, &created, list(&ev.Changes), &url, &source); err != nil {
			return nil, err
		}
		ev.Environment, ev.Created = pihu.Environment(env.V), time.Time(created)
		ev.URL, ev.Source = url.V, source.V
		return &ev, nil
	}}
}

// EndpointsScanner reads webhook endpoints, their events through list
// (see Dialect.StringList).
func EndpointsScanner(list func(*[]string) any) Scanner[*pihu.WebhookEndpoint] {
	return Scanner[*pihu.WebhookEndpoint]{Columns: `id, account_id, environment, url, description, events, enabled, secret, created, failing_since,
		previous_secret, previous_secret_expires`,
		Scan: func(row Row) (*pihu.WebhookEndpoint, error) {
			var (
				e       pihu.WebhookEndpoint
				env     string
				created timeDest
				failing TimeValue
				prevTil TimeValue
			)
			if err := row.Scan(&e.ID, &e.AccountID, &env, &e.URL, &e.Description, list(&e.Events), &e.Enabled, &e.Secret, &created, &failing,
				&e.PreviousSecret, &prevTil); err != nil {
				return nil, err
			}
			e.Environment, e.Created, e.FailingSince, e.PreviousSecretExpires = pihu.Environment(env), time.Time(created), failing.T, prevTil.T
			return &e, nil
		}}
}

// eventColumns are the columns of audit_events, in the order of Events.
const eventColumns = `id, account_id, environment, action, actor, target, ip, created, changes, url, source`

// InsertEvents stores audit events, inside the transaction of the change
// they record, and the webhook events of the key changes among them (see
// OutboxKeyEvent), so that a change committed has its deliveries
// committed. The endpoints subscribed to each kind of event are read
// once, and the events are written in one batch (Tx.ExecBatch): a report
// of many leaked keys writes many.
func InsertEvents(ctx context.Context, tx Tx, events []*pihu.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	d := tx.Dialect()
	subs := make(Subscriptions)
	args := make([][]any, len(events))
	for i, ev := range events {
		if err := OutboxKeyEvent(ctx, tx, ev, subs); err != nil {
			return err
		}
		args[i] = []any{ev.ID, ev.AccountID, NullString(string(ev.Environment)), ev.Action, ev.Actor, ev.Target, ev.IP,
			d.Time(ev.Created), d.Strings(ev.Changes), NullString(ev.URL), NullString(ev.Source)}
	}
	if err := tx.ExecBatch(ctx, `INSERT INTO audit_events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args); err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	return nil
}
