package postgres

import (
	"context"
	"time"

	"github.com/pihu-ai/pihu"
)

// SwitchSession moves a session to account accountID, of which its person
// must be a member. Returns ENotFound otherwise.
func (db *DB) SwitchSession(ctx context.Context, digest []byte, accountID string) error {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	tag, err := db.pool.Exec(ctx, `UPDATE sessions SET account_id = $1 WHERE digest = $2
		AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = sessions.user_id AND m.account_id = $1)`, accountID, digest)
	if err != nil {
		return wrap("switch session", err)
	}
	if tag.RowsAffected() == 0 {
		return pihu.NotAMember(accountID)
	}
	return nil
}

// TouchSession sets a session's LastSeen; an earlier time than the one
// stored is ignored.
func (db *DB) TouchSession(ctx context.Context, digest []byte, at time.Time) error {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	if _, err := db.pool.Exec(ctx, `UPDATE sessions SET last_seen = $1 WHERE digest = $2 AND last_seen < $1`,
		ts(at), digest); err != nil {
		return wrap("touch session", err)
	}
	return nil
}
