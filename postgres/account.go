package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// Account returns the account id. Returns ENotFound if there is none.
func (db *DB) Account(ctx context.Context, id string) (*pihu.Account, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	var (
		a      pihu.Account
		policy string
	)
	err := db.pool.QueryRow(ctx, `SELECT id, name, created, leak_policy FROM accounts WHERE id = $1`, id).
		Scan(&a.ID, &a.Name, &a.Created, &policy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.AccountNotFound(id)
	}
	if err != nil {
		return nil, wrap("account "+id, err)
	}
	a.Created, a.LeakPolicy = a.Created.UTC(), pihu.LeakPolicy(policy)
	return &a, nil
}

// ListAccounts returns every account, oldest first (those created in the
// same second in the order they were stored), each with the number of its
// keys neither revoked nor expired at the time at.
func (db *DB) ListAccounts(ctx context.Context, at time.Time) ([]*pihu.AccountSummary, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT a.id, a.name, a.created, a.leak_policy,
			(SELECT count(*) FROM api_keys k WHERE k.account_id = a.id
				AND (k.revoked IS NULL OR k.revoked > $1)
				AND (k.expires IS NULL OR k.expires > $1))
		FROM accounts a ORDER BY a.created, a.seq`, ts(at))
	if err != nil {
		return nil, wrap("list accounts", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pihu.AccountSummary, error) {
		var (
			s      pihu.AccountSummary
			policy string
		)
		if err := r.Scan(&s.ID, &s.Name, &s.Created, &policy, &s.Keys); err != nil {
			return nil, err
		}
		s.Created, s.LeakPolicy = s.Created.UTC(), pihu.LeakPolicy(policy)
		return &s, nil
	})
	if err != nil {
		return nil, wrap("list accounts", err)
	}
	if list == nil {
		list = []*pihu.AccountSummary{}
	}
	return list, nil
}

// CountAccounts returns how many accounts exist.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, wrap("count accounts", err)
	}
	return n, nil
}
