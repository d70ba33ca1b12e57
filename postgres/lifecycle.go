package postgres

import (
	"context"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// RevokeKey revokes key id of account accountID (see sqlstore.RevokeKey).
// The transaction locks the key's row FOR UPDATE from its start: of
// concurrent revocations of one key, the others wait, then see it revoked.
func (db *DB) RevokeKey(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	return inTxDo(ctx, db, "revoke key "+id, id, func(ctx context.Context, tx txn) (*pihu.Key, error) {
		return sqlstore.RevokeKey(ctx, tx, accountID, id, at, events)
	})
}

// RotateKey stores next, the successor of key next.RotatedFrom (see
// sqlstore.RotateKey), with the old key's row locked FOR UPDATE.
func (db *DB) RotateKey(ctx context.Context, next *pihu.Key, retire time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	return inTxDo(ctx, db, "rotate key "+next.RotatedFrom, next.RotatedFrom, func(ctx context.Context, tx txn) (*pihu.Key, error) {
		return sqlstore.RotateKey(ctx, tx, next, retire, events)
	})
}

// RevokeKeys revokes the key rev.ID and, if rev.Cascade, its descendants
// (see sqlstore.RevokeKeys), each locked FOR UPDATE first.
func (db *DB) RevokeKeys(ctx context.Context, rev pihu.Revocation) ([]*pihu.Key, error) {
	return inTxDo(ctx, db, "revoke key "+rev.ID, rev.ID, func(ctx context.Context, tx txn) ([]*pihu.Key, error) {
		return sqlstore.RevokeKeys(ctx, tx, rev)
	})
}
