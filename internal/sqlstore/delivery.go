package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// Deliveries reads webhook deliveries (their attempts a JSON array, as
// text or jsonb).
var Deliveries = Scanner[*pihu.Delivery]{
	Columns: `id, endpoint_id, event_id, event_type, status, attempts, next_attempt, created`,
	Scan: func(row Row) (*pihu.Delivery, error) {
		var d pihu.Delivery
		return scanDelivery(row, &d)
	},
}

// claimColumns are the columns scanClaimed reads, in its order: a
// delivery's, then what sending it takes.
const claimColumns = `d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt, d.created,
	e.account_id, e.environment, e.url, e.secret, v.payload, d.lease, e.previous_secret, e.previous_secret_expires`

// scanDelivery reads a row of Deliveries.Columns, then the columns
// more, into d.
func scanDelivery(row Row, d *pihu.Delivery, more ...any) (*pihu.Delivery, error) {
	var (
		attempts []byte
		next     TimeValue
		created  timeDest
	)
	dest := append([]any{&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &attempts, &next, &created}, more...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(attempts, &d.Attempts); err != nil {
		return nil, fmt.Errorf("attempts of delivery %s: %w", d.ID, err)
	}
	d.NextAttempt, d.Created = next.T, time.Time(created)
	return d, nil
}

// scanClaimed reads a row of claimColumns claimed at now.
func scanClaimed(row Row, now time.Time) (*pihu.Delivery, error) {
	var (
		d       pihu.Delivery
		env     string
		prevTil TimeValue
	)
	if _, err := scanDelivery(row, &d, &d.AccountID, &env, &d.URL, &d.Secret, &d.Payload, &d.Lease, &d.PreviousSecret, &prevTil); err != nil {
		return nil, err
	}
	d.Environment = pihu.Environment(env)
	if prevTil.T == nil || !prevTil.T.After(now) {
		d.PreviousSecret = "" // its overlap has ended: the new secret alone signs
	}
	return &d, nil
}

// ClaimDeliveries leases up to max pending deliveries due at now, of
// enabled endpoints. Where rows are locked, they are locked FOR UPDATE
// SKIP LOCKED (Dialect.SkipLocked), so that instances claiming at once
// take different deliveries without waiting for each other; where the
// transaction is WriteLocked, the conditional UPDATE (only rows whose
// lease has ended) is the claim: two stores never both get a delivery.
func (s Store) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*pihu.Delivery, error) {
	d := s.Dialect
	if d.WriteLocked {
		// Most polls find nothing due: a read tells, without taking the
		// write lock that every other writer waits for.
		if due, err := s.deliveriesDue(ctx, now); err != nil || !due {
			return nil, err
		}
	}
	token := pihu.NewID("lease_")
	return write(ctx, s, "claim deliveries", "", func(ctx context.Context, tx Tx) ([]*pihu.Delivery, error) {
		t := d.Time(now)
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET lease = ?, lease_until = ?
			WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE d.status = 'pending' AND d.next_attempt <= ? AND d.lease_until <= ? AND e.enabled AND e.deleted IS NULL
				ORDER BY d.next_attempt, d.seq LIMIT ?`+d.SkipLocked+`)`,
			token, d.Time(now.Add(lease)), t, t, max); err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, `SELECT `+claimColumns+` FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events v ON v.id = d.event_id
			WHERE d.lease = ? ORDER BY d.seq`, token)
		if err != nil {
			return nil, err
		}
		out, err := collect(rows, func(r Row) (*pihu.Delivery, error) { return scanClaimed(r, now) })
		if len(out) == 0 {
			out = nil
		}
		return out, err
	})
}

// deliveriesDue reports whether a delivery is due at now.
func (s Store) deliveriesDue(ctx context.Context, now time.Time) (bool, error) {
	return read(ctx, s, "claim deliveries", func(ctx context.Context, c Conn) (bool, error) {
		t := s.Dialect.Time(now)
		var one int
		err := c.QueryRow(ctx, `SELECT 1 FROM webhook_deliveries
			WHERE status = 'pending' AND next_attempt <= ? AND lease_until <= ? LIMIT 1`, t, t).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
}

// FinishDelivery records an attempt of the claimed delivery dl and its
// outcome, and the endpoint's FailingSince, which it returns.
func (s Store) FinishDelivery(ctx context.Context, dl *pihu.Delivery, o pihu.DeliveryOutcome) (*time.Time, error) {
	attempt, err := json.Marshal(o.Attempt)
	if err != nil {
		return nil, fmt.Errorf("finish delivery %s: %w", dl.ID, err)
	}
	d := s.Dialect
	status, next := pihu.DeliveryFailed, any(nil)
	switch {
	case o.Delivered:
		status = pihu.DeliveryDelivered
	case o.NextAttempt != nil:
		status, next = pihu.DeliveryPending, d.NullTime(o.NextAttempt)
	}
	return write(ctx, s, "finish delivery "+dl.ID, "", func(ctx context.Context, tx Tx) (*time.Time, error) {
		n, err := tx.Exec(ctx, `UPDATE webhook_deliveries
			SET attempts = `+d.AppendJSON("attempts")+`, status = ?, next_attempt = ?, lease = NULL, lease_until = `+d.Epoch+`
			WHERE id = ? AND lease = ?`, string(attempt), status, next, dl.ID, dl.Lease)
		if err != nil || n == 0 {
			return nil, err // n == 0: the lease was lost: another claim records its own attempt
		}
		if o.Delivered {
			_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?`, dl.EndpointID)
			return nil, err
		}
		var since TimeValue
		err = tx.QueryRow(ctx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?)
			WHERE id = ? RETURNING failing_since`, d.Time(o.Attempt.At), dl.EndpointID).Scan(&since)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return since.T, err
	})
}

// ExpiringKeys returns the unrevoked keys that expire after from and no
// later than to, with no event named dedupePrefix and their id yet.
func (s Store) ExpiringKeys(ctx context.Context, from, to time.Time, minLifetime time.Duration, dedupePrefix string) ([]*pihu.Key, error) {
	d := s.Dialect
	keys, err := all(ctx, s, "expiring keys", d.Keys.Scan, `SELECT `+d.Keys.Columns+` FROM api_keys
		WHERE revoked IS NULL AND expires > ? AND expires <= ? AND expires - created > `+d.Seconds+`
			AND NOT EXISTS (SELECT 1 FROM webhook_events WHERE dedupe = ? || api_keys.id)
		ORDER BY expires LIMIT 1000`, d.Time(from), d.Time(to), int64(minLifetime/time.Second), dedupePrefix)
	if len(keys) == 0 {
		keys = nil
	}
	return keys, err
}

// CreateWebhookEndpoint stores e and the audit events given, atomically.
func (s Store) CreateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "create webhook endpoint "+e.ID, "", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_endpoints (`+d.Endpoints.Columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.AccountID, string(e.Environment), e.URL, e.Description, d.Strings(e.Events), e.Enabled, e.Secret,
			d.Time(e.Created), d.NullTime(e.FailingSince), e.PreviousSecret, d.NullTime(e.PreviousSecretExpires)); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, events)
	})
}

// UpdateWebhookEndpoint stores e's URL, description, events and enabled
// flag, and the audit events given, atomically. Enabling clears
// FailingSince. Returns ENotFound as WebhookEndpoint does.
func (s Store) UpdateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "update webhook endpoint "+e.ID, "", func(ctx context.Context, tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE webhook_endpoints
			SET url = ?, description = ?, events = ?,
				failing_since = CASE WHEN ? AND NOT enabled THEN NULL ELSE failing_since END,
				enabled = ?
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
			e.URL, e.Description, tx.Dialect().Strings(e.Events), e.Enabled, e.Enabled, e.ID, e.AccountID, string(e.Environment))
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.WebhookEndpointNotFound(e.ID)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// Delivery returns the delivery deliveryID of the endpoint endpointID in
// scope sc, with its payload.
func (s Store) Delivery(ctx context.Context, sc pihu.Scope, endpointID, deliveryID string) (*pihu.Delivery, error) {
	if _, err := s.WebhookEndpoint(ctx, sc, endpointID); err != nil {
		return nil, err
	}
	return one(ctx, s, "delivery "+deliveryID, func(row Row) (*pihu.Delivery, error) {
		var d pihu.Delivery
		return scanDelivery(row, &d, &d.Payload)
	}, pihu.DeliveryNotFound(deliveryID), `SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt, d.created, v.payload
		FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
		WHERE d.id = ? AND d.endpoint_id = ?`, deliveryID, endpointID)
}

// QueueWebhookEvent stores ev and one delivery of it, due at once, to the
// endpoint endpointID of ev's account and environment only.
func (s Store) QueueWebhookEvent(ctx context.Context, endpointID string, ev *pihu.WebhookEvent) (*pihu.Delivery, error) {
	return write(ctx, s, "queue webhook event "+ev.ID, "", func(ctx context.Context, tx Tx) (*pihu.Delivery, error) {
		if err := endpointInScope(ctx, tx, pihu.Scope{AccountID: ev.AccountID, Environment: ev.Environment}, endpointID); err != nil {
			return nil, err
		}
		if _, err := insertWebhookEvent(ctx, tx, ev, ""); err != nil {
			return nil, err
		}
		return insertDelivery(ctx, tx, endpointID, ev.ID, ev.Type, ev.Created)
	})
}

// ResendDelivery makes a new delivery, due at once, of the event of the
// delivery deliveryID of the endpoint endpointID in scope sc.
func (s Store) ResendDelivery(ctx context.Context, sc pihu.Scope, endpointID, deliveryID string) (*pihu.Delivery, error) {
	at := pihu.Timestamp(s.Driver.Now())
	return write(ctx, s, "resend delivery "+deliveryID, "", func(ctx context.Context, tx Tx) (*pihu.Delivery, error) {
		if err := endpointInScope(ctx, tx, sc, endpointID); err != nil {
			return nil, err
		}
		var eventID, typ string
		err := tx.QueryRow(ctx, `SELECT d.event_id, d.event_type FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
			WHERE d.id = ? AND d.endpoint_id = ?`, deliveryID, endpointID).Scan(&eventID, &typ)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.DeliveryNotFound(deliveryID)
		}
		if err != nil {
			return nil, err
		}
		return insertDelivery(ctx, tx, endpointID, eventID, typ, at)
	})
}

// endpointInScope returns ENotFound unless the endpoint id is in scope
// sc.
func endpointInScope(ctx context.Context, tx Tx, sc pihu.Scope, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM webhook_endpoints WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
		id, sc.AccountID, string(sc.Environment)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return pihu.WebhookEndpointNotFound(id)
	}
	return err
}

// insertDelivery stores a delivery of the event eventID to the endpoint
// endpointID, due at created, and returns it.
func insertDelivery(ctx context.Context, tx Tx, endpointID, eventID, typ string, created time.Time) (*pihu.Delivery, error) {
	dl := &pihu.Delivery{ID: pihu.NewID(pihu.PrefixDelivery), EndpointID: endpointID, EventID: eventID, EventType: typ,
		Status: pihu.DeliveryPending, Attempts: []pihu.DeliveryAttempt{}, NextAttempt: &created, Created: created}
	t := tx.Dialect().Time(created)
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, status, next_attempt, created)
		VALUES (?, ?, ?, ?, 'pending', ?, ?)`, dl.ID, endpointID, eventID, typ, t, t); err != nil {
		return nil, fmt.Errorf("delivery of webhook event %s: %w", eventID, err)
	}
	return dl, nil
}

// RollWebhookSecret makes e.Secret the endpoint's secret; the one it
// replaces, as stored (not as e was read: of two rolls at once, the later
// keeps the earlier's secret), signs too until e.PreviousSecretExpires.
func (s Store) RollWebhookSecret(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "roll webhook secret "+e.ID, "", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		n, err := tx.Exec(ctx, `UPDATE webhook_endpoints
			SET previous_secret = CASE WHEN ? THEN secret ELSE '' END, previous_secret_expires = ?, secret = ?
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
			e.PreviousSecretExpires != nil, d.NullTime(e.PreviousSecretExpires), e.Secret, e.ID, e.AccountID, string(e.Environment))
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.WebhookEndpointNotFound(e.ID)
		}
		return InsertEvents(ctx, tx, events)
	})
}
