package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// CreateAccount stores a, its first key, owner, and the audit events given
// in one transaction, so that no account is ever left without a key. An
// empty owner.AccountID is set to a.ID, and a zero a.Created to the store's
// clock. Returns EParameterMissing or EParameterInvalid on "name" if a is
// invalid.
func (db *DB) CreateAccount(ctx context.Context, a *pihu.Account, owner *pihu.Key, events ...*pihu.AuditEvent) error {
	if err := db.prepareAccount(a, owner); err != nil {
		return err
	}
	return db.inTx(ctx, "create account "+a.ID, func(tx *sql.Tx) error {
		return insertAccount(ctx, tx, a, owner, events)
	})
}

// CreateFirstAccount is CreateAccount if the database holds no account, and
// does nothing (created is false) if it holds one. The check and the insert
// are one immediate transaction, which holds the write lock of the file from
// its start, so that of two servers starting at once on an empty file,
// in one process or two, exactly one creates an account.
func (db *DB) CreateFirstAccount(ctx context.Context, a *pihu.Account, owner *pihu.Key, events ...*pihu.AuditEvent) (created bool, err error) {
	if err := db.prepareAccount(a, owner); err != nil {
		return false, err
	}
	err = db.inTx(ctx, "create first account "+a.ID, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)`).Scan(&exists); err != nil {
			return fmt.Errorf("sqlite: create first account %s: %w", a.ID, err)
		}
		if exists {
			return nil
		}
		if err := insertAccount(ctx, tx, a, owner, events); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

// prepareAccount validates a and owner and fills in their defaults.
func (db *DB) prepareAccount(a *pihu.Account, owner *pihu.Key) error {
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
	return nil
}

func insertAccount(ctx context.Context, tx *sql.Tx, a *pihu.Account, owner *pihu.Key, events []*pihu.AuditEvent) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)`,
		a.ID, a.Name, unixTime(a.Created)); err != nil {
		return fmt.Errorf("sqlite: create account %s: %w", a.ID, err)
	}
	if err := insertKey(ctx, tx, owner); err != nil {
		return err
	}
	return insertEvents(ctx, tx, events)
}

// CreateOwnerKey stores owner, a new key of the existing account
// owner.AccountID, and the audit events given, in one transaction. Returns
// ENotFound, and stores nothing, if the account does not exist.
func (db *DB) CreateOwnerKey(ctx context.Context, owner *pihu.Key, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create owner key "+owner.ID, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)`, owner.AccountID).Scan(&exists); err != nil {
			return fmt.Errorf("sqlite: create owner key %s: %w", owner.ID, err)
		}
		if !exists {
			return pihu.AccountNotFound(owner.AccountID)
		}
		if err := insertKey(ctx, tx, owner); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

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
