package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
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

// RevokeKey revokes key id of account accountID (see sqlstore.RevokeKey).
func (db *DB) RevokeKey(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	return inTxDo(ctx, db, "revoke key "+id, func(tx txn) (*pihu.Key, error) {
		return sqlstore.RevokeKey(ctx, tx, accountID, id, at, events)
	})
}

// RotateKey stores next, the successor of key next.RotatedFrom (see
// sqlstore.RotateKey).
func (db *DB) RotateKey(ctx context.Context, next *pihu.Key, retire time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	return inTxDo(ctx, db, "rotate key "+next.RotatedFrom, func(tx txn) (*pihu.Key, error) {
		return sqlstore.RotateKey(ctx, tx, next, retire, events)
	})
}

// RevokeKeys revokes the key rev.ID and, if rev.Cascade, its descendants
// (see sqlstore.RevokeKeys). The transaction holds the write lock, so the
// tree it reads is the tree it revokes.
func (db *DB) RevokeKeys(ctx context.Context, rev pihu.Revocation) ([]*pihu.Key, error) {
	return inTxDo(ctx, db, "revoke key "+rev.ID, func(tx txn) ([]*pihu.Key, error) {
		return sqlstore.RevokeKeys(ctx, tx, rev)
	})
}
