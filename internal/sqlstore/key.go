package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pihu-ai/pihu"
)

// KeyColumns are the columns of api_keys, in the order a Dialect's Keys
// scanner reads them (followed by KeyRolesColumn and KeyIdentityColumns:
// see KeyReadColumns).
const KeyColumns = `id, account_id, name, environment, permissions, digest, hint,
	created, expires, last_used, revoked, rotated_from, rate_limit, allowed_ips, created_by,
	metadata, ` + CreditColumns + `, imported, leaked, enabled, identity_id, ratelimits`

// InsertKey stores k, inside tx.
func InsertKey(ctx context.Context, tx Tx, k *pihu.Key) error {
	d := tx.Dialect()
	leaked, err := LeakArg(k.Leaked)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	args := append(make([]any, 0, 24), k.ID, k.AccountID, k.Name, string(k.Environment), d.Permissions(k.Permissions), k.Digest, k.Hint,
		d.Time(k.Created), d.NullTime(k.Expires), d.NullTime(k.LastUsed), d.NullTime(k.Revoked), NullString(k.RotatedFrom),
		k.RateLimit.String(), d.Strings(k.AllowedIPs.Strings()), NullString(k.CreatedBy), NullString(string(k.Metadata)))
	if err := checkKeyIdentity(ctx, tx, k); err != nil {
		return err
	}
	args = append(append(args, CreditArgs(d, k.Credits)...), k.Imported, leaked, !k.Disabled, identityID(k), k.RateLimits.Stored())
	if _, err := tx.Exec(ctx, `INSERT INTO api_keys (`+KeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	return insertKeyRoles(ctx, tx, k)
}

// LeakArg is the api_keys.leaked value of l: its JSON, or NULL.
func LeakArg(l *pihu.Leak) (any, error) {
	if l == nil {
		return nil, nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// UpdateKey changes an unrevoked key of an account in one transaction
// that reads it FOR UPDATE where rows are locked (see
// pihu.KeyStore.UpdateKey): the key u.Apply checks is the key it changes.
func (s Store) UpdateKey(ctx context.Context, u pihu.KeyUpdate) (*pihu.Key, error) {
	return write(ctx, s, "update key "+u.ID, u.ID, func(ctx context.Context, tx Tx) (*pihu.Key, error) {
		d := tx.Dialect()
		k, err := lockUnrevokedKey(ctx, tx, u.ID, u.AccountID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.KeyNotFound(u.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("update key %s: %w", u.ID, err)
		}
		if err := resolveRoles(ctx, tx, d, k.AccountID, k); err != nil {
			return nil, err
		}
		roles, identity := slices.Clone(k.Roles), identityID(k)
		if err := u.Apply(k); err != nil {
			return nil, err
		}
		if !slices.Equal(roles, k.Roles) {
			if err := replaceKeyRoles(ctx, tx, k); err != nil {
				return nil, err
			}
		}
		if identityID(k) != identity {
			if err := checkKeyIdentity(ctx, tx, k); err != nil {
				return nil, err
			}
		}
		args := append([]any{k.Name, d.Permissions(k.Permissions), k.RateLimit.String(), d.Strings(k.AllowedIPs.Strings()),
			NullString(string(k.Metadata)), d.NullTime(k.Expires)}, CreditArgs(d, k.Credits)...)
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET name = ?, permissions = ?, rate_limit = ?, allowed_ips = ?,
			metadata = ?, expires = ?, remaining = ?, refill_interval = ?, refill_amount = ?, refill_day = ?, refilled = ?,
			enabled = ?, identity_id = ?, ratelimits = ?
			WHERE id = ?`, append(args, !k.Disabled, identityID(k), k.RateLimits.Stored(), k.ID)...); err != nil {
			return nil, fmt.Errorf("update key %s: %w", u.ID, err)
		}
		if u.Events != nil {
			return k, InsertEvents(ctx, tx, u.Events(k))
		}
		return k, nil
	})
}

// ImportKeys stores keys and the events given in one transaction, or
// nothing (see pihu.KeyStore.ImportKeys). Returns
// pihu.ImportedKeyExists(i) for the first key i whose digest is stored,
// or repeated earlier in the list; one stored by a transaction
// committing meanwhile fails the insert on the unique index instead.
func (s Store) ImportKeys(ctx context.Context, keys []*pihu.Key, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "import keys", "", func(ctx context.Context, tx Tx) error {
		for i, k := range keys {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE digest = ?`, k.Digest).Scan(&one)
			if err == nil {
				return pihu.ImportedKeyExists(i)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("import key %s: %w", k.ID, err)
			}
			if err := InsertKey(ctx, tx, k); err != nil {
				return err
			}
		}
		return InsertEvents(ctx, tx, events)
	})
}

// KeyJSON sets what a key's JSON columns hold, as read (nil for NULL):
// its metadata and its leak.
func KeyJSON(k *pihu.Key, metadata, leaked *string) error {
	if leaked != nil {
		k.Leaked = new(pihu.Leak)
		if err := json.Unmarshal([]byte(*leaked), k.Leaked); err != nil {
			return fmt.Errorf("leaked of key %s: %w", k.ID, err)
		}
	}
	if metadata != nil {
		k.Metadata = json.RawMessage(*metadata)
	}
	return nil
}

// The reads of one key by id and of one account, constants so that a
// store may prepare them once (sqlite does).
const (
	KeyByIDQuery = `SELECT ` + KeyReadColumns + ` FROM api_keys WHERE id = ? AND account_id = ?`
	AccountQuery = `SELECT ` + accountColumns + ` FROM accounts WHERE id = ?`
)

// accountColumns are an account's columns, in the order every read scans
// them.
const accountColumns = `id, name, created, leak_policy, two_factor_required, sso_required`

// Key returns the key id of account accountID, revoked keys included,
// with its rights resolved (pihu.Key.ResolveRoles). Returns ENotFound if
// it does not exist or belongs to another account.
func (s Store) Key(ctx context.Context, accountID, id string) (*pihu.Key, error) {
	return read(ctx, s, "key "+id, func(ctx context.Context, c Conn) (*pihu.Key, error) {
		k, err := s.Dialect.Keys.Scan(c.QueryRow(ctx, KeyByIDQuery, id, accountID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.KeyIDNotFound(id)
		}
		if err != nil {
			return nil, err
		}
		return k, resolveRoles(ctx, c, s.Dialect, accountID, k)
	})
}

// Account returns the account id. Returns ENotFound if there is none.
func (s Store) Account(ctx context.Context, id string) (*pihu.Account, error) {
	return one(ctx, s, "account "+id, func(row Row) (*pihu.Account, error) {
		var (
			a       pihu.Account
			created timeDest
			policy  string
		)
		if err := row.Scan(&a.ID, &a.Name, &created, &policy, &a.TwoFactorRequired, &a.SSORequired); err != nil {
			return nil, err
		}
		a.Created, a.LeakPolicy = time.Time(created), pihu.LeakPolicy(policy)
		return &a, nil
	}, pihu.AccountNotFound(id), AccountQuery, id)
}

// lockUnrevokedKey reads the unrevoked key id of account accountID, FOR
// UPDATE where rows are locked; sql.ErrNoRows if there is none.
func lockUnrevokedKey(ctx context.Context, tx Tx, id, accountID string) (*pihu.Key, error) {
	d := tx.Dialect()
	return d.Keys.Scan(tx.QueryRow(ctx, `SELECT `+d.Keys.Columns+` FROM api_keys
		WHERE id = ? AND account_id = ? AND revoked IS NULL`+d.ForUpdate, id, accountID))
}
