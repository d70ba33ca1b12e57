package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
)

// RecordLeaks handles the reports in one transaction: each key is read as
// stored (FOR UPDATE where rows are locked, so that two reports of the
// same key at once are handled one after the other), with its account's
// policy, and revoked or flagged as pihu.Leak.LeakAction decides, with its
// api_key.leaked event. A key reported twice is handled once.
func (s Store) RecordLeaks(ctx context.Context, reports []pihu.LeakReport) ([]pihu.LeakOutcome, error) {
	out := make([]pihu.LeakOutcome, len(reports))
	if len(reports) == 0 {
		return out, nil
	}
	err := s.Driver.Write(ctx, "record leaked keys", "", func(ctx context.Context, tx Tx) error {
		policies := make(map[string]pihu.LeakPolicy)
		var events []*pihu.AuditEvent
		for i, r := range reports {
			o, ev, err := recordLeak(ctx, tx, r, policies)
			if err != nil {
				return err
			}
			out[i] = o
			if ev != nil {
				events = append(events, ev)
			}
		}
		// After every change: an event's webhook payload is the key as
		// it is at the end of the transaction, the same key reported
		// twice being changed once.
		return InsertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordLeak handles one report inside tx: its outcome, and the event to
// record, if any. policies caches the accounts' policies as tx reads them.
func recordLeak(ctx context.Context, tx Tx, r pihu.LeakReport, policies map[string]pihu.LeakPolicy) (pihu.LeakOutcome, *pihu.AuditEvent, error) {
	d := tx.Dialect()
	k, err := d.Keys.Scan(tx.QueryRow(ctx, `SELECT `+d.Keys.Columns+` FROM api_keys WHERE id = ? AND account_id = ?`+d.ForUpdate, r.KeyID, r.AccountID))
	if errors.Is(err, sql.ErrNoRows) {
		return pihu.LeakIgnored, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("leaked key %s: %w", r.KeyID, err)
	}
	policy, ok := policies[r.AccountID]
	if !ok {
		var p string
		if err := tx.QueryRow(ctx, `SELECT leak_policy FROM accounts WHERE id = ?`, r.AccountID).Scan(&p); err != nil {
			return 0, nil, fmt.Errorf("leak policy of %s: %w", r.AccountID, err)
		}
		policy = pihu.LeakPolicy(p)
		policies[r.AccountID] = policy
	}
	o := r.Leak.LeakAction(k, policy, r.Force)
	if o == pihu.LeakIgnored {
		return o, nil, nil
	}
	leak := r.Leak
	leak.Revoked = o == pihu.LeakRevoked
	col, err := LeakArg(&leak)
	if err != nil {
		return 0, nil, fmt.Errorf("leaked key %s: %w", k.ID, err)
	}
	var revoked any
	if leak.Revoked {
		revoked = d.Time(leak.At)
	}
	if _, err := tx.Exec(ctx, `UPDATE api_keys SET leaked = ?, revoked = coalesce(?, revoked) WHERE id = ?`, col, revoked, k.ID); err != nil {
		return 0, nil, fmt.Errorf("leaked key %s: %w", k.ID, err)
	}
	return o, pihu.NewLeakEvent(leak, r.IP, k), nil
}
