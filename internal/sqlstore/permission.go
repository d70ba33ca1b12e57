package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// The permissions accounts and the operator define (pihu.PermissionStore),
// in defined_permissions: account_id is '' for a server-wide permission,
// so that (account_id, name) is the table's key.

const definedPermissionColumns = `account_id, name, description, created`

// pkeyDefinedPermissions is the primary key of defined_permissions, as
// PostgreSQL names it.
const pkeyDefinedPermissions = "defined_permissions_pkey"

func scanDefinedPermission(row Row) (*pihu.DefinedPermission, error) {
	var (
		p       pihu.DefinedPermission
		name    string
		created TimeValue
	)
	if err := row.Scan(&p.AccountID, &name, &p.Description, &created); err != nil {
		return nil, err
	}
	p.Name, p.Created = pihu.Permission(name), created.Time()
	return &p, nil
}

// definedPermission reads the permission name of account accountID (” for
// the server's) as the transaction sees it, or sql.ErrNoRows.
func definedPermission(ctx context.Context, c Conn, accountID string, name pihu.Permission) (*pihu.DefinedPermission, error) {
	return scanDefinedPermission(c.QueryRow(ctx, `SELECT `+definedPermissionColumns+` FROM defined_permissions WHERE account_id = ? AND name = ?`,
		accountID, string(name)))
}

// DefinePermission stores p, unless its account or the server defines its
// name already (EPermissionExists), or the account has defined
// pihu.MaxDefinedPermissions already (EParameterInvalid on "name").
func (s Store) DefinePermission(ctx context.Context, p *pihu.DefinedPermission, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "define permission "+string(p.Name), "", func(ctx context.Context, tx Tx) error {
		owners := []string{p.AccountID}
		if p.AccountID != "" {
			owners = append(owners, "")
		}
		for _, owner := range owners {
			found, err := definedPermission(ctx, tx, owner, p.Name)
			if err == nil {
				return pihu.PermissionExists(found, p.AccountID == "")
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM defined_permissions WHERE account_id = ?`, p.AccountID).Scan(&n); err != nil {
			return err
		}
		if n >= pihu.MaxDefinedPermissions {
			return pihu.TooManyPermissions(n)
		}
		d := tx.Dialect()
		_, err := tx.Exec(ctx, `INSERT INTO defined_permissions (`+definedPermissionColumns+`) VALUES (?, ?, ?, ?)`,
			p.AccountID, string(p.Name), p.Description, d.Time(pihu.Timestamp(p.Created)))
		if err != nil && d.UniqueViolation != nil && d.UniqueViolation(err, pkeyDefinedPermissions) {
			return pihu.PermissionExists(p, p.AccountID == "")
		}
		if err != nil {
			return fmt.Errorf("store permission %s: %w", p.Name, err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// DefinedPermissions returns the server-wide permissions and, unless
// accountID is "", those of account accountID, ordered by name (the
// server's first where both define one).
func (s Store) DefinedPermissions(ctx context.Context, accountID string) ([]*pihu.DefinedPermission, error) {
	return all(ctx, s, "list permissions", scanDefinedPermission,
		`SELECT `+definedPermissionColumns+` FROM defined_permissions WHERE account_id = '' OR account_id = ? ORDER BY name, account_id`, accountID)
}

// DeletePermission deletes the permission name of account accountID (""
// for a server-wide one), unless keys hold it and force is false
// (EPermissionInUse); see pihu.PermissionStore.
func (s Store) DeletePermission(ctx context.Context, accountID string, name pihu.Permission, force bool, events ...*pihu.AuditEvent) (*pihu.DefinedPermission, int, error) {
	type result struct {
		p *pihu.DefinedPermission
		n int
	}
	r, err := write(ctx, s, "delete permission "+string(name), "", func(ctx context.Context, tx Tx) (result, error) {
		p, err := definedPermission(ctx, tx, accountID, name)
		if errors.Is(err, sql.ErrNoRows) {
			return result{}, pihu.PermissionNotFound(name)
		}
		if err != nil {
			return result{}, err
		}
		n, err := keysHolding(ctx, tx, accountID, name, s.Driver.Now())
		if err != nil {
			return result{}, err
		}
		if n > 0 && !force {
			return result{}, pihu.PermissionInUse(name, n, accountID == "")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM defined_permissions WHERE account_id = ? AND name = ?`, accountID, string(name)); err != nil {
			return result{}, err
		}
		return result{p, n}, InsertEvents(ctx, tx, events)
	})
	return r.p, r.n, err
}

// keysHolding counts the keys, of account accountID or of every account
// for "", that are neither revoked nor expired at now and whose
// permissions, or the permissions of one of whose roles, name name
// exactly. (HasPermission names the column "permissions", which inside
// the subquery is the role's.)
func keysHolding(ctx context.Context, tx Tx, accountID string, name pihu.Permission, now time.Time) (int, error) {
	d := tx.Dialect()
	q := `SELECT count(*) FROM api_keys WHERE (revoked IS NULL OR revoked > ?) AND (expires IS NULL OR expires > ?) AND (` + d.HasPermission + `
		OR EXISTS (SELECT 1 FROM key_roles JOIN roles ON roles.id = key_roles.role_id
			WHERE key_roles.key_id = api_keys.id AND roles.deleted IS NULL AND ` + d.HasPermission + `))`
	args := []any{d.Time(now), d.Time(now), string(name), string(name)}
	if accountID != "" {
		q += ` AND account_id = ?`
		args = append(args, accountID)
	}
	var n int
	if err := tx.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count keys holding %s: %w", name, err)
	}
	return n, nil
}
