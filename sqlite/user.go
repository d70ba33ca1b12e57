package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// userColumns are the columns scanUser reads, in its order.
const userColumns = `id, account_id, email, password_hash, role, created, password_changed`

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

// errEmailTaken is the answer to an email another user has: the sign-up or
// invite form shows it next to the field.
func errEmailTaken(email string) error {
	return pihu.ParamErrorf(pihu.EParameterInvalid, "email", "A user with the email %q already exists; sign in instead, or use another address.", email)
}

// checkEmailFree returns errEmailTaken if a user has email ("" is never
// taken). It runs inside the write transaction that stores the email, so
// that the check and the write are one step.
func checkEmailFree(ctx context.Context, tx *sql.Tx, email string) error {
	if email == "" {
		return nil
	}
	var taken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = ?)`, email).Scan(&taken); err != nil {
		return fmt.Errorf("sqlite: check email: %w", err)
	}
	if taken {
		return errEmailTaken(email)
	}
	return nil
}

func insertUser(ctx context.Context, tx *sql.Tx, u *pihu.User) error {
	if !u.Role.Valid() {
		return fmt.Errorf("sqlite: create user %s: invalid role %q", u.ID, u.Role)
	}
	if err := checkEmailFree(ctx, tx, u.Email); err != nil {
		return err
	}
	email := sql.Null[string]{V: u.Email, Valid: u.Email != ""}
	if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, email, u.PasswordHash, string(u.Role), unixTime(u.Created), nullTime(u.PasswordChanged)); err != nil {
		return fmt.Errorf("sqlite: create user %s: %w", u.ID, err)
	}
	return nil
}

func insertLink(ctx context.Context, tx *sql.Tx, l *pihu.Link) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO links (digest, user_id, account_id, purpose, created, expires)
		VALUES (?, ?, ?, ?, ?, ?)`,
		l.Digest, l.UserID, l.AccountID, string(l.Purpose), unixTime(l.Created), unixTime(l.Expires)); err != nil {
		return fmt.Errorf("sqlite: create link for user %s: %w", l.UserID, err)
	}
	return nil
}

// CreateAccountWithOwner stores a new account, its owner user and the
// events given in one transaction (sign-up). Returns EParameterInvalid on
// "email" if a user already has that email; nothing is stored then.
func (db *DB) CreateAccountWithOwner(ctx context.Context, a *pihu.Account, owner *pihu.User, events ...*pihu.AuditEvent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if a.ID == "" || owner == nil {
		return errors.New("sqlite: create account: an account needs an id and an owner user")
	}
	if a.Created.IsZero() {
		a.Created = db.Now()
	}
	a.Created = pihu.Timestamp(a.Created)
	owner.AccountID = a.ID
	return db.inTx(ctx, "create account "+a.ID, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)`,
			a.ID, a.Name, unixTime(a.Created)); err != nil {
			return fmt.Errorf("sqlite: create account %s: %w", a.ID, err)
		}
		if err := insertUser(ctx, tx, owner); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// CreateUser stores a user of an existing account and the link and events
// given, in one transaction. Returns EParameterInvalid on "email" if a user
// already has that email, ENotFound if the account does not exist.
func (db *DB) CreateUser(ctx context.Context, u *pihu.User, link *pihu.Link, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create user "+u.ID, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)`, u.AccountID).Scan(&exists); err != nil {
			return fmt.Errorf("sqlite: create user %s: %w", u.ID, err)
		}
		if !exists {
			return pihu.Errorf(pihu.ENotFound, "No account has the id %q.", u.AccountID)
		}
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		if link != nil {
			if err := insertLink(ctx, tx, link); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	})
}

// CreateLink stores a one-time link for an existing user. Returns ENotFound
// if the user does not exist in the link's account.
func (db *DB) CreateLink(ctx context.Context, l *pihu.Link) error {
	return db.inTx(ctx, "create link", func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND account_id = ?)`,
			l.UserID, l.AccountID).Scan(&exists); err != nil {
			return fmt.Errorf("sqlite: create link: %w", err)
		}
		if !exists {
			return pihu.Errorf(pihu.ENotFound, "No user has the id %q in this account.", l.UserID)
		}
		return insertLink(ctx, tx, l)
	})
}

// UserByEmail returns the user with that email. Returns ENotFound if there
// is none.
func (db *DB) UserByEmail(ctx context.Context, email string) (*pihu.User, error) {
	if email == "" {
		return nil, pihu.Errorf(pihu.ENotFound, "No user has this email.")
	}
	u, err := scanUser(db.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.Errorf(pihu.ENotFound, "No user has this email.")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user by email: %w", err)
	}
	return u, nil
}

// User returns user id of account accountID. Returns ENotFound if it does
// not exist or belongs to another account.
func (db *DB) User(ctx context.Context, accountID, id string) (*pihu.User, error) {
	u, err := scanUser(db.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ? AND account_id = ?`, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.Errorf(pihu.ENotFound, "No user has the id %q in this account.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user %s: %w", id, err)
	}
	return u, nil
}

// ListUsers returns the account's users, oldest first.
func (db *DB) ListUsers(ctx context.Context, accountID string) ([]*pihu.User, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE account_id = ? ORDER BY seq`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	var out []*pihu.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return out, nil
}

// UseLink consumes the unexpired, unused link whose token has the digest,
// and in the same transaction sets its user's password hash (and email, if
// given), deletes the user's sessions and records the events. Returns
// ENotFound if the link is unknown, used or expired; EParameterInvalid on
// "email" if the email is taken.
func (db *DB) UseLink(ctx context.Context, digest []byte, email, passwordHash string, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	var u *pihu.User
	err := db.inTx(ctx, "use link", func(tx *sql.Tx) error {
		var userID, accountID string
		err := tx.QueryRowContext(ctx, `UPDATE links SET used = ?
			WHERE digest = ? AND used IS NULL AND expires > ?
			RETURNING user_id, account_id`, unixTime(at), digest, unixTime(at)).Scan(&userID, &accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.Errorf(pihu.ENotFound, "This link is not valid: it was used already, it has expired, or it was never issued. Ask for a new one.")
		}
		if err != nil {
			return fmt.Errorf("sqlite: use link: %w", err)
		}
		if email != "" {
			if err := checkEmailFree(ctx, tx, email); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE users SET email = ? WHERE id = ?`, email, userID); err != nil {
				return fmt.Errorf("sqlite: use link: %w", err)
			}
		}
		if err := setPassword(ctx, tx, userID, passwordHash, at); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, userID))
		if err != nil {
			return fmt.Errorf("sqlite: use link: %w", err)
		}
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// setPassword sets a user's password hash and signs out every session of
// the user.
func setPassword(ctx context.Context, tx *sql.Tx, userID, hash string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_changed = ? WHERE id = ?`, hash, unixTime(at), userID)
	if err != nil {
		return fmt.Errorf("sqlite: set password of %s: %w", userID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return pihu.Errorf(pihu.ENotFound, "No user has the id %q.", userID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: sign out %s: %w", userID, err)
	}
	return nil
}

// SetPassword changes a user's password hash and deletes the user's
// sessions. Returns ENotFound for an unknown user of the account.
func (db *DB) SetPassword(ctx context.Context, accountID, userID, passwordHash string, at time.Time, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "set password", func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ? AND account_id = ?)`, userID, accountID).Scan(&exists); err != nil {
			return fmt.Errorf("sqlite: set password: %w", err)
		}
		if !exists {
			return pihu.Errorf(pihu.ENotFound, "No user has the id %q in this account.", userID)
		}
		if err := setPassword(ctx, tx, userID, passwordHash, pihu.Timestamp(at)); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
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
		return nil, pihu.Errorf(pihu.ENotFound, "No such session.")
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
