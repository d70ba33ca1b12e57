package sqlite

import (
	"context"
	"database/sql"
	"errors"
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

// Memberships returns the accounts person userID belongs to, in the order
// they joined them.
func (db *DB) Memberships(ctx context.Context, userID string) ([]pihu.Membership, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT m.account_id, a.name, m.role, m.created
		FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.user_id = ? ORDER BY m.seq`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: memberships: %w", err)
	}
	defer rows.Close()
	var out []pihu.Membership
	for rows.Next() {
		var (
			m      pihu.Membership
			joined int64
		)
		if err := rows.Scan(&m.AccountID, &m.AccountName, &m.Role, &joined); err != nil {
			return nil, fmt.Errorf("sqlite: memberships: %w", err)
		}
		m.Joined = fromUnix(joined)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: memberships: %w", err)
	}
	return out, nil
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

// CreateSession stores a session and the events given, in one
// transaction.
func (db *DB) CreateSession(ctx context.Context, s *pihu.Session, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create session", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (digest, user_id, account_id, created, last_seen, expires)
		VALUES (?, ?, ?, ?, ?, ?)`, s.Digest, s.UserID, s.AccountID,
			unixTime(pihu.Timestamp(s.Created)), unixTime(pihu.Timestamp(s.LastSeen)), unixTime(pihu.Timestamp(s.Expires))); err != nil {
			return fmt.Errorf("sqlite: create session: %w", err)
		}
		return insertEvents(ctx, tx, events)
	})
}

// SessionByDigest returns the session whose id has the given SHA-256.
// Returns ENotFound if there is none.
func (db *DB) SessionByDigest(ctx context.Context, digest []byte) (*pihu.Session, error) {
	var (
		s                      pihu.Session
		created, seen, expires int64
	)
	err := db.db.QueryRowContext(ctx, `SELECT digest, user_id, account_id, created, last_seen, expires
		FROM sessions WHERE digest = ?`, digest).Scan(&s.Digest, &s.UserID, &s.AccountID, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session: %w", err)
	}
	s.Created, s.LastSeen, s.Expires = fromUnix(created), fromUnix(seen), fromUnix(expires)
	return &s, nil
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

// DeleteSession deletes a session and records the events given, in one
// transaction; an unknown one is not an error.
func (db *DB) DeleteSession(ctx context.Context, digest []byte, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "delete session", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE digest = ?`, digest); err != nil {
			return fmt.Errorf("sqlite: delete session: %w", err)
		}
		return insertEvents(ctx, tx, events)
	})
}
