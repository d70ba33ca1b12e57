package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/pihu-ai/pihu"
)

// Subscriptions keeps, within one transaction, the endpoints read so far
// that subscribe to an event, so that many events of one kind (a report of
// leaked keys) read them once. The zero value (nil) reads them each time.
type Subscriptions map[subscription][]string

// subscription names the endpoints of an account and environment
// subscribed to an event type.
type subscription struct {
	accountID string
	env       pihu.Environment
	typ       string
}

// OutboxKeyEvent writes, inside the transaction tx of a key change, the
// webhook event of the audit event ev if it is a key change endpoints may
// subscribe to, with a delivery to every enabled endpoint of the key's
// account and environment that does. The payload is the key as tx sees it
// after the change. Nothing is written when no endpoint subscribes.
func OutboxKeyEvent(ctx context.Context, tx Tx, ev *pihu.AuditEvent, subs Subscriptions) error {
	switch ev.Action {
	case pihu.EventKeyCreated, pihu.EventKeyRevoked, pihu.EventKeyRotated, pihu.EventKeyLeaked,
		pihu.EventKeyDisabled, pihu.EventKeyEnabled:
	default:
		return nil
	}
	if !strings.HasPrefix(ev.Target, pihu.PrefixKey) || ev.Environment == "" {
		return nil
	}
	endpoints, err := subs.endpoints(ctx, tx, ev.AccountID, ev.Environment, ev.Action)
	if err != nil || len(endpoints) == 0 {
		return err
	}
	d := tx.Dialect()
	k, err := d.Keys.Scan(tx.QueryRow(ctx, `SELECT `+d.Keys.Columns+` FROM api_keys WHERE id = ? AND account_id = ?`, ev.Target, ev.AccountID))
	if err != nil {
		return fmt.Errorf("webhook event %s: key %s: %w", ev.ID, ev.Target, err)
	}
	hide, err := creatorHidden(ctx, tx, k)
	if err != nil {
		return err
	}
	wev, err := pihu.NewKeyEvent(ev.ID, ev.Action, k, hide, ev.Created)
	if err != nil {
		return err
	}
	if _, err := insertWebhookEvent(ctx, tx, wev, ""); err != nil {
		return err
	}
	return insertDeliveries(ctx, tx, wev, endpoints)
}

// creatorHidden reports whether k's creator must be left out of its
// events: a test key's creator that is a live key, which test endpoints may
// not learn about.
func creatorHidden(ctx context.Context, tx Tx, k *pihu.Key) (bool, error) {
	if k.Environment != pihu.Test || k.CreatedBy == "" {
		return false, nil
	}
	var env string
	err := tx.QueryRow(ctx, `SELECT environment FROM api_keys WHERE id = ?`, k.CreatedBy).Scan(&env)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("creator of key %s: %w", k.ID, err)
	}
	return env != string(pihu.Test), nil
}

// endpoints returns the ids of the enabled endpoints of the account and
// environment subscribed to typ, oldest first, from subs if read already.
func (subs Subscriptions) endpoints(ctx context.Context, tx Tx, accountID string, env pihu.Environment, typ string) ([]string, error) {
	sub := subscription{accountID, env, typ}
	if ids, ok := subs[sub]; ok {
		return ids, nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM webhook_endpoints
		WHERE account_id = ? AND environment = ? AND enabled AND deleted IS NULL AND `+tx.Dialect().HasEvent+`
		ORDER BY seq`, accountID, string(env), typ)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints of %s: %w", accountID, err)
	}
	ids, err := collect(rows, func(r Row) (id string, err error) { return id, r.Scan(&id) })
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints of %s: %w", accountID, err)
	}
	if subs != nil {
		subs[sub] = ids
	}
	return ids, nil
}

// insertWebhookEvent stores ev, named dedupe if not "", and reports
// whether it did: not if an event named dedupe is stored already. The
// unique constraint on the name decides between stores that emit the
// same event at once.
func insertWebhookEvent(ctx context.Context, tx Tx, ev *pihu.WebhookEvent, dedupe string) (bool, error) {
	n, err := tx.Exec(ctx, `INSERT INTO webhook_events (id, account_id, environment, type, created, payload, dedupe)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe) DO NOTHING`,
		ev.ID, ev.AccountID, string(ev.Environment), ev.Type, tx.Dialect().Time(ev.Created), ev.Payload, NullString(dedupe))
	if err != nil {
		return false, fmt.Errorf("webhook event %s: %w", ev.ID, err)
	}
	return n > 0, nil
}

// insertDeliveries stores a delivery of ev to each endpoint, due at once.
func insertDeliveries(ctx context.Context, tx Tx, ev *pihu.WebhookEvent, endpoints []string) error {
	created := tx.Dialect().Time(ev.Created)
	for _, id := range endpoints {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, next_attempt, created)
			VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
			pihu.NewID(pihu.PrefixDelivery), id, ev.ID, ev.Type, created, created); err != nil {
			return fmt.Errorf("delivery of webhook event %s: %w", ev.ID, err)
		}
	}
	return nil
}

// EmitWebhookEvent stores ev with a delivery to each enabled endpoint of
// its account and environment subscribed to its type (see
// pihu.WebhookStore.EmitWebhookEvent). An event named dedupe already
// stored, by this store or another, is not stored again: emitted is
// false. An event without a name and without an endpoint is not stored.
func EmitWebhookEvent(ctx context.Context, tx Tx, ev *pihu.WebhookEvent, dedupe string) (emitted bool, err error) {
	if dedupe != "" {
		if stored, err := insertWebhookEvent(ctx, tx, ev, dedupe); err != nil || !stored {
			return false, err
		}
	}
	endpoints, err := Subscriptions(nil).endpoints(ctx, tx, ev.AccountID, ev.Environment, ev.Type)
	if err != nil {
		return false, err
	}
	if dedupe == "" {
		if len(endpoints) == 0 {
			return false, nil
		}
		if _, err := insertWebhookEvent(ctx, tx, ev, ""); err != nil {
			return false, err
		}
	}
	if err := insertDeliveries(ctx, tx, ev, endpoints); err != nil {
		return false, err
	}
	return true, nil
}
