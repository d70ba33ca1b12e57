package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// SwitchSession moves a session to account accountID, of which its person
// must be a member. Returns ENotFound otherwise.
func (db *DB) SwitchSession(ctx context.Context, digest []byte, accountID string) error {
	return db.inTx(ctx, "switch session", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET account_id = ? WHERE digest = ?
			AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = sessions.user_id AND m.account_id = ?)`, accountID, digest, accountID)
		if err != nil {
			return fmt.Errorf("sqlite: switch session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return pihu.NotAMember(accountID)
		}
		return nil
	})
}

// TouchSession sets a session's LastSeen.
func (db *DB) TouchSession(ctx context.Context, digest []byte, at time.Time) error {
	defer db.queueWrite()()
	if _, err := db.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE digest = ? AND last_seen < ?`,
		unixTime(pihu.Timestamp(at)), digest, unixTime(pihu.Timestamp(at))); err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	}
	return nil
}
