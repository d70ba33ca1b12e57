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
// what names the work in errors.
func (db *DB) inTx(ctx context.Context, what string, f func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
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
			return pihu.Errorf(pihu.ENotFound, "There is no unrevoked API key %q in this account.", id)
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
		var err error
		old, err = scanKey(row)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.Errorf(pihu.ENotFound, "There is no unrevoked API key %q in this account.", oldID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: rotate key %s: %w", oldID, err)
		}
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
