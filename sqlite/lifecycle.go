package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// inTx runs f in a write transaction and commits it if f returns nil.
// what names the work in errors. If ctx carries an actor, f runs only if
// the actor may act, checked in the same transaction (see beginWrite);
// else inTx returns the actor's error.
func (db *DB) inTx(ctx context.Context, what string, f func(tx *sql.Tx) error) error {
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		var e *pihu.Error
		if errors.As(err, &e) { // the actor may not act
			return err
		}
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer done()
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return nil
}

// RevokeKey revokes key id of account accountID at the time at and records
// the events given, in one transaction, and returns the key as revoked.
// Returns ENotFound if the key does not exist, belongs to another account
// or is already revoked; nothing is recorded then.
func (db *DB) RevokeKey(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	var k *pihu.Key
	err := db.inTx(ctx, "revoke key "+id, func(tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `UPDATE api_keys SET revoked = ?
			WHERE id = ? AND account_id = ? AND revoked IS NULL
			RETURNING `+keyColumns, unixTime(pihu.Timestamp(at)), id, accountID))
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: revoke key %s: %w", id, err)
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
// another account or is revoked; nothing is changed then.
func (db *DB) RotateKey(ctx context.Context, next *pihu.Key, retire time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	oldID := next.RotatedFrom
	if oldID == "" {
		return nil, errors.New("sqlite: rotate key: the new key names no key it rotates (RotatedFrom)")
	}
	var old *pihu.Key
	err := db.inTx(ctx, "rotate key "+oldID, func(tx *sql.Tx) error {
		var found int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM api_keys WHERE id = ? AND account_id = ? AND revoked IS NULL`,
			oldID, next.AccountID).Scan(&found)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(oldID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: rotate key %s: %w", oldID, err)
		}
		// Before the old key changes: it may be the creator itself.
		if err := checkCreator(ctx, tx, next); err != nil {
			return err
		}
		var successor string
		err = tx.QueryRowContext(ctx, `SELECT id FROM api_keys WHERE rotated_from = ? AND account_id = ?`,
			oldID, next.AccountID).Scan(&successor)
		if err == nil {
			return pihu.KeyAlreadyRotated(oldID, successor)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: rotate key %s: %w", oldID, err)
		}
		var row *sql.Row
		if retire = pihu.Timestamp(retire); retire.After(next.Created) {
			end := unixTime(retire)
			row = tx.QueryRowContext(ctx, `UPDATE api_keys
				SET expires = CASE WHEN expires IS NULL OR expires > ? THEN ? ELSE expires END
				WHERE id = ? AND account_id = ? AND revoked IS NULL
				RETURNING `+keyColumns, end, end, oldID, next.AccountID)
		} else {
			row = tx.QueryRowContext(ctx, `UPDATE api_keys SET revoked = ?
				WHERE id = ? AND account_id = ? AND revoked IS NULL
				RETURNING `+keyColumns, unixTime(next.Created), oldID, next.AccountID)
		}
		old, err = scanKey(row)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(oldID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: rotate key %s: %w", oldID, err)
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

// RevokeKeys revokes the key rev.ID and, if rev.Cascade, every unrevoked key
// created by it, recursively, in one transaction, and returns them, the
// one named first. rev.Check sees each as stored inside the transaction,
// before anything changes. Returns ENotFound if the key does not exist,
// belongs to another account or is already revoked.
func (db *DB) RevokeKeys(ctx context.Context, rev pihu.Revocation) ([]*pihu.Key, error) {
	at := unixTime(pihu.Timestamp(rev.At))
	var revoked []*pihu.Key
	err := db.inTx(ctx, "revoke key "+rev.ID, func(tx *sql.Tx) error {
		root, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys
			WHERE id = ? AND account_id = ? AND revoked IS NULL`, rev.ID, rev.AccountID))
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.UnrevokedKeyNotFound(rev.ID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: revoke key %s: %w", rev.ID, err)
		}
		keys := []*pihu.Key{root}
		if rev.Cascade {
			// Every key created by the root, through any depth of keys
			// (revoked ones included: a revoked key's children live on
			// until revoked themselves), newest last.
			rows, err := tx.QueryContext(ctx, `WITH RECURSIVE tree (id) AS (
					SELECT id FROM api_keys WHERE account_id = ?1 AND created_by = ?2
					UNION
					SELECT k.id FROM api_keys k JOIN tree ON k.created_by = tree.id WHERE k.account_id = ?1
				)
				SELECT `+keyColumns+` FROM api_keys
				WHERE id IN (SELECT id FROM tree) AND revoked IS NULL ORDER BY seq`, rev.AccountID, rev.ID)
			if err != nil {
				return fmt.Errorf("sqlite: revoke key %s: descendants: %w", rev.ID, err)
			}
			defer rows.Close()
			for rows.Next() {
				k, err := scanKey(rows)
				if err != nil {
					return fmt.Errorf("sqlite: revoke key %s: descendants: %w", rev.ID, err)
				}
				keys = append(keys, k)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("sqlite: revoke key %s: descendants: %w", rev.ID, err)
			}
		}
		if rev.Check != nil {
			for _, k := range keys {
				if err := rev.Check(k); err != nil {
					return err
				}
			}
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL RETURNING `+keyColumns)
		if err != nil {
			return fmt.Errorf("sqlite: revoke key %s: %w", rev.ID, err)
		}
		defer stmt.Close()
		var events []*pihu.AuditEvent
		for _, k := range keys {
			done, err := scanKey(stmt.QueryRowContext(ctx, at, k.ID))
			if err != nil {
				return fmt.Errorf("sqlite: revoke key %s: %w", k.ID, err)
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
