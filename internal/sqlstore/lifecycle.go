package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pihu-ai/pihu"
)

// CreateKey stores k and records the events given, inside tx, once the key
// that created k, if any, is found still active as tx sees it
// (Tx.CheckCreator): a key revoked, disabled or expired while it created
// another creates nothing.
func CreateKey(ctx context.Context, tx Tx, k *pihu.Key, events []*pihu.AuditEvent) error {
	if err := tx.CheckCreator(ctx, k); err != nil {
		return err
	}
	if err := InsertKey(ctx, tx, k); err != nil {
		return err
	}
	return InsertEvents(ctx, tx, events)
}

// RevokeKey revokes key id of account accountID at the time at and records
// the events given, and returns the key as revoked (see
// pihu.KeyStore.RevokeKey). Returns pihu.UnrevokedKeyNotFound if the key
// does not exist, belongs to another account or is already revoked. Of
// concurrent revocations of one key, the UPDATE of the first takes the
// row; the others then see it revoked and match nothing.
func RevokeKey(ctx context.Context, tx Tx, accountID, id string, at time.Time, events []*pihu.AuditEvent) (*pihu.Key, error) {
	d := tx.Dialect()
	k, err := d.Keys.Scan(tx.QueryRow(ctx, `UPDATE api_keys SET revoked = ?
		WHERE id = ? AND account_id = ? AND revoked IS NULL
		RETURNING `+d.Keys.Columns, d.Time(at), id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.UnrevokedKeyNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", id, err)
	}
	return k, InsertEvents(ctx, tx, events)
}

// RotateKey stores next, the successor of key next.RotatedFrom, ends the
// old key at retire (revokes it at next.Created if retire is not after
// that; otherwise lowers its expiry to retire, never raising it) and
// records the events given. It returns the old key as changed. Returns
// pihu.UnrevokedKeyNotFound if the old key does not exist, belongs to
// another account or is revoked, and pihu.KeyAlreadyRotated if it has a
// successor. The old key is read first, FOR UPDATE where rows are locked,
// so that of two rotations of one key the second waits, then finds the
// first's successor (or the key revoked).
func RotateKey(ctx context.Context, tx Tx, next *pihu.Key, retire time.Time, events []*pihu.AuditEvent) (*pihu.Key, error) {
	oldID := next.RotatedFrom
	if oldID == "" {
		return nil, errors.New("rotate key: the new key names no key it rotates (RotatedFrom)")
	}
	var found int
	err := tx.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE id = ? AND account_id = ? AND revoked IS NULL`+tx.Dialect().ForUpdate,
		oldID, next.AccountID).Scan(&found)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.UnrevokedKeyNotFound(oldID)
	}
	if err != nil {
		return nil, fmt.Errorf("rotate key %s: %w", oldID, err)
	}
	// Before the old key changes: it may be the creator itself.
	if err := tx.CheckCreator(ctx, next); err != nil {
		return nil, err
	}
	var successor string
	err = tx.QueryRow(ctx, `SELECT id FROM api_keys WHERE rotated_from = ? AND account_id = ?`,
		oldID, next.AccountID).Scan(&successor)
	if err == nil {
		return nil, pihu.KeyAlreadyRotated(oldID, successor)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("rotate key %s: %w", oldID, err)
	}
	old, err := retireKey(ctx, tx, next, retire)
	if err != nil {
		return nil, err
	}
	// The successor takes the old key's credits as they stand in this
	// transaction (a spend since the caller read the key included), and
	// from now on the two keys share them: a spend with the old key
	// during its grace period takes the successor's.
	next.Credits = old.Credits.Clone()
	if err := InsertKey(ctx, tx, next); err != nil {
		return nil, err
	}
	return old, InsertEvents(ctx, tx, events)
}

// retireKey ends next's predecessor at retire, or revokes it at
// next.Created if retire is not after that, and returns it as changed.
func retireKey(ctx context.Context, tx Tx, next *pihu.Key, retire time.Time) (*pihu.Key, error) {
	d := tx.Dialect()
	var row Row
	if retire = pihu.Timestamp(retire); retire.After(next.Created) {
		end := d.Time(retire)
		row = tx.QueryRow(ctx, `UPDATE api_keys
			SET expires = CASE WHEN expires IS NULL OR expires > ? THEN ? ELSE expires END
			WHERE id = ? AND account_id = ? AND revoked IS NULL
			RETURNING `+d.Keys.Columns, end, end, next.RotatedFrom, next.AccountID)
	} else {
		row = tx.QueryRow(ctx, `UPDATE api_keys SET revoked = ?
			WHERE id = ? AND account_id = ? AND revoked IS NULL
			RETURNING `+d.Keys.Columns, d.Time(next.Created), next.RotatedFrom, next.AccountID)
	}
	old, err := d.Keys.Scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.UnrevokedKeyNotFound(next.RotatedFrom)
	}
	if err != nil {
		return nil, fmt.Errorf("rotate key %s: %w", next.RotatedFrom, err)
	}
	return old, nil
}

// maxCascadeRounds bounds how often RevokeKeys reads the tree of keys
// again to find keys created while it locked the tree.
const maxCascadeRounds = 10

// RevokeKeys revokes the key rev.ID and, if rev.Cascade, every unrevoked
// key created by it, recursively, and returns them, the one named first
// (see pihu.KeyStore.RevokeKeys). rev.Check sees each as stored inside the
// transaction, before anything changes. Returns pihu.UnrevokedKeyNotFound
// if the key does not exist, belongs to another account or is already
// revoked.
//
// Every key it revokes is read FOR UPDATE where rows are locked. A key
// being created by one of them holds its creator (CheckCreator) until it
// commits, so there the tree is read again once locked, until a reading
// finds no key the last one lacked: a key created meanwhile is then in the
// tree, and a key created later is refused, its creator being revoked. A
// WriteLocked transaction reads it once: no key is created meanwhile.
func RevokeKeys(ctx context.Context, tx Tx, rev pihu.Revocation) ([]*pihu.Key, error) {
	keys, err := revocationTree(ctx, tx, rev)
	if err != nil {
		return nil, err
	}
	if rev.Check != nil {
		if err := resolveRoles(ctx, tx, tx.Dialect(), rev.AccountID, keys...); err != nil {
			return nil, err
		}
		for _, k := range keys {
			if err := rev.Check(k); err != nil {
				return nil, err
			}
		}
	}
	d := tx.Dialect()
	at := d.Time(rev.At)
	revoked := make([]*pihu.Key, 0, len(keys))
	var events []*pihu.AuditEvent
	for _, k := range keys {
		done, err := d.Keys.Scan(tx.QueryRow(ctx, `UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL RETURNING `+d.Keys.Columns, at, k.ID))
		if err != nil {
			return nil, fmt.Errorf("revoke key %s: %w", k.ID, err)
		}
		revoked = append(revoked, done)
		if rev.Event != nil {
			events = append(events, rev.Event(done))
		}
	}
	return revoked, InsertEvents(ctx, tx, events)
}

// revocationTree returns the keys rev revokes, unchanged yet: rev.ID, and
// if rev.Cascade its descendants, oldest first.
func revocationTree(ctx context.Context, tx Tx, rev pihu.Revocation) ([]*pihu.Key, error) {
	d := tx.Dialect()
	root, err := lockUnrevokedKey(ctx, tx, rev.ID, rev.AccountID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.UnrevokedKeyNotFound(rev.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", rev.ID, err)
	}
	if !rev.Cascade {
		return []*pihu.Key{root}, nil
	}
	var descendants []*pihu.Key
	for round := 0; ; round++ {
		found, err := lockDescendants(ctx, tx, rev.AccountID, rev.ID)
		if err != nil {
			return nil, fmt.Errorf("revoke key %s: descendants: %w", rev.ID, err)
		}
		same := slices.EqualFunc(found, descendants, func(a, b *pihu.Key) bool { return a.ID == b.ID })
		descendants = found
		if same || d.WriteLocked || round == maxCascadeRounds {
			break
		}
	}
	return append([]*pihu.Key{root}, descendants...), nil
}

// lockDescendants returns, FOR UPDATE and oldest first, every unrevoked key
// created by key id, through any depth of keys (revoked ones included: a
// revoked key's children live on until revoked themselves).
func lockDescendants(ctx context.Context, tx Tx, accountID, id string) ([]*pihu.Key, error) {
	d := tx.Dialect()
	rows, err := tx.Query(ctx, `WITH RECURSIVE tree (id) AS (
			SELECT id FROM api_keys WHERE account_id = ? AND created_by = ?
			UNION
			SELECT k.id FROM api_keys k JOIN tree ON k.created_by = tree.id WHERE k.account_id = ?
		)
		SELECT `+d.Keys.Columns+` FROM api_keys
		WHERE id IN (SELECT id FROM tree) AND revoked IS NULL ORDER BY seq`+d.ForUpdate, accountID, id, accountID)
	if err != nil {
		return nil, err
	}
	return collect(rows, d.Keys.Scan)
}

// collect reads every row of rows with scan, and closes them. No row is
// an empty slice, not nil, as the lists the stores return are.
func collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CheckActor applies a.Check to a's key as c, a transaction, reads it (see
// pihu.Actor): FOR SHARE where rows are locked (FOR UPDATE if it is the
// key lockKey, which the transaction locks so anyway), so that a
// revocation of the key, an UPDATE of its row, waits for the transaction
// to end, and this read waits for a revocation in progress to end and
// then sees the row as it committed. Where the transaction is WriteLocked,
// its lock orders it with every revocation alike. Either way one of the
// two is wholly first, and a key revoked while its request ran writes
// nothing after the revocation.
func CheckActor(ctx context.Context, c Conn, d *Dialect, a pihu.Actor, lockKey string) error {
	lock := d.ForShare
	if a.KeyID == lockKey {
		lock = d.ForUpdate
	}
	var (
		revoked, expires TimeValue
		enabled          bool
	)
	err := c.QueryRow(ctx, `SELECT revoked, expires, enabled FROM api_keys WHERE id = ? AND account_id = ?`+lock,
		a.KeyID, a.AccountID).Scan(&revoked, &expires, &enabled)
	if errors.Is(err, sql.ErrNoRows) {
		return a.Check(nil)
	}
	if err != nil {
		return fmt.Errorf("actor %s: %w", a.KeyID, err)
	}
	return a.Check(&pihu.Key{ID: a.KeyID, AccountID: a.AccountID, Revoked: revoked.T, Expires: expires.T, Disabled: !enabled})
}

// CheckCreator checks, inside the transaction that stores k, that the key
// that creates it (k.CreatedBy, if any) may act at k.Created, as an actor
// does (see CheckActor, whose lock it takes, lockKey as there): a key
// revoked, or expired, while it was creating another key creates nothing.
func CheckCreator(ctx context.Context, c Conn, d *Dialect, k *pihu.Key, lockKey string) error {
	if k.CreatedBy == "" {
		return nil
	}
	return CheckActor(ctx, c, d, pihu.CreatorOf(k), lockKey)
}
