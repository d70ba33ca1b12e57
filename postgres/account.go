package postgres

import (
	"context"
	"errors"

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
