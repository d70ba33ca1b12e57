package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (digest, user_id, account_id, created, last_seen, expires)
			VALUES (?, ?, ?, ?, ?, ?)`, sess.Digest, sess.UserID, sess.AccountID,
			d.Time(pihu.Timestamp(sess.Created)), d.Time(pihu.Timestamp(sess.LastSeen)), d.Time(pihu.Timestamp(sess.Expires))); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// SessionByDigest returns the session whose id has the given SHA-256.
// Returns pihu.ErrSessionNotFound if there is none.
func (s Store) SessionByDigest(ctx context.Context, digest []byte) (*pihu.Session, error) {
	return one(ctx, s, "session", func(r Row) (*pihu.Session, error) {
		var (
			sess                   pihu.Session
			created, seen, expires TimeValue
		)
		if err := r.Scan(&sess.Digest, &sess.UserID, &sess.AccountID, &created, &seen, &expires); err != nil {
			return nil, err
		}
		sess.Created, sess.LastSeen, sess.Expires = created.Time(), seen.Time(), expires.Time()
		return &sess, nil
	}, pihu.ErrSessionNotFound, `SELECT digest, user_id, account_id, created, last_seen, expires
		FROM sessions WHERE digest = ?`, digest)
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
		err := tx.QueryRow(ctx, `UPDATE accounts SET leak_policy = ? WHERE id = ? RETURNING id, name, created, leak_policy`,
			string(p), id).Scan(&a.ID, &a.Name, &created, &policy)
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
