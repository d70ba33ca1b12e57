package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// The identities of accounts (pihu.IdentityStore), in identities, and the
// identity of each key, in api_keys.identity_id. A deleted identity stays
// as a tombstone (deleted set), a valid list cursor whose external_id is
// free again; the keys that had it lose it.

// identityColumns are the columns of identities that Identities reads, in
// order.
const identityColumns = `id, account_id, environment, external_id, metadata, rate_limit, created, updated, ratelimits, ` + CreditColumns

// identityIndex is the unique index of the external ids of an account's
// and environment's identities that are not deleted.
const identityIndex = "identities_external_id"

// Identities reads identities; the same on both databases.
var Identities = Scanner[*pihu.Identity]{Columns: identityColumns, Scan: func(row Row) (*pihu.Identity, error) {
	var (
		i                pihu.Identity
		env, rateLimit   string
		named            string
		metadata         sql.Null[string]
		created, updated timeDest
		c                storedCredits
	)
	if err := row.Scan(&i.ID, &i.AccountID, &env, &i.ExternalID, &metadata, &rateLimit, &created, &updated, &named,
		&c.remaining, &c.interval, &c.amount, &c.day, &c.refilled); err != nil {
		return nil, err
	}
	i.Credits = c.credits()
	i.Environment, i.RateLimit = pihu.Environment(env), pihu.StoredRateLimit(rateLimit)
	i.RateLimits = pihu.StoredNamedLimits(named)
	if metadata.Valid {
		i.Metadata = []byte(metadata.V)
	}
	i.Created, i.Updated = time.Time(created), time.Time(updated)
	return &i, nil
}}

// storedCredits are CreditColumns as either driver reads them.
type storedCredits struct {
	remaining, amount, day sql.Null[int64]
	interval               sql.Null[string]
	refilled               timeDest
}

func (c storedCredits) credits() *pihu.Credits {
	if !c.remaining.Valid {
		return nil
	}
	out := &pihu.Credits{Remaining: c.remaining.V, Refilled: time.Time(c.refilled)}
	if c.interval.Valid && c.amount.Valid {
		out.Refill = &pihu.Refill{Interval: c.interval.V, Amount: c.amount.V, Day: int(c.day.V)}
	}
	return out
}

// KeyIdentityColumns is the SQL, read with a key's columns after
// KeyRolesColumn (KeyReadColumns), of what requests need of its identity:
// its external_id, metadata, rate limit and credits remaining (whether
// it counts credits), NULL for a key without one.
const KeyIdentityColumns = `(SELECT external_id FROM identities WHERE identities.id = api_keys.identity_id),
	(SELECT metadata FROM identities WHERE identities.id = api_keys.identity_id),
	(SELECT rate_limit FROM identities WHERE identities.id = api_keys.identity_id),
	(SELECT ratelimits FROM identities WHERE identities.id = api_keys.identity_id),
	(SELECT remaining FROM identities WHERE identities.id = api_keys.identity_id)`

// KeyIdentity sets k's identity from the columns of KeyReadColumns that
// name it: the key's identity_id, then KeyIdentityColumns' values.
func KeyIdentity(k *pihu.Key, id, externalID, metadata, rateLimit, named *string, remaining *int64) {
	if id == nil || externalID == nil {
		return
	}
	i := &pihu.Identity{ID: *id, AccountID: k.AccountID, Environment: k.Environment, ExternalID: *externalID}
	if metadata != nil {
		i.Metadata = []byte(*metadata)
	}
	if rateLimit != nil {
		i.RateLimit = pihu.StoredRateLimit(*rateLimit)
	}
	if named != nil {
		i.RateLimits = pihu.StoredNamedLimits(*named)
	}
	if remaining != nil {
		i.Credits = &pihu.Credits{Remaining: *remaining}
	}
	k.Identity = i
}

// identityID is the api_keys.identity_id of k: its identity's id, or NULL.
func identityID(k *pihu.Key) any {
	if k.Identity == nil {
		return nil
	}
	return k.Identity.ID
}

// checkKeyIdentity makes k's identity, if it has one, the identity of
// its account and environment of that id as the transaction sees it, read
// FOR SHARE where rows are locked so that it is not deleted before k is
// committed: pihu.UnknownKeyIdentity if there is none.
func checkKeyIdentity(ctx context.Context, tx Tx, k *pihu.Key) error {
	if k.Identity == nil {
		return nil
	}
	d := tx.Dialect()
	i, err := Identities.Scan(tx.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities
		WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`+d.ForShare, k.Identity.ID, k.AccountID, string(k.Environment)))
	if errors.Is(err, sql.ErrNoRows) {
		return pihu.UnknownKeyIdentity(k.Identity.ID)
	}
	if err != nil {
		return fmt.Errorf("identity %s of key %s: %w", k.Identity.ID, k.ID, err)
	}
	k.Identity = i
	return nil
}

// CreateIdentity stores i, unless its scope has an identity of that
// external_id (EIdentityExists).
func (s Store) CreateIdentity(ctx context.Context, i *pihu.Identity, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "create identity "+i.ID, "", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		if err := checkExternalID(ctx, tx, i, ""); err != nil {
			return err
		}
		args := append([]any{i.ID, i.AccountID, string(i.Environment), i.ExternalID, NullString(string(i.Metadata)), i.RateLimit.String(),
			d.Time(i.Created), d.Time(i.Updated), i.RateLimits.Stored()}, CreditArgs(d, i.Credits)...)
		_, err := tx.Exec(ctx, `INSERT INTO identities (`+identityColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
		if err != nil && d.UniqueViolation != nil && d.UniqueViolation(err, identityIndex) {
			return pihu.IdentityExists(i.ExternalID)
		}
		if err != nil {
			return fmt.Errorf("store identity %s: %w", i.ID, err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// checkExternalID returns EIdentityExists if i's scope has an identity of
// i's external_id other than identity except.
func checkExternalID(ctx context.Context, tx Tx, i *pihu.Identity, except string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM identities WHERE account_id = ? AND environment = ? AND external_id = ? AND deleted IS NULL`,
		i.AccountID, string(i.Environment), i.ExternalID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && id == except:
		return nil
	case err != nil:
		return fmt.Errorf("identity of external_id %q: %w", i.ExternalID, err)
	}
	return pihu.IdentityExists(i.ExternalID)
}

// Identity returns the identity id in scope sc, unless deleted.
func (s Store) Identity(ctx context.Context, sc pihu.Scope, id string) (*pihu.Identity, error) {
	return one(ctx, s, "identity "+id, Identities.Scan, pihu.IdentityNotFound(id),
		`SELECT `+identityColumns+` FROM identities WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`,
		id, sc.AccountID, string(sc.Environment))
}

// ListIdentities returns a page of the identities of f's scope, newest
// first, and whether more follow; a deleted identity is a valid cursor.
func (s Store) ListIdentities(ctx context.Context, f pihu.IdentityFilter) ([]*pihu.Identity, bool, error) {
	q := ScopedPage("identities", identityColumns, f.Scope, f.Page)
	q.Items = "this list's identities"
	if f.ExternalID != "" {
		q.Where += " AND external_id = ?"
		q.Args = append(q.Args, f.ExternalID)
	}
	return page(ctx, s, q, Identities.Scan)
}

// lockIdentity reads the identity id of scope sc, unless deleted, FOR
// UPDATE where rows are locked; ENotFound if there is none.
func lockIdentity(ctx context.Context, tx Tx, sc pihu.Scope, id string) (*pihu.Identity, error) {
	d := tx.Dialect()
	i, err := Identities.Scan(tx.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities
		WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`+d.ForUpdate, id, sc.AccountID, string(sc.Environment)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.IdentityNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", id, err)
	}
	return i, nil
}

// UpdateIdentity changes an identity as u.Apply does, checked against the
// identity as stored (see pihu.IdentityStore.UpdateIdentity).
func (s Store) UpdateIdentity(ctx context.Context, u pihu.IdentityUpdate) (*pihu.Identity, error) {
	return write(ctx, s, "update identity "+u.ID, "", func(ctx context.Context, tx Tx) (*pihu.Identity, error) {
		d := tx.Dialect()
		i, err := lockIdentity(ctx, tx, u.Scope, u.ID)
		if err != nil {
			return nil, err
		}
		if err := u.Apply(i); err != nil {
			return nil, err
		}
		if err := checkExternalID(ctx, tx, i, i.ID); err != nil {
			return nil, err
		}
		args := append([]any{i.ExternalID, NullString(string(i.Metadata)), i.RateLimit.String(), i.RateLimits.Stored(), d.Time(i.Updated)}, CreditArgs(d, i.Credits)...)
		_, err = tx.Exec(ctx, `UPDATE identities SET external_id = ?, metadata = ?, rate_limit = ?, ratelimits = ?, updated = ?,
			remaining = ?, refill_interval = ?, refill_amount = ?, refill_day = ?, refilled = ? WHERE id = ?`, append(args, i.ID)...)
		if err != nil && d.UniqueViolation != nil && d.UniqueViolation(err, identityIndex) {
			return nil, pihu.IdentityExists(i.ExternalID)
		}
		if err != nil {
			return nil, fmt.Errorf("update identity %s: %w", i.ID, err)
		}
		if u.Event != nil {
			return i, InsertEvents(ctx, tx, []*pihu.AuditEvent{u.Event(i)})
		}
		return i, nil
	})
}

// DeleteIdentity deletes an identity, unless it has active keys and
// del.RevokeKeys is false (EIdentityInUse); with it, each active key is
// revoked as RevokeKeys revokes one. See pihu.IdentityStore.
func (s Store) DeleteIdentity(ctx context.Context, del pihu.IdentityDeletion) (*pihu.Identity, []*pihu.Key, error) {
	type result struct {
		i    *pihu.Identity
		keys []*pihu.Key
	}
	res, err := write(ctx, s, "delete identity "+del.ID, "", func(ctx context.Context, tx Tx) (result, error) {
		d := tx.Dialect()
		i, err := lockIdentity(ctx, tx, del.Scope, del.ID)
		if err != nil {
			return result{}, err
		}
		now := d.Time(s.Driver.Now())
		rows, err := tx.Query(ctx, `SELECT id FROM api_keys WHERE identity_id = ? AND revoked IS NULL AND (expires IS NULL OR expires > ?) ORDER BY seq`,
			i.ID, now)
		if err != nil {
			return result{}, fmt.Errorf("keys of identity %s: %w", i.ID, err)
		}
		ids, err := collect(rows, func(row Row) (string, error) {
			var id string
			return id, row.Scan(&id)
		})
		if err != nil {
			return result{}, fmt.Errorf("keys of identity %s: %w", i.ID, err)
		}
		if len(ids) > 0 && !del.RevokeKeys {
			return result{}, pihu.IdentityInUse(i, len(ids))
		}
		var revoked []*pihu.Key
		for _, id := range ids {
			keys, err := RevokeKeys(ctx, tx, pihu.Revocation{
				AccountID: i.AccountID, ID: id, At: del.At, Check: del.Check, Event: del.KeyEvent,
			})
			if err != nil {
				return result{}, err
			}
			revoked = append(revoked, keys...)
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET identity_id = NULL WHERE identity_id = ?`, i.ID); err != nil {
			return result{}, fmt.Errorf("delete identity %s: %w", i.ID, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE identities SET deleted = ? WHERE id = ?`, d.Time(del.At), i.ID); err != nil {
			return result{}, fmt.Errorf("delete identity %s: %w", i.ID, err)
		}
		if del.Event != nil {
			return result{i, revoked}, InsertEvents(ctx, tx, []*pihu.AuditEvent{del.Event(i)})
		}
		return result{i, revoked}, nil
	})
	return res.i, res.keys, err
}

// IdentityKeys returns the ids of every key of the identity, revoked ones
// included, oldest first.
func (s Store) IdentityKeys(ctx context.Context, accountID, id string) ([]string, error) {
	return all(ctx, s, "keys of identity "+id, func(row Row) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM api_keys WHERE account_id = ? AND identity_id = ? ORDER BY seq`, accountID, id)
}
