package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
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

func endpointNotFound(id string) error {
	return pihu.WebhookEndpointNotFound(id)
}

// CreateWebhookEndpoint stores e and the audit events given, atomically.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create webhook endpoint "+e.ID, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.ID, e.AccountID, string(e.Environment), e.URL, e.Description, e.Events, e.Enabled, e.Secret,
			ts(e.Created), nullTS(e.FailingSince)); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// UpdateWebhookEndpoint stores e's URL, description, events and enabled
// flag, and the audit events given, atomically. Enabling clears
// FailingSince. Returns ENotFound as WebhookEndpoint does.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "update webhook endpoint "+e.ID, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_endpoints
			SET url = $1, description = $2, events = $3,
				failing_since = CASE WHEN $4 AND NOT enabled THEN NULL ELSE failing_since END,
				enabled = $4
			WHERE id = $5 AND account_id = $6 AND environment = $7 AND deleted IS NULL`,
			e.URL, e.Description, e.Events, e.Enabled, e.ID, e.AccountID, string(e.Environment))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return endpointNotFound(e.ID)
		}
		return insertEvents(ctx, tx, events)
	})
}

// deliveryColumns are the columns scanDelivery reads, in its order.
const deliveryColumns = `id, endpoint_id, event_id, event_type, status, attempts, next_attempt, created`

func scanDelivery(row pgx.Row) (*pihu.Delivery, error) {
	var (
		d        pihu.Delivery
		attempts []byte
		next     *time.Time
		created  time.Time
	)
	if err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &attempts, &next, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(attempts, &d.Attempts); err != nil {
		return nil, fmt.Errorf("attempts of delivery %s: %w", d.ID, err)
	}
	d.NextAttempt = utc(next)
	d.Created = created.UTC()
	return &d, nil
}

// ExpiringKeys returns the unrevoked keys that expire after from and no
// later than to, with no event named dedupePrefix and their id yet.
func (db *DB) ExpiringKeys(ctx context.Context, from, to time.Time, minLifetime time.Duration, dedupePrefix string) ([]*pihu.Key, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.KeyColumns+` FROM api_keys k
		WHERE revoked IS NULL AND expires > $1 AND expires <= $2 AND expires - created > $3 * interval '1 second'
			AND NOT EXISTS (SELECT 1 FROM webhook_events WHERE dedupe = $4 || k.id)
		ORDER BY expires LIMIT 1000`, from, to, int64(minLifetime/time.Second), dedupePrefix)
	if err != nil {
		return nil, wrap("expiring keys", err)
	}
	defer rows.Close()
	var keys []*pihu.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, wrap("expiring keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("expiring keys", err)
	}
	return keys, nil
}

// ClaimDeliveries leases up to max pending deliveries due at now, of
// enabled endpoints. The rows are locked FOR UPDATE SKIP LOCKED, so that
// instances claiming at once take different deliveries without waiting
// for each other.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*pihu.Delivery, error) {
	token := pihu.NewID("lease_")
	var out []*pihu.Delivery
	err := db.inTx(ctx, "claim deliveries", func(ctx context.Context, tx pgx.Tx) error {
		out = nil
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET lease = $1, lease_until = $2
			WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE d.status = 'pending' AND d.next_attempt <= $3 AND d.lease_until <= $3 AND e.enabled AND e.deleted IS NULL
				ORDER BY d.next_attempt, d.seq LIMIT $4 FOR UPDATE OF d SKIP LOCKED)`,
			token, now.Add(lease), now, max); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt, d.created,
				e.account_id, e.environment, e.url, e.secret, v.payload, d.lease
			FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events v ON v.id = d.event_id
			WHERE d.lease = $1 ORDER BY d.seq`, token)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				d        pihu.Delivery
				attempts []byte
				next     *time.Time
				created  time.Time
				env      string
			)
			if err := rows.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &attempts, &next, &created,
				&d.AccountID, &env, &d.URL, &d.Secret, &d.Payload, &d.Lease); err != nil {
				return err
			}
			if err := json.Unmarshal(attempts, &d.Attempts); err != nil {
				return fmt.Errorf("attempts of delivery %s: %w", d.ID, err)
			}
			d.Environment = pihu.Environment(env)
			d.NextAttempt = utc(next)
			d.Created = created.UTC()
			out = append(out, &d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishDelivery records an attempt of the claimed delivery d and its
// outcome, and the endpoint's FailingSince, which it returns.
func (db *DB) FinishDelivery(ctx context.Context, d *pihu.Delivery, o pihu.DeliveryOutcome) (*time.Time, error) {
	attempt, err := json.Marshal([]pihu.DeliveryAttempt{o.Attempt})
	if err != nil {
		return nil, fmt.Errorf("postgres: finish delivery %s: %w", d.ID, err)
	}
	status, next := pihu.DeliveryFailed, (*time.Time)(nil)
	switch {
	case o.Delivered:
		status = pihu.DeliveryDelivered
	case o.NextAttempt != nil:
		status, next = pihu.DeliveryPending, nullTS(o.NextAttempt)
	}
	var failing *time.Time
	err = db.inTx(ctx, "finish delivery "+d.ID, func(ctx context.Context, tx pgx.Tx) error {
		failing = nil
		tag, err := tx.Exec(ctx, `UPDATE webhook_deliveries
			SET attempts = attempts || $1::jsonb, status = $2, next_attempt = $3, lease = NULL, lease_until = '-infinity'
			WHERE id = $4 AND lease = $5`, string(attempt), status, next, d.ID, d.Lease)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // the lease was lost: another claim records its own attempt
		}
		if o.Delivered {
			_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1`, d.EndpointID)
			return err
		}
		err = tx.QueryRow(ctx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1)
			WHERE id = $2 RETURNING failing_since`, ts(o.Attempt.At), d.EndpointID).Scan(&failing)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		failing = utc(failing)
		return err
	})
	return failing, err
}
