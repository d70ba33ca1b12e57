package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	return db.inTx(ctx, "create account "+a.ID, func(ctx context.Context, tx pgx.Tx) error {
		return insertAccount(ctx, tx, a, owner, events)
	})
}

// CreateFirstAccount is CreateAccount if the database holds no account, and
// does nothing (created is false) if it holds one. The transaction first
// takes an advisory lock held until it ends, so that of several servers
// starting at once on an empty database, in one process or many, one
// checks and creates while the others wait, then find its account.
func (db *DB) CreateFirstAccount(ctx context.Context, a *pihu.Account, owner *pihu.Key, events ...*pihu.AuditEvent) (created bool, err error) {
	if err := db.prepareAccount(a, owner); err != nil {
		return false, err
	}
	err = db.inTx(ctx, "create first account "+a.ID, func(ctx context.Context, tx pgx.Tx) error {
		created = false
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockFirstAccount); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)`).Scan(&exists); err != nil {
			return err
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
		return errors.New("postgres: create account: an account needs an id and an owner key")
	}
	if owner.AccountID == "" {
		owner.AccountID = a.ID
	}
	if owner.AccountID != a.ID {
		return fmt.Errorf("postgres: create account %s: owner key %s belongs to account %s", a.ID, owner.ID, owner.AccountID)
	}
	if a.Created.IsZero() {
		a.Created = db.Now()
	}
	a.Created = pihu.Timestamp(a.Created)
	return nil
}

func insertAccount(ctx context.Context, tx pgx.Tx, a *pihu.Account, owner *pihu.Key, events []*pihu.AuditEvent) error {
	if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created) VALUES ($1, $2, $3)`,
		a.ID, a.Name, ts(a.Created)); err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
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
	return db.inTx(ctx, "create owner key "+owner.ID, func(ctx context.Context, tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)`, owner.AccountID).Scan(&exists); err != nil {
			return err
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
