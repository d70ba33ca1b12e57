package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// Account returns the account id. Returns ENotFound if there is none.
func (db *DB) Account(ctx context.Context, id string) (*pihu.Account, error) {
	var (
		a       pihu.Account
		created int64
	)
	err := db.account.QueryRowContext(ctx, id).Scan(&a.ID, &a.Name, &created, &a.LeakPolicy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.AccountNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: account %s: %w", id, err)
	}
	a.Created = fromUnix(created)
	return &a, nil
}

// ListAccounts returns every account, oldest first (those created in the
// same second in the order they were stored), each with the number of its keys neither revoked nor expired at
// the time at.
func (db *DB) ListAccounts(ctx context.Context, at time.Time) ([]*pihu.AccountSummary, error) {
	now := unixTime(pihu.Timestamp(at))
	rows, err := db.db.QueryContext(ctx, `SELECT a.id, a.name, a.created, a.leak_policy,
			(SELECT count(*) FROM api_keys k WHERE k.account_id = a.id
				AND (k.revoked IS NULL OR k.revoked > ?)
				AND (k.expires IS NULL OR k.expires > ?))
		FROM accounts a ORDER BY a.created, a.rowid`, now, now)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	defer rows.Close()
	list := []*pihu.AccountSummary{}
	for rows.Next() {
		var (
			s       pihu.AccountSummary
			created int64
		)
		if err := rows.Scan(&s.ID, &s.Name, &created, &s.LeakPolicy, &s.Keys); err != nil {
			return nil, fmt.Errorf("sqlite: list accounts: %w", err)
		}
		s.Created = fromUnix(created)
		list = append(list, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	return list, nil
}

// CountAccounts returns how many accounts exist.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count accounts: %w", err)
	}
	return n, nil
}
