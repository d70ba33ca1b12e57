package postgres

import (
	"context"
	"errors"
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

// Memberships returns the accounts person userID belongs to, in the order
// they joined them.
func (db *DB) Memberships(ctx context.Context, userID string) ([]pihu.Membership, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT m.account_id, a.name, m.role, m.created
		FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.user_id = $1 ORDER BY m.seq`, userID)
	if err != nil {
		return nil, wrap("memberships", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pihu.Membership, error) {
		var (
			m    pihu.Membership
			role string
		)
		err := r.Scan(&m.AccountID, &m.AccountName, &role, &m.Joined)
		m.Role, m.Joined = pihu.Role(role), m.Joined.UTC()
		return m, err
	})
	if err != nil {
		return nil, wrap("memberships", err)
	}
	return out, nil
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

// CreateSession stores a session and the events given, in one
// transaction.
func (db *DB) CreateSession(ctx context.Context, s *pihu.Session, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create session", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (digest, user_id, account_id, created, last_seen, expires)
			VALUES ($1, $2, $3, $4, $5, $6)`, s.Digest, s.UserID, s.AccountID,
			ts(s.Created), ts(s.LastSeen), ts(s.Expires)); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// SessionByDigest returns the session whose id has the given SHA-256.
// Returns ENotFound if there is none.
func (db *DB) SessionByDigest(ctx context.Context, digest []byte) (*pihu.Session, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	var s pihu.Session
	err := db.pool.QueryRow(ctx, `SELECT digest, user_id, account_id, created, last_seen, expires
		FROM sessions WHERE digest = $1`, digest).Scan(&s.Digest, &s.UserID, &s.AccountID, &s.Created, &s.LastSeen, &s.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.ErrSessionNotFound
	}
	if err != nil {
		return nil, wrap("session", err)
	}
	s.Created, s.LastSeen, s.Expires = s.Created.UTC(), s.LastSeen.UTC(), s.Expires.UTC()
	return &s, nil
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

// DeleteSession deletes a session and records the events given, in one
// transaction; an unknown one is not an error.
func (db *DB) DeleteSession(ctx context.Context, digest []byte, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "delete session", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE digest = $1`, digest); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}
