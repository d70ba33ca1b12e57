package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// scanUser reads a person as a member of an account
// (sqlstore.MemberColumns), or alone (sqlstore.PersonColumns).
func scanUser(row pgx.Row) (*pihu.User, error) {
	var (
		u       pihu.User
		email   *string
		role    string
		changed *time.Time
	)
	if err := row.Scan(&u.ID, &u.AccountID, &email, &u.PasswordHash, &role, &u.Created, &changed); err != nil {
		return nil, err
	}
	if email != nil {
		u.Email = *email
	}
	u.Role = pihu.Role(role)
	u.Created = u.Created.UTC()
	u.PasswordChanged = utc(changed)
	return &u, nil
}

// inviteColumns are the columns scanInvite reads, in its order.
const inviteColumns = `id, account_id, email, role, digest, invited_by, created, expires`

func scanInvite(row pgx.Row) (*pihu.Invite, error) {
	var (
		inv  pihu.Invite
		role string
	)
	if err := row.Scan(&inv.ID, &inv.AccountID, &inv.Email, &role, &inv.Digest, &inv.InvitedBy, &inv.Created, &inv.Expires); err != nil {
		return nil, err
	}
	inv.Role, inv.Created, inv.Expires = pihu.Role(role), inv.Created.UTC(), inv.Expires.UTC()
	return &inv, nil
}

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
