package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// CreateCandidate stores c. An id already stored, or an unknown account,
// is an error (EInternal).
func (s Store) CreateCandidate(ctx context.Context, c *pihu.Candidate) error {
	return s.Driver.Write(ctx, "create candidate "+c.ID, "", func(ctx context.Context, tx Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO candidates (`+Candidates.Columns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, c.AccountID, string(c.Environment), c.Name, c.Email, tx.Dialect().Time(c.Created))
		return err
	})
}

// DeleteCandidate erases the candidate id in scope sc and every interview
// of it, in one transaction, leaving tombstones that keep their ids valid
// as cursors. Returns ENotFound as Candidate does.
func (s Store) DeleteCandidate(ctx context.Context, sc pihu.Scope, id string) error {
	at := pihu.Timestamp(s.Driver.Now())
	return s.Driver.Write(ctx, "delete candidate "+id, "", func(ctx context.Context, tx Tx) error {
		now := tx.Dialect().Time(at)
		n, err := tx.Exec(ctx, `UPDATE candidates SET deleted = ?, name = '', email = ''
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`, now, id, sc.AccountID, string(sc.Environment))
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.CandidateNotFound(id)
		}
		if _, err := tx.Exec(ctx, `UPDATE interviews SET deleted = ?, position = '', scheduled_at = NULL
			WHERE candidate_id = ? AND deleted IS NULL`, now, id); err != nil {
			return fmt.Errorf("delete interviews of candidate %s: %w", id, err)
		}
		return nil
	})
}

// CreateInterview stores iv if its candidate exists in its account and
// environment, in one statement that reads the candidate (FOR SHARE where
// rows are locked: a deletion of the candidate in progress is waited for,
// and then the candidate is read as it committed; a deletion that starts
// later waits for this one, and then erases the interview with the
// candidate). Returns pihu.InterviewCandidateNotFound if there is no such
// candidate.
func (s Store) CreateInterview(ctx context.Context, iv *pihu.Interview) error {
	return s.Driver.Write(ctx, "create interview "+iv.ID, "", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		n, err := tx.Exec(ctx, `INSERT INTO interviews (`+Interviews.Columns+`)
			SELECT ?, ?, ?, c.id, ?, ?, ?, ? FROM candidates c
			WHERE c.id = ? AND c.account_id = ? AND c.environment = ? AND c.deleted IS NULL`+d.ForShare,
			iv.ID, iv.AccountID, string(iv.Environment), iv.Position, d.NullTime(iv.ScheduledAt),
			string(iv.Status), d.Time(iv.Created),
			iv.CandidateID, iv.AccountID, string(iv.Environment))
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.InterviewCandidateNotFound(iv.CandidateID)
		}
		return nil
	})
}

// DeleteInterview erases the interview id in scope sc, leaving a tombstone
// that keeps its id valid as a cursor. Returns ENotFound as Interview does.
func (s Store) DeleteInterview(ctx context.Context, sc pihu.Scope, id string) error {
	at := pihu.Timestamp(s.Driver.Now())
	return s.Driver.Write(ctx, "delete interview "+id, "", func(ctx context.Context, tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE interviews SET deleted = ?, position = '', scheduled_at = NULL
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
			tx.Dialect().Time(at), id, sc.AccountID, string(sc.Environment))
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.InterviewNotFound(id)
		}
		return nil
	})
}

// DeleteWebhookEndpoint deletes the endpoint id in scope sc and its
// deliveries, and records the audit events given, atomically, leaving a
// tombstone whose id stays valid as a cursor. Returns ENotFound as
// WebhookEndpoint does.
func (s Store) DeleteWebhookEndpoint(ctx context.Context, sc pihu.Scope, id string, events ...*pihu.AuditEvent) error {
	at := pihu.Timestamp(s.Driver.Now())
	return s.Driver.Write(ctx, "delete webhook endpoint "+id, "", func(ctx context.Context, tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET deleted = ?, url = '', secret = '', previous_secret = '', previous_secret_expires = NULL, description = '', enabled = ?
			WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
			tx.Dialect().Time(at), false, id, sc.AccountID, string(sc.Environment))
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.WebhookEndpointNotFound(id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = ?`, id); err != nil {
			return fmt.Errorf("delete deliveries of webhook endpoint %s: %w", id, err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// PruneWebhooks deletes up to 10,000 deliveries created before before, and
// the events created before it with no delivery left.
func (s Store) PruneWebhooks(ctx context.Context, before time.Time) (int, error) {
	n, err := write(ctx, s, "prune webhooks", "", func(ctx context.Context, tx Tx) (int64, error) {
		b := tx.Dialect().Time(before)
		d, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN
			(SELECT id FROM webhook_deliveries WHERE created < ? LIMIT 10000)`, b)
		if err != nil {
			return 0, fmt.Errorf("prune deliveries: %w", err)
		}
		e, err := tx.Exec(ctx, `DELETE FROM webhook_events WHERE id IN
			(SELECT id FROM webhook_events v WHERE created < ?
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = v.id) LIMIT 10000)`, b)
		if err != nil {
			return 0, fmt.Errorf("prune webhook events: %w", err)
		}
		return d + e, nil
	})
	return int(n), err
}
