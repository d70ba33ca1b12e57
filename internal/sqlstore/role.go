package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// The roles of accounts (pihu.RoleStore), in roles, and the roles each key
// holds, in key_roles (position: the order given). A deleted role stays as
// a tombstone (deleted set), a valid list cursor whose name is free again;
// its key_roles rows go with it.

// roleColumns are the columns of roles that RolesScanner reads, in order.
const roleColumns = `id, account_id, name, description, permissions, created, updated`

// roleNameIndex is the unique index of the names of an account's roles
// that are not deleted.
const roleNameIndex = "roles_account_name"

// RolesScanner reads roles, their permissions through list (as
// EventsScanner).
func RolesScanner(list func(*[]string) any) Scanner[*pihu.KeyRole] {
	return Scanner[*pihu.KeyRole]{Columns: roleColumns, Scan: func(row Row) (*pihu.KeyRole, error) {
		var (
			role             pihu.KeyRole
			perms            []string
			created, updated timeDest
		)
		if err := row.Scan(&role.ID, &role.AccountID, &role.Name, &role.Description, list(&perms), &created, &updated); err != nil {
			return nil, err
		}
		role.Permissions = make(pihu.Permissions, len(perms))
		for i, p := range perms {
			role.Permissions[i] = pihu.Permission(p)
		}
		role.Created, role.Updated = time.Time(created), time.Time(updated)
		return &role, nil
	}}
}

// KeyRolesColumn is the SQL, read with a key's columns (KeyReadColumns),
// of the ids of its roles, separated by spaces in the order given, or
// NULL for none. The same on both databases (SQLite has string_agg, with
// an ORDER BY, since 3.44).
const KeyRolesColumn = `(SELECT string_agg(role_id, ' ' ORDER BY position) FROM key_roles WHERE key_roles.key_id = api_keys.id)`

// KeyReadColumns are KeyColumns, KeyRolesColumn and KeyIdentityColumns:
// what the Keys scanners read, from api_keys under its own name.
const KeyReadColumns = KeyColumns + `, ` + KeyRolesColumn + `, ` + KeyIdentityColumns

// SplitRoles returns the role ids of KeyRolesColumn's value s (nil for
// NULL or none).
func SplitRoles(s *string) []string {
	if s == nil || *s == "" {
		return nil
	}
	return strings.Fields(*s)
}

// liveRoles reads, as c sees them, the roles of account accountID among
// ids (every role of the account if ids is nil), where rows are locked
// FOR SHARE when share is set, so that none is deleted or changed before
// the transaction ends.
func liveRoles(ctx context.Context, c Conn, d *Dialect, accountID string, ids []string, share bool) ([]*pihu.KeyRole, error) {
	q := `SELECT ` + d.Roles.Columns + ` FROM roles WHERE account_id = ? AND deleted IS NULL`
	args := []any{accountID}
	if ids != nil {
		q += ` AND id ` + d.InList
		args = append(args, d.Strings(ids))
	}
	q += ` ORDER BY name`
	if share {
		q += d.ForShare
	}
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("roles of account %s: %w", accountID, err)
	}
	return collect(rows, d.Roles.Scan)
}

// insertKeyRoles stores the roles of k, which must all be roles of its
// account as the transaction sees them (EParameterInvalid on "roles"
// otherwise: one deleted since the caller read them); each is read FOR
// SHARE where rows are locked, so that it is not deleted before k is
// committed.
func insertKeyRoles(ctx context.Context, tx Tx, k *pihu.Key) error {
	if len(k.Roles) == 0 {
		return nil
	}
	found, err := liveRoles(ctx, tx, tx.Dialect(), k.AccountID, k.Roles, true)
	if err != nil {
		return err
	}
	if _, err := pihu.FindRoles(k.Roles, found); err != nil {
		return err
	}
	args := make([][]any, len(k.Roles))
	for i, id := range k.Roles {
		args[i] = []any{k.ID, id, i}
	}
	if err := tx.ExecBatch(ctx, `INSERT INTO key_roles (key_id, role_id, position) VALUES (?, ?, ?)`, args); err != nil {
		return fmt.Errorf("roles of key %s: %w", k.ID, err)
	}
	return nil
}

// replaceKeyRoles makes k's roles in key_roles its Roles (see
// insertKeyRoles).
func replaceKeyRoles(ctx context.Context, tx Tx, k *pihu.Key) error {
	if _, err := tx.Exec(ctx, `DELETE FROM key_roles WHERE key_id = ?`, k.ID); err != nil {
		return fmt.Errorf("roles of key %s: %w", k.ID, err)
	}
	return insertKeyRoles(ctx, tx, k)
}

// resolveRoles resolves the rights of keys (pihu.Key.ResolveRoles), all of
// account accountID, with the account's roles as c sees them: one read,
// none if no key has a role.
func resolveRoles(ctx context.Context, c Conn, d *Dialect, accountID string, keys ...*pihu.Key) error {
	if !slices.ContainsFunc(keys, func(k *pihu.Key) bool { return len(k.Roles) > 0 }) {
		return nil
	}
	roles, err := liveRoles(ctx, c, d, accountID, nil, false)
	if err != nil {
		return err
	}
	for _, k := range keys {
		k.ResolveRoles(roles)
	}
	return nil
}

// CreateRole stores r, unless its account has a role of that name
// (ERoleExists) or pihu.MaxRoles roles (EParameterInvalid on "name").
func (s Store) CreateRole(ctx context.Context, r *pihu.KeyRole, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "create role "+r.ID, "", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		if err := checkRoleName(ctx, tx, r.AccountID, r.Name, ""); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM roles WHERE account_id = ? AND deleted IS NULL`, r.AccountID).Scan(&n); err != nil {
			return err
		}
		if n >= pihu.MaxRoles {
			return pihu.TooManyRoles(n)
		}
		_, err := tx.Exec(ctx, `INSERT INTO roles (`+roleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.AccountID, r.Name, r.Description, d.Permissions(r.Permissions), d.Time(r.Created), d.Time(r.Updated))
		if err != nil && d.UniqueViolation != nil && d.UniqueViolation(err, roleNameIndex) {
			return pihu.RoleExists(r.Name)
		}
		if err != nil {
			return fmt.Errorf("store role %s: %w", r.ID, err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// checkRoleName returns ERoleExists if account accountID has a role named
// name other than role except.
func checkRoleName(ctx context.Context, tx Tx, accountID, name, except string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM roles WHERE account_id = ? AND name = ? AND deleted IS NULL`, accountID, name).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows), err == nil && id == except:
		return nil
	case err != nil:
		return fmt.Errorf("role named %q: %w", name, err)
	}
	return pihu.RoleExists(name)
}

// Role returns the role id of account accountID, unless deleted.
func (s Store) Role(ctx context.Context, accountID, id string) (*pihu.KeyRole, error) {
	return one(ctx, s, "role "+id, s.Dialect.Roles.Scan, pihu.RoleNotFound(id),
		`SELECT `+s.Dialect.Roles.Columns+` FROM roles WHERE id = ? AND account_id = ? AND deleted IS NULL`, id, accountID)
}

// Roles returns every role of account accountID, ordered by name.
func (s Store) Roles(ctx context.Context, accountID string) ([]*pihu.KeyRole, error) {
	return read(ctx, s, "roles", func(ctx context.Context, c Conn) ([]*pihu.KeyRole, error) {
		return liveRoles(ctx, c, s.Dialect, accountID, nil, false)
	})
}

// ListRoles returns a page of the account's roles, newest first, and
// whether more follow; a deleted role is a valid cursor.
func (s Store) ListRoles(ctx context.Context, f pihu.RoleFilter) ([]*pihu.KeyRole, bool, error) {
	q := AccountPage("roles", s.Dialect.Roles.Columns, f.AccountID, "", "deleted IS NULL", f.Page, "this account's roles")
	return page(ctx, s, q, s.Dialect.Roles.Scan)
}

// lockRole reads the role id of account accountID, unless deleted, FOR
// UPDATE where rows are locked; ENotFound if there is none.
func lockRole(ctx context.Context, tx Tx, accountID, id string) (*pihu.KeyRole, error) {
	d := tx.Dialect()
	r, err := d.Roles.Scan(tx.QueryRow(ctx, `SELECT `+d.Roles.Columns+` FROM roles
		WHERE id = ? AND account_id = ? AND deleted IS NULL`+d.ForUpdate, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.RoleNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", id, err)
	}
	return r, nil
}

// UpdateRole changes a role as u.Apply does, checked against the role as
// stored (see pihu.RoleStore.UpdateRole).
func (s Store) UpdateRole(ctx context.Context, u pihu.RoleUpdate) (*pihu.KeyRole, error) {
	return write(ctx, s, "update role "+u.ID, "", func(ctx context.Context, tx Tx) (*pihu.KeyRole, error) {
		d := tx.Dialect()
		r, err := lockRole(ctx, tx, u.AccountID, u.ID)
		if err != nil {
			return nil, err
		}
		if err := u.Apply(r); err != nil {
			return nil, err
		}
		if err := checkRoleName(ctx, tx, r.AccountID, r.Name, r.ID); err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `UPDATE roles SET name = ?, description = ?, permissions = ?, updated = ? WHERE id = ?`,
			r.Name, r.Description, d.Permissions(r.Permissions), d.Time(r.Updated), r.ID)
		if err != nil && d.UniqueViolation != nil && d.UniqueViolation(err, roleNameIndex) {
			return nil, pihu.RoleExists(r.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("update role %s: %w", r.ID, err)
		}
		if u.Event != nil {
			return r, InsertEvents(ctx, tx, []*pihu.AuditEvent{u.Event(r)})
		}
		return r, nil
	})
}

// DeleteRole deletes a role, unless keys hold it and d.Force is false
// (ERoleInUse); see pihu.RoleStore.DeleteRole.
func (s Store) DeleteRole(ctx context.Context, del pihu.RoleDeletion) (*pihu.KeyRole, int, error) {
	type result struct {
		r *pihu.KeyRole
		n int
	}
	res, err := write(ctx, s, "delete role "+del.ID, "", func(ctx context.Context, tx Tx) (result, error) {
		d := tx.Dialect()
		r, err := lockRole(ctx, tx, del.AccountID, del.ID)
		if err != nil {
			return result{}, err
		}
		if del.Check != nil {
			if err := del.Check(r); err != nil {
				return result{}, err
			}
		}
		var n int
		now := d.Time(s.Driver.Now())
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM key_roles JOIN api_keys k ON k.id = key_roles.key_id
			WHERE key_roles.role_id = ? AND (k.revoked IS NULL OR k.revoked > ?) AND (k.expires IS NULL OR k.expires > ?)`,
			r.ID, now, now).Scan(&n); err != nil {
			return result{}, fmt.Errorf("count keys holding role %s: %w", r.ID, err)
		}
		if n > 0 && !del.Force {
			return result{}, pihu.RoleInUse(r, n)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM key_roles WHERE role_id = ?`, r.ID); err != nil {
			return result{}, fmt.Errorf("delete role %s: %w", r.ID, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE roles SET deleted = ? WHERE id = ?`, d.Time(del.At), r.ID); err != nil {
			return result{}, fmt.Errorf("delete role %s: %w", r.ID, err)
		}
		if del.Event != nil {
			return result{r, n}, InsertEvents(ctx, tx, []*pihu.AuditEvent{del.Event(r)})
		}
		return result{r, n}, nil
	})
	return res.r, res.n, err
}
