package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// scanUser reads a person as a member of an account
// (sqlstore.MemberColumns), or alone (sqlstore.PersonColumns).
func scanUser(row rowScanner) (*pihu.User, error) {
	var (
		u       pihu.User
		email   sql.Null[string]
		created int64
		changed sql.Null[int64]
	)
	if err := row.Scan(&u.ID, &u.AccountID, &email, &u.PasswordHash, &u.Role, &created, &changed); err != nil {
		return nil, err
	}
	u.Email = email.V
	u.Created = fromUnix(created)
	u.PasswordChanged = fromNullUnix(changed)
	return &u, nil
}

// inviteColumns are the columns scanInvite reads, in its order.
const inviteColumns = `id, account_id, email, role, digest, invited_by, created, expires`

func scanInvite(row rowScanner) (*pihu.Invite, error) {
	var (
		inv              pihu.Invite
		created, expires int64
	)
	if err := row.Scan(&inv.ID, &inv.AccountID, &inv.Email, &inv.Role, &inv.Digest, &inv.InvitedBy, &created, &expires); err != nil {
		return nil, err
	}
	inv.Created, inv.Expires = fromUnix(created), fromUnix(expires)
	return &inv, nil
}

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
