package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/pihu-ai/pihu"
)

// TimeValue reads a time column of either database, as the driver gives
// it: unix seconds (SQLite) or a timestamp (PostgreSQL); NULL is nil. The
// time read is in UTC.
type TimeValue struct{ T *time.Time }

// Scan implements sql.Scanner, which both drivers call.
func (v *TimeValue) Scan(src any) error {
	var t time.Time
	switch s := src.(type) {
	case nil:
		v.T = nil
		return nil
	case int64:
		t = time.Unix(s, 0)
	case time.Time:
		t = s
	default:
		return fmt.Errorf("sqlstore: a time column holds a %T", src)
	}
	t = t.UTC()
	v.T = &t
	return nil
}

// Time is the time read, the zero time for NULL.
func (v TimeValue) Time() time.Time {
	if v.T == nil {
		return time.Time{}
	}
	return *v.T
}

// CreateSession stores a session and the events given, in one
// transaction.
func (s Store) CreateSession(ctx context.Context, sess *pihu.Session, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "create session", "", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		if sess.ID == "" {
			sess.ID = pihu.NewID(pihu.PrefixSession)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sess.ID, sess.Digest, sess.UserID, sess.AccountID,
			d.Time(pihu.Timestamp(sess.Created)), d.Time(pihu.Timestamp(sess.LastSeen)), d.Time(pihu.Timestamp(sess.Expires)),
			truncate(sess.UserAgent, pihu.MaxUserAgentLength), sess.IP, sess.Pending); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// SessionByDigest returns the session whose id has the given SHA-256.
// Returns pihu.ErrSessionNotFound if there is none.
func (s Store) SessionByDigest(ctx context.Context, digest []byte) (*pihu.Session, error) {
	return one(ctx, s, "session", scanSession, pihu.ErrSessionNotFound, `SELECT `+sessionColumns+` FROM sessions WHERE digest = ?`, digest)
}

// sessionColumns are the columns scanSession reads.
const sessionColumns = `id, digest, user_id, account_id, created, last_seen, expires, user_agent, ip, pending`

func scanSession(r Row) (*pihu.Session, error) {
	var (
		sess                   pihu.Session
		created, seen, expires TimeValue
	)
	if err := r.Scan(&sess.ID, &sess.Digest, &sess.UserID, &sess.AccountID, &created, &seen, &expires, &sess.UserAgent, &sess.IP, &sess.Pending); err != nil {
		return nil, err
	}
	sess.Created, sess.LastSeen, sess.Expires = created.Time(), seen.Time(), expires.Time()
	return &sess, nil
}

// truncate is s cut to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ListSessions returns person userID's signed-in sessions, newest first.
func (s Store) ListSessions(ctx context.Context, userID string) ([]*pihu.Session, error) {
	return all(ctx, s, "list sessions", scanSession,
		`SELECT `+sessionColumns+` FROM sessions WHERE user_id = ? AND NOT pending ORDER BY created DESC, id`, userID)
}

// DeleteUserSession deletes person userID's session id and records the
// events given. Returns pihu.ErrSessionNotFound if they have none such.
func (s Store) DeleteUserSession(ctx context.Context, userID, id string, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "delete session", "", func(ctx context.Context, tx Tx) error {
		n, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id = ?`, userID, id)
		if err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		if n == 0 {
			return pihu.ErrSessionNotFound
		}
		return InsertEvents(ctx, tx, events)
	})
}

// DeleteOtherSessions deletes person userID's sessions but keep, and
// records the events given; it returns how many it deleted.
func (s Store) DeleteOtherSessions(ctx context.Context, userID string, keep []byte, events ...*pihu.AuditEvent) (int, error) {
	return write(ctx, s, "delete other sessions", "", func(ctx context.Context, tx Tx) (int, error) {
		n, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND digest <> ?`, userID, keep)
		if err != nil {
			return 0, fmt.Errorf("delete other sessions: %w", err)
		}
		return int(n), InsertEvents(ctx, tx, events)
	})
}

// DeleteSession deletes a session and records the events given, in one
// transaction; an unknown one is not an error.
func (s Store) DeleteSession(ctx context.Context, digest []byte, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "delete session", "", func(ctx context.Context, tx Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE digest = ?`, digest); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// Memberships returns the accounts person userID belongs to, in the order
// they joined them.
func (s Store) Memberships(ctx context.Context, userID string) ([]pihu.Membership, error) {
	return all(ctx, s, "memberships", func(r Row) (pihu.Membership, error) {
		var (
			m      pihu.Membership
			role   string
			joined TimeValue
		)
		err := r.Scan(&m.AccountID, &m.AccountName, &role, &joined)
		m.Role, m.Joined = pihu.Role(role), joined.Time()
		return m, err
	}, `SELECT m.account_id, a.name, m.role, m.created
		FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.user_id = ? ORDER BY m.seq`, userID)
}

// SetLeakPolicy sets the leak policy of account id and records the events
// given, atomically. Returns pihu.AccountNotFound if there is no such
// account.
func (s Store) SetLeakPolicy(ctx context.Context, id string, p pihu.LeakPolicy, events ...*pihu.AuditEvent) (*pihu.Account, error) {
	if _, err := pihu.ParseLeakPolicy(string(p), "leak_policy"); err != nil {
		return nil, err
	}
	return write(ctx, s, "set leak policy of "+id, "", func(ctx context.Context, tx Tx) (*pihu.Account, error) {
		var (
			a       pihu.Account
			created TimeValue
			policy  string
		)
		err := tx.QueryRow(ctx, `UPDATE accounts SET leak_policy = ? WHERE id = ? RETURNING `+accountColumns,
			string(p), id).Scan(&a.ID, &a.Name, &created, &policy, &a.TwoFactorRequired, &a.SSORequired)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.AccountNotFound(id)
		}
		if err != nil {
			return nil, fmt.Errorf("set leak policy of %s: %w", id, err)
		}
		a.Created, a.LeakPolicy = created.Time(), pihu.LeakPolicy(policy)
		return &a, InsertEvents(ctx, tx, events)
	})
}

// SwitchSession moves a session to account accountID, of which its person
// must be a member. Returns ENotFound otherwise.
func (s Store) SwitchSession(ctx context.Context, digest []byte, accountID string) error {
	return s.Driver.WriteOne(ctx, "switch session", func(ctx context.Context, c Conn) error {
		n, err := c.Exec(ctx, `UPDATE sessions SET account_id = ? WHERE digest = ?
			AND EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = sessions.user_id AND m.account_id = ?)`, accountID, digest, accountID)
		if err != nil {
			return err
		}
		if n == 0 {
			return pihu.NotAMember(accountID)
		}
		return nil
	})
}

// TouchSession sets a session's LastSeen; an earlier time than the one
// stored is ignored.
func (s Store) TouchSession(ctx context.Context, digest []byte, at time.Time) error {
	return s.Driver.WriteOne(ctx, "touch session", func(ctx context.Context, c Conn) error {
		t := s.Dialect.Time(pihu.Timestamp(at))
		_, err := c.Exec(ctx, `UPDATE sessions SET last_seen = ? WHERE digest = ? AND last_seen < ?`, t, digest, t)
		return err
	})
}
