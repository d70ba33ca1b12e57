package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// Events reads audit events (their changes a JSON object, as text or
// jsonb).
var Events = Scanner[*pihu.AuditEvent]{
	Columns: eventColumns,
	Scan: func(row Row) (*pihu.AuditEvent, error) {
		var (
			ev               pihu.AuditEvent
			env, url, source sql.Null[string]
			created          timeDest
			changes          []byte
		)
		if err := row.Scan(&ev.ID, &ev.AccountID, &env, &ev.Action, &ev.Actor, &ev.Target, &ev.IP, &created, &changes, &url, &source); err != nil {
			return nil, err
		}
		if changes != nil {
			if err := json.Unmarshal(changes, &ev.Changes); err != nil {
				return nil, fmt.Errorf("changes of event %s: %w", ev.ID, err)
			}
		}
		ev.Environment, ev.Created = pihu.Environment(env.V), time.Time(created)
		ev.URL, ev.Source = url.V, source.V
		return &ev, nil
	},
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
		var changes any
		if ev.Changes != nil {
			b, err := json.Marshal(ev.Changes)
			if err != nil {
				return fmt.Errorf("record event %s: %w", ev.ID, err)
			}
			changes = string(b)
		}
		args[i] = []any{ev.ID, ev.AccountID, NullString(string(ev.Environment)), ev.Action, ev.Actor, ev.Target, ev.IP,
			d.Time(ev.Created), changes, NullString(ev.URL), NullString(ev.Source)}
	}
	if err := tx.ExecBatch(ctx, `INSERT INTO audit_events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args); err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	return nil
}
