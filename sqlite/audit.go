package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// eventColumns are the columns scanEvent reads, in its order.
const eventColumns = `id, account_id, environment, action, actor, target, ip, created, changes, url, source`

// insertEvents stores audit events, inside the transaction of the change
// they record, and the webhook events of the key changes among them (see
// outboxKeyEvent), so that a change committed has its deliveries
// committed. Many events (a report of leaked keys) are written with one
// prepared statement, and the endpoints subscribed to each kind of event
// are read once.
func insertEvents(ctx context.Context, e *sql.Tx, events []*pihu.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	var insert *sql.Stmt
	if len(events) > 1 {
		var err error
		if insert, err = e.PrepareContext(ctx, insertEventSQL); err != nil {
			return fmt.Errorf("sqlite: record events: %w", err)
		}
		defer insert.Close()
	}
	subs := make(sqlstore.Subscriptions)
	for _, ev := range events {
		env := sql.Null[string]{V: string(ev.Environment), Valid: ev.Environment != ""}
		if err := sqlstore.OutboxKeyEvent(ctx, newTxn(e), ev, subs); err != nil {
			return err
		}
		var changes sql.Null[string]
		if ev.Changes != nil {
			b, _ := json.Marshal(ev.Changes)
			changes = sql.Null[string]{V: string(b), Valid: true}
		}
		args := []any{ev.ID, ev.AccountID, env, ev.Action, ev.Actor, ev.Target, ev.IP, unixTime(ev.Created), changes,
			sql.Null[string]{V: ev.URL, Valid: ev.URL != ""}, sql.Null[string]{V: ev.Source, Valid: ev.Source != ""}}
		var err error
		if insert != nil {
			_, err = insert.ExecContext(ctx, args...)
		} else {
			_, err = e.ExecContext(ctx, insertEventSQL, args...)
		}
		if err != nil {
			return fmt.Errorf("sqlite: record event %s: %w", ev.ID, err)
		}
	}
	return nil
}

const insertEventSQL = `INSERT INTO audit_events (` + eventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func scanEvent(row rowScanner) (*pihu.AuditEvent, error) {
	var (
		ev      pihu.AuditEvent
		env     sql.Null[string]
		created int64
		changes sql.Null[string]
		url     sql.Null[string]
		source  sql.Null[string]
	)
	if err := row.Scan(&ev.ID, &ev.AccountID, &env, &ev.Action, &ev.Actor, &ev.Target, &ev.IP, &created, &changes, &url, &source); err != nil {
		return nil, err
	}
	ev.URL, ev.Source = url.V, source.V
	if changes.Valid {
		if err := json.Unmarshal([]byte(changes.V), &ev.Changes); err != nil {
			return nil, fmt.Errorf("changes of event %s: %w", ev.ID, err)
		}
	}
	ev.Environment = pihu.Environment(env.V)
	ev.Created = fromUnix(created)
	return &ev, nil
}
