package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
