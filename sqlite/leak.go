package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
)

// leakColumn is the api_keys.leaked value of l: its JSON, or NULL.
func leakColumn(l *pihu.Leak) (sql.Null[string], error) {
	if l == nil {
		return sql.Null[string]{}, nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return sql.Null[string]{}, err
	}
	return sql.Null[string]{V: string(b), Valid: true}, nil
}

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
		policies := make(map[string]pihu.LeakPolicy)
		for i, r := range reports {
			o, err := recordLeak(ctx, tx, r, policies)
			if err != nil {
				return err
			}
			out[i] = o
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordLeak handles one report inside tx; policies caches the accounts'
// policies as tx reads them.
func recordLeak(ctx context.Context, tx *sql.Tx, r pihu.LeakReport, policies map[string]pihu.LeakPolicy) (pihu.LeakOutcome, error) {
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ? AND account_id = ?`, r.KeyID, r.AccountID))
	if errors.Is(err, sql.ErrNoRows) {
		return pihu.LeakIgnored, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: leaked key %s: %w", r.KeyID, err)
	}
	policy, ok := policies[r.AccountID]
	if !ok {
		if err := tx.QueryRowContext(ctx, `SELECT leak_policy FROM accounts WHERE id = ?`, r.AccountID).Scan(&policy); err != nil {
			return 0, fmt.Errorf("sqlite: leak policy of %s: %w", r.AccountID, err)
		}
		policies[r.AccountID] = policy
	}
	o := r.Leak.LeakAction(k, policy, r.Force)
	if o == pihu.LeakIgnored {
		return o, nil
	}
	leak := r.Leak
	leak.Revoked = o == pihu.LeakRevoked
	col, err := leakColumn(&leak)
	if err != nil {
		return 0, fmt.Errorf("sqlite: leaked key %s: %w", k.ID, err)
	}
	var revoked sql.Null[int64]
	if leak.Revoked {
		revoked = sql.Null[int64]{V: unixTime(leak.At), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET leaked = ?, revoked = coalesce(?, revoked) WHERE id = ?`,
		col, revoked, k.ID); err != nil {
		return 0, fmt.Errorf("sqlite: leaked key %s: %w", k.ID, err)
	}
	return o, insertEvents(ctx, tx, []*pihu.AuditEvent{pihu.NewLeakEvent(leak, r.IP, k)})
}

// SetLeakPolicy sets the leak policy of account id and records the events
// given, atomically. Returns ENotFound if there is no such account.
func (db *DB) SetLeakPolicy(ctx context.Context, id string, p pihu.LeakPolicy, events ...*pihu.AuditEvent) (*pihu.Account, error) {
	if _, err := pihu.ParseLeakPolicy(string(p), "leak_policy"); err != nil {
		return nil, err
	}
	var a pihu.Account
	err := db.inTx(ctx, "set leak policy of "+id, func(tx *sql.Tx) error {
		var created int64
		err := tx.QueryRowContext(ctx, `UPDATE accounts SET leak_policy = ? WHERE id = ? RETURNING id, name, created, leak_policy`,
			string(p), id).Scan(&a.ID, &a.Name, &created, &a.LeakPolicy)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.Errorf(pihu.ENotFound, "No account has the id %q.", id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: set leak policy of %s: %w", id, err)
		}
		a.Created = fromUnix(created)
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}
