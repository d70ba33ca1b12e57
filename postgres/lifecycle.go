package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// RevokeKey revokes key id of account accountID at the time at and records
// the events given, in one transaction, and returns the key as revoked.
// Returns ENotFound if the key does not exist, belongs to another account
// or is already revoked; nothing is recorded then. Of concurrent
// revocations of one key, the UPDATE of the first locks the row; the
// others wait, then see it revoked and match nothing.
func (db *DB) RevokeKey(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	var k *pihu.Key
	err := db.inTxLocking(ctx, "revoke key "+id, id, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked = $1
			WHERE id = $2 AND account_id = $3 AND revoked IS NULL
			RETURNING `+keyColumns, ts(at), id, accountID))
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(id)
		}
		if err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// RotateKey stores next, the successor of key next.RotatedFrom, ends the
// old key at retire (revokes it at next.Created if retire is not after
// that; otherwise lowers its expiry to retire, never raising it) and
// records the events given, in one transaction. It returns the old key as
// changed. Returns ENotFound if the old key does not exist, belongs to
// another account or is revoked; EAlreadyRotated if it has a successor;
// nothing is changed then. The old key is read FOR UPDATE first, so that
// of two rotations of one key the second waits, then finds the first's
// successor (or the key revoked).
func (db *DB) RotateKey(ctx context.Context, next *pihu.Key, retire time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	oldID := next.RotatedFrom
	if oldID == "" {
		return nil, errors.New("postgres: rotate key: the new key names no key it rotates (RotatedFrom)")
	}
	var old *pihu.Key
	err := db.inTxLocking(ctx, "rotate key "+oldID, oldID, func(ctx context.Context, tx pgx.Tx) error {
		var found int
		err := tx.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE id = $1 AND account_id = $2 AND revoked IS NULL FOR UPDATE`,
			oldID, next.AccountID).Scan(&found)
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(oldID)
		}
		if err != nil {
			return err
		}
		// Before the old key changes: it may be the creator itself.
		if err := checkCreator(ctx, tx, next, oldID); err != nil {
			return err
		}
		var successor string
		err = tx.QueryRow(ctx, `SELECT id FROM api_keys WHERE rotated_from = $1 AND account_id = $2`,
			oldID, next.AccountID).Scan(&successor)
		if err == nil {
			return pihu.KeyAlreadyRotated(oldID, successor)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var row pgx.Row
		if retire = pihu.Timestamp(retire); retire.After(next.Created) {
			row = tx.QueryRow(ctx, `UPDATE api_keys
				SET expires = CASE WHEN expires IS NULL OR expires > $1 THEN $1 ELSE expires END
				WHERE id = $2 AND account_id = $3 AND revoked IS NULL
				RETURNING `+keyColumns, retire, oldID, next.AccountID)
		} else {
			row = tx.QueryRow(ctx, `UPDATE api_keys SET revoked = $1
				WHERE id = $2 AND account_id = $3 AND revoked IS NULL
				RETURNING `+keyColumns, ts(next.Created), oldID, next.AccountID)
		}
		old, err = scanKey(row)
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(oldID)
		}
		if err != nil {
			return err
		}
		// The successor takes the old key's credits as they stand in
		// this transaction (a spend since the caller read the key
		// included), and from now on the two keys share them: a spend
		// with the old key during its grace period takes the successor's
		// (see creditHolder).
		next.Credits = old.Credits.Clone()
		if err := insertKey(ctx, tx, next); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}

// maxCascadeRounds bounds how often RevokeKeys reads the tree of keys
// again to find keys created while it locked the tree.
const maxCascadeRounds = 10

// RevokeKeys revokes the key rev.ID and, if rev.Cascade, every unrevoked key
// created by it, recursively, in one transaction, and returns them, the
// one named first. rev.Check sees each as stored inside the transaction,
// before anything changes. Returns ENotFound if the key does not exist,
// belongs to another account or is already revoked.
//
// Every key it revokes is locked FOR UPDATE first. A key being created by
// one of them holds its creator FOR SHARE (checkCreator) until it commits,
// so the tree is read again once locked, until a reading finds no key the
// last one lacked: a key created meanwhile is then in the tree, and a key
// created later is refused, its creator being revoked.
func (db *DB) RevokeKeys(ctx context.Context, rev pihu.Revocation) ([]*pihu.Key, error) {
	at := ts(rev.At)
	var revoked []*pihu.Key
	err := db.inTxLocking(ctx, "revoke key "+rev.ID, rev.ID, func(ctx context.Context, tx pgx.Tx) error {
		revoked = nil
		root, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
			WHERE id = $1 AND account_id = $2 AND revoked IS NULL FOR UPDATE`, rev.ID, rev.AccountID))
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(rev.ID)
		}
		if err != nil {
			return err
		}
		keys := []*pihu.Key{root}
		if rev.Cascade {
			var descendants []*pihu.Key
			for round := 0; ; round++ {
				found, err := lockDescendants(ctx, tx, rev.AccountID, rev.ID)
				if err != nil {
					return err
				}
				if slices.EqualFunc(found, descendants, func(a, b *pihu.Key) bool { return a.ID == b.ID }) || round == maxCascadeRounds {
					descendants = found
					break
				}
				descendants = found
			}
			keys = append(keys, descendants...)
		}
		if rev.Check != nil {
			for _, k := range keys {
				if err := rev.Check(k); err != nil {
					return err
				}
			}
		}
		var events []*pihu.AuditEvent
		for _, k := range keys {
			done, err := scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked = $1 WHERE id = $2 AND revoked IS NULL RETURNING `+keyColumns, at, k.ID))
			if err != nil {
				return err
			}
			revoked = append(revoked, done)
			if rev.Event != nil {
				events = append(events, rev.Event(done))
			}
		}
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// lockDescendants returns, locked FOR UPDATE and oldest first, every
// unrevoked key created by key id, through any depth of keys (revoked ones
// included: a revoked key's children live on until revoked themselves).
func lockDescendants(ctx context.Context, tx pgx.Tx, accountID, id string) ([]*pihu.Key, error) {
	rows, err := tx.Query(ctx, `WITH RECURSIVE tree (id) AS (
			SELECT id FROM api_keys WHERE account_id = $1 AND created_by = $2
			UNION
			SELECT k.id FROM api_keys k JOIN tree ON k.created_by = tree.id WHERE k.account_id = $1
		)
		SELECT `+keyColumns+` FROM api_keys
		WHERE id IN (SELECT id FROM tree) AND revoked IS NULL ORDER BY seq FOR UPDATE`, accountID, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pihu.Key, error) { return scanKey(r) })
}
