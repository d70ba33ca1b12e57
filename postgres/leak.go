package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// RecordLeaks handles the reports in one transaction: each key is read as
// stored (FOR UPDATE, so that two reports of the same key at once are
// handled one after the other), with its account's policy, and revoked or
// flagged as pihu.Leak.LeakAction decides, with its api_key.leaked event.
// A key reported twice is handled once.
func (db *DB) RecordLeaks(ctx context.Context, reports []pihu.LeakReport) ([]pihu.LeakOutcome, error) {
	out := make([]pihu.LeakOutcome, len(reports))
	if len(reports) == 0 {
		return out, nil
	}
	err := db.inTx(ctx, "record leaked keys", func(ctx context.Context, tx pgx.Tx) error {
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
func recordLeak(ctx context.Context, tx pgx.Tx, r pihu.LeakReport, policies map[string]pihu.LeakPolicy) (pihu.LeakOutcome, error) {
	k, err := scanKey(tx.QueryRow(ctx, `SELECT `+sqlstore.KeyColumns+` FROM api_keys WHERE id = $1 AND account_id = $2 FOR UPDATE`, r.KeyID, r.AccountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return pihu.LeakIgnored, nil
	}
	if err != nil {
		return 0, fmt.Errorf("leaked key %s: %w", r.KeyID, err)
	}
	policy, ok := policies[r.AccountID]
	if !ok {
		var p string
		if err := tx.QueryRow(ctx, `SELECT leak_policy FROM accounts WHERE id = $1`, r.AccountID).Scan(&p); err != nil {
			return 0, fmt.Errorf("leak policy of %s: %w", r.AccountID, err)
		}
		policy = pihu.LeakPolicy(p)
		policies[r.AccountID] = policy
	}
	o := r.Leak.LeakAction(k, policy, r.Force)
	if o == pihu.LeakIgnored {
		return o, nil
	}
	leak := r.Leak
	leak.Revoked = o == pihu.LeakRevoked
	col, err := sqlstore.LeakArg(&leak)
	if err != nil {
		return 0, fmt.Errorf("leaked key %s: %w", k.ID, err)
	}
	var revoked *time.Time
	if leak.Revoked {
		at := ts(leak.At)
		revoked = &at
	}
	if _, err := tx.Exec(ctx, `UPDATE api_keys SET leaked = $1, revoked = coalesce($2, revoked) WHERE id = $3`,
		col, revoked, k.ID); err != nil {
		return 0, fmt.Errorf("leaked key %s: %w", k.ID, err)
	}
	return o, insertEvents(ctx, tx, []*pihu.AuditEvent{pihu.NewLeakEvent(leak, r.IP, k)})
}
