package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// RecordLeaks handles the reports in one transaction: each key is read as
// stored, with its account's policy, and revoked or flagged as
// pihu.Leak.LeakAction decides, with its api_key.leaked event. A key
// reported twice is handled once.
func (db *DB) RecordLeaks(ctx context.Context, reports []pihu.LeakReport) ([]pihu.LeakOutcome, error) {
	out := make([]pihu.LeakOutcome, len(reports))
	if len(reports) == 0 {
		return out, nil
	}
	err := db.inTx(ctx, "record leaked keys", func(tx *sql.Tx) error {
		lt, err := newLeakTx(ctx, tx)
		if err != nil {
			return err
		}
		defer lt.close()
		var events []*pihu.AuditEvent
		for i, r := range reports {
			o, ev, err := lt.record(ctx, r)
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
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// leakTx is a transaction of RecordLeaks, with its statements prepared
// once for every report, and the accounts' policies as it read them.
type leakTx struct {
	tx               *sql.Tx
	selectKey, apply *sql.Stmt
	policies         map[string]pihu.LeakPolicy
}

func newLeakTx(ctx context.Context, tx *sql.Tx) (*leakTx, error) {
	lt := &leakTx{tx: tx, policies: make(map[string]pihu.LeakPolicy)}
	var err error
	if lt.selectKey, err = tx.PrepareContext(ctx, `SELECT `+sqlstore.KeyColumns+` FROM api_keys WHERE id = ? AND account_id = ?`); err != nil {
		return nil, fmt.Errorf("sqlite: record leaked keys: %w", err)
	}
	if lt.apply, err = tx.PrepareContext(ctx, `UPDATE api_keys SET leaked = ?, revoked = coalesce(?, revoked) WHERE id = ?`); err != nil {
		lt.selectKey.Close()
		return nil, fmt.Errorf("sqlite: record leaked keys: %w", err)
	}
	return lt, nil
}

func (lt *leakTx) close() {
	lt.selectKey.Close()
	lt.apply.Close()
}

// record handles one report: its outcome, and the event to record, if
// any.
func (lt *leakTx) record(ctx context.Context, r pihu.LeakReport) (pihu.LeakOutcome, *pihu.AuditEvent, error) {
	k, err := scanKey(lt.selectKey.QueryRowContext(ctx, r.KeyID, r.AccountID))
	if errors.Is(err, sql.ErrNoRows) {
		return pihu.LeakIgnored, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: leaked key %s: %w", r.KeyID, err)
	}
	policy, ok := lt.policies[r.AccountID]
	if !ok {
		if err := lt.tx.QueryRowContext(ctx, `SELECT leak_policy FROM accounts WHERE id = ?`, r.AccountID).Scan(&policy); err != nil {
			return 0, nil, fmt.Errorf("sqlite: leak policy of %s: %w", r.AccountID, err)
		}
		lt.policies[r.AccountID] = policy
	}
	o := r.Leak.LeakAction(k, policy, r.Force)
	if o == pihu.LeakIgnored {
		return o, nil, nil
	}
	leak := r.Leak
	leak.Revoked = o == pihu.LeakRevoked
	col, err := sqlstore.LeakArg(&leak)
	if err != nil {
		return 0, nil, fmt.Errorf("sqlite: leaked key %s: %w", k.ID, err)
	}
	var revoked sql.Null[int64]
	if leak.Revoked {
		revoked = sql.Null[int64]{V: unixTime(leak.At), Valid: true}
	}
	if _, err := lt.apply.ExecContext(ctx, col, revoked, k.ID); err != nil {
		return 0, nil, fmt.Errorf("sqlite: leaked key %s: %w", k.ID, err)
	}
	return o, pihu.NewLeakEvent(leak, r.IP, k), nil
}
