package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
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

func endpointNotFound(id string) error {
	return pihu.WebhookEndpointNotFound(id)
}

// CreateWebhookEndpoint stores e and the audit events given, atomically.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	types, err := json.Marshal(e.Events)
	if err != nil {
		return fmt.Errorf("sqlite: create webhook endpoint %s: %w", e.ID, err)
	}
	return db.inTx(ctx, "create webhook endpoint "+e.ID, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.AccountID, string(e.Environment), e.URL, e.Description, string(types), e.Enabled, e.Secret,
			unixTime(e.Created), nullTime(e.FailingSince)); err != nil {
			return fmt.Errorf("sqlite: create webhook endpoint %s: %w", e.ID, err)
		}
		return insertEvents(ctx, tx, events)
	})
}

// UpdateWebhookEndpoint stores e's URL, description, events and enabled
// flag, and the audit events given, atomically. Enabling clears
// FailingSince. Returns ENotFound as WebhookEndpoint does.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	types, err := json.Marshal(e.Events)
	if err != nil {
		return fmt.Errorf("sqlite: update webhook endpoint %s: %w", e.ID, err)
	}
	return db.inTx(ctx, "update webhook endpoint "+e.ID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints
			SET url = ?, description = ?, events = ?,
				failing_since = CASE WHEN ? AND NOT enabled THEN NULL ELSE failing_since END,
				enabled = ?
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
			e.URL, e.Description, string(types), e.Enabled, e.Enabled, e.ID, e.AccountID, string(e.Environment))
		if err != nil {
			return fmt.Errorf("sqlite: update webhook endpoint %s: %w", e.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: update webhook endpoint %s: %w", e.ID, err)
		} else if n == 0 {
			return endpointNotFound(e.ID)
		}
		return insertEvents(ctx, tx, events)
	})
}

// deliveryColumns are the columns scanDelivery reads, in its order.
const deliveryColumns = `id, endpoint_id, event_id, event_type, status, attempts, next_attempt, created`

func scanDelivery(row rowScanner) (*pihu.Delivery, error) {
	var (
		d        pihu.Delivery
		attempts string
		next     sql.Null[int64]
		created  int64
	)
	if err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &attempts, &next, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(attempts), &d.Attempts); err != nil {
		return nil, fmt.Errorf("attempts of delivery %s: %w", d.ID, err)
	}
	d.NextAttempt = fromNullUnix(next)
	d.Created = fromUnix(created)
	return &d, nil
}

// ExpiringKeys returns the unrevoked keys that expire after from and no
// later than to, with no event named dedupePrefix and their id yet.
func (db *DB) ExpiringKeys(ctx context.Context, from, to time.Time, minLifetime time.Duration, dedupePrefix string) ([]*pihu.Key, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+sqlstore.KeyColumns+` FROM api_keys k
		WHERE revoked IS NULL AND expires > ? AND expires <= ? AND expires - created > ?
			AND NOT EXISTS (SELECT 1 FROM webhook_events WHERE dedupe = ? || k.id)
		ORDER BY expires LIMIT 1000`, unixTime(from), unixTime(to), int64(minLifetime/time.Second), dedupePrefix)
	if err != nil {
		return nil, fmt.Errorf("sqlite: expiring keys: %w", err)
	}
	defer rows.Close()
	var keys []*pihu.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: expiring keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// claimColumns are the columns scanClaimed reads, in its order.
const claimColumns = `d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt, d.created,
	e.account_id, e.environment, e.url, e.secret, v.payload, d.lease`

func scanClaimed(rows *sql.Rows) (*pihu.Delivery, error) {
	var (
		d        pihu.Delivery
		attempts string
		next     sql.Null[int64]
		created  int64
	)
	if err := rows.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.Status, &attempts, &next, &created,
		&d.AccountID, &d.Environment, &d.URL, &d.Secret, &d.Payload, &d.Lease); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(attempts), &d.Attempts); err != nil {
		return nil, fmt.Errorf("attempts of delivery %s: %w", d.ID, err)
	}
	d.NextAttempt = fromNullUnix(next)
	d.Created = fromUnix(created)
	return &d, nil
}

// ClaimDeliveries leases up to max pending deliveries due at now, of
// enabled endpoints. SQLite takes one writer at a time, so the
// conditional UPDATE (only rows whose lease has ended) is the claim: two
// stores on one file never both get a delivery.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, max int) ([]*pihu.Delivery, error) {
	// Most polls find nothing due: a read tells, without taking the
	// write lock that every other writer of the file waits for.
	var due int
	err := db.db.QueryRowContext(ctx, `SELECT 1 FROM webhook_deliveries
		WHERE status = 'pending' AND next_attempt <= ? AND lease_until <= ? LIMIT 1`, now.Unix(), now.Unix()).Scan(&due)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	token := pihu.NewID("lease_")
	var out []*pihu.Delivery
	err = db.inTx(ctx, "claim deliveries", func(tx *sql.Tx) error {
		n := now.Unix()
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET lease = ?, lease_until = ?
			WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE d.status = 'pending' AND d.next_attempt <= ? AND d.lease_until <= ? AND e.enabled AND e.deleted IS NULL
				ORDER BY d.next_attempt, d.seq LIMIT ?)`,
			token, now.Add(lease).Unix(), n, n, max); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+claimColumns+` FROM webhook_deliveries d
			JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events v ON v.id = d.event_id
			WHERE d.lease = ? ORDER BY d.seq`, token)
		if err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanClaimed(rows)
			if err != nil {
				return fmt.Errorf("sqlite: claim deliveries: %w", err)
			}
			out = append(out, d)
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
	attempt, err := json.Marshal(o.Attempt)
	if err != nil {
		return nil, fmt.Errorf("sqlite: finish delivery %s: %w", d.ID, err)
	}
	status, next := pihu.DeliveryFailed, sql.Null[int64]{}
	switch {
	case o.Delivered:
		status = pihu.DeliveryDelivered
	case o.NextAttempt != nil:
		status, next = pihu.DeliveryPending, nullTime(o.NextAttempt)
	}
	var failing *time.Time
	err = db.inTx(ctx, "finish delivery "+d.ID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries
			SET attempts = json_insert(attempts, '$[#]', json(?)), status = ?, next_attempt = ?, lease = NULL, lease_until = 0
			WHERE id = ? AND lease = ?`, string(attempt), status, next, d.ID, d.Lease)
		if err != nil {
			return fmt.Errorf("sqlite: finish delivery %s: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // the lease was lost: another claim records its own attempt
		}
		at := unixTime(o.Attempt.At)
		var since sql.Null[int64]
		if o.Delivered {
			_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?`, d.EndpointID)
		} else {
			err = tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?)
				WHERE id = ? RETURNING failing_since`, at, d.EndpointID).Scan(&since)
			if errors.Is(err, sql.ErrNoRows) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("sqlite: finish delivery %s: %w", d.ID, err)
		}
		failing = fromNullUnix(since)
		return nil
	})
	return failing, err
}
