package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
)

// CreateAccount stores a and its first key, owner, in one transaction, so
// that no account is ever left without a key. An empty owner.AccountID is
// set to a.ID, and a zero a.Created to the store's clock. Returns
// EParameterMissing or EParameterInvalid on "name" if a is invalid.
func (db *DB) CreateAccount(ctx context.Context, a *pihu.Account, owner *pihu.Key) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if a.ID == "" || owner == nil {
		return errors.New("sqlite: create account: an account needs an id and an owner key")
	}
	if owner.AccountID == "" {
		owner.AccountID = a.ID
	}
	if owner.AccountID != a.ID {
		return fmt.Errorf("sqlite: create account %s: owner key %s belongs to account %s", a.ID, owner.ID, owner.AccountID)
	}
	if a.Created.IsZero() {
		a.Created = db.Now()
	}
	a.Created = pihu.Timestamp(a.Created)

	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: create account %s: %w", a.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)`,
		a.ID, a.Name, unixTime(a.Created)); err != nil {
		return fmt.Errorf("sqlite: create account %s: %w", a.ID, err)
	}
	if err := insertKey(ctx, tx, owner); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: create account %s: %w", a.ID, err)
	}
	return nil
}

// Account returns the account id. Returns ENotFound if there is none.
func (db *DB) Account(ctx context.Context, id string) (*pihu.Account, error) {
	var (
		a       pihu.Account
		created int64
	)
	err := db.db.QueryRowContext(ctx, `SELECT id, name, created FROM accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.Errorf(pihu.ENotFound, "No account has the id %q.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: account %s: %w", id, err)
	}
	a.Created = fromUnix(created)
	return &a, nil
}

// CountAccounts returns how many accounts exist.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count accounts: %w", err)
	}
	return n, nil
}
