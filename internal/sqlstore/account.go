package sqlstore

import (
	"context"
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
func (s Store) CreateAccount(ctx context.Context, a *pihu.Account, owner *pihu.Key, events ...*pihu.AuditEvent) error {
	if err := s.prepareAccount(a, owner); err != nil {
		return err
	}
	return s.Driver.Write(ctx, "create account "+a.ID, "", func(ctx context.Context, tx Tx) error {
		return insertAccount(ctx, tx, a, owner, events)
	})
}

// CreateFirstAccount is CreateAccount if the database holds no account, and
// does nothing (created is false) if it holds one. The transaction first
// runs Dialect.LockFirstAccount, if any: of several servers starting at
// once on an empty database, in one process or many, one checks and
// creates while the others wait, then find its account.
func (s Store) CreateFirstAccount(ctx context.Context, a *pihu.Account, owner *pihu.Key, events ...*pihu.AuditEvent) (created bool, err error) {
	if err := s.prepareAccount(a, owner); err != nil {
		return false, err
	}
	return write(ctx, s, "create first account "+a.ID, "", func(ctx context.Context, tx Tx) (bool, error) {
		if lock := tx.Dialect().LockFirstAccount; lock != "" {
			if _, err := tx.Exec(ctx, lock); err != nil {
				return false, err
			}
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)`).Scan(&exists); err != nil || exists {
			return false, err
		}
		return true, insertAccount(ctx, tx, a, owner, events)
	})
}

// prepareAccount validates a and owner and fills in their defaults.
func (s Store) prepareAccount(a *pihu.Account, owner *pihu.Key) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if a.ID == "" || owner == nil {
		return errors.New("create account: an account needs an id and an owner key")
	}
	if owner.AccountID == "" {
		owner.AccountID = a.ID
	}
	if owner.AccountID != a.ID {
		return fmt.Errorf("create account %s: owner key %s belongs to account %s", a.ID, owner.ID, owner.AccountID)
	}
	if a.Created.IsZero() {
		a.Created = s.Driver.Now()
	}
	a.Created = pihu.Timestamp(a.Created)
	return nil
}

func insertAccount(ctx context.Context, tx Tx, a *pihu.Account, owner *pihu.Key, events []*pihu.AuditEvent) error {
	if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)`,
		a.ID, a.Name, tx.Dialect().Time(a.Created)); err != nil {
		return fmt.Errorf("create account %s: %w", a.ID, err)
	}
	if err := InsertKey(ctx, tx, owner); err != nil {
		return err
	}
	return InsertEvents(ctx, tx, events)
}

// CreateOwnerKey stores owner, a new key of the existing account
// owner.AccountID, and the audit events given, in one transaction. Returns
// pihu.AccountNotFound, and stores nothing, if the account does not exist.
func (s Store) CreateOwnerKey(ctx context.Context, owner *pihu.Key, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "create owner key "+owner.ID, "", func(ctx context.Context, tx Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)`, owner.AccountID).Scan(&exists); err != nil {
			return fmt.Errorf("create owner key %s: %w", owner.ID, err)
		}
		if !exists {
			return pihu.AccountNotFound(owner.AccountID)
		}
		if err := InsertKey(ctx, tx, owner); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, events)
	})
}

// ListAccounts returns every account, oldest first (those created in the
// same second in the order they were stored), each with the number of its
// keys neither revoked nor expired at the time at.
func (s Store) ListAccounts(ctx context.Context, at time.Time) ([]*pihu.AccountSummary, error) {
	now := s.Dialect.Time(pihu.Timestamp(at))
	return all(ctx, s, "list accounts", func(r Row) (*pihu.AccountSummary, error) {
		var (
			a       pihu.AccountSummary
			created TimeValue
			policy  string
		)
		if err := r.Scan(&a.ID, &a.Name, &created, &policy, &a.TwoFactorRequired, &a.SSORequired, &a.Keys); err != nil {
			return nil, err
		}
		a.Created, a.LeakPolicy = created.Time(), pihu.LeakPolicy(policy)
		return &a, nil
	}, `SELECT a.id, a.name, a.created, a.leak_policy, a.two_factor_required, a.sso_required,
			(SELECT count(*) FROM api_keys k WHERE k.account_id = a.id
				AND (k.revoked IS NULL OR k.revoked > ?)
				AND (k.expires IS NULL OR k.expires > ?) AND k.enabled)
		FROM accounts a ORDER BY a.created, a.`+s.Dialect.Seq, now, now)
}

// CountAccounts returns how many accounts exist.
func (s Store) CountAccounts(ctx context.Context) (int, error) {
	return read(ctx, s, "count accounts", func(ctx context.Context, c Conn) (n int, err error) {
		return n, c.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	})
}
