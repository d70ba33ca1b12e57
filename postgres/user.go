package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// userColumns are the columns scanUser reads, in its order.
const userColumns = `id, account_id, email, password_hash, role, created, password_changed`

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

// errEmailTaken is the answer to an email another user has: the sign-up or
// invite form shows it next to the field.
func errEmailTaken(email string) error {
	return pihu.ParamErrorf(pihu.EParameterInvalid, "email", "A user with the email %q already exists; sign in instead, or use another address.", email)
}

// emailTaken turns a violation of the unique index on users' emails into
// errEmailTaken: two transactions that both checked the email free before
// either committed are told apart by the index, and the second one gets
// the same answer as if it had checked after the first.
func emailTaken(err error, email string) error {
	if uniqueViolation(err, "users_email") {
		return errEmailTaken(email)
	}
	return err
}

// checkEmailFree returns errEmailTaken if a user has email ("" is never
// taken).
func checkEmailFree(ctx context.Context, tx pgx.Tx, email string) error {
	if email == "" {
		return nil
	}
	var taken bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, email).Scan(&taken); err != nil {
		return fmt.Errorf("check email: %w", err)
	}
	if taken {
		return errEmailTaken(email)
	}
	return nil
}

func insertUser(ctx context.Context, tx pgx.Tx, u *pihu.User) error {
	if !u.Role.Valid() {
		return fmt.Errorf("create user %s: invalid role %q", u.ID, u.Role)
	}
	if err := checkEmailFree(ctx, tx, u.Email); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.AccountID, nullString(u.Email), u.PasswordHash, string(u.Role), ts(u.Created), nullTS(u.PasswordChanged)); err != nil {
		return emailTaken(err, u.Email)
	}
	return nil
}

func insertLink(ctx context.Context, tx pgx.Tx, l *pihu.Link) error {
	if _, err := tx.Exec(ctx, `INSERT INTO links (digest, user_id, account_id, purpose, created, expires)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		l.Digest, l.UserID, l.AccountID, string(l.Purpose), ts(l.Created), ts(l.Expires)); err != nil {
		return fmt.Errorf("create link for user %s: %w", l.UserID, err)
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
		return errors.New("postgres: create account: an account needs an id and an owner user")
	}
	if a.Created.IsZero() {
		a.Created = db.Now()
	}
	a.Created = pihu.Timestamp(a.Created)
	owner.AccountID = a.ID
	return db.inTx(ctx, "create account "+a.ID, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created) VALUES ($1, $2, $3)`,
			a.ID, a.Name, ts(a.Created)); err != nil {
			return err
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
	return db.inTx(ctx, "create user "+u.ID, func(ctx context.Context, tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)`, u.AccountID).Scan(&exists); err != nil {
			return err
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
	return db.inTx(ctx, "create link", func(ctx context.Context, tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND account_id = $2)`,
			l.UserID, l.AccountID).Scan(&exists); err != nil {
			return err
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
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.Errorf(pihu.ENotFound, "No user has this email.")
	}
	if err != nil {
		return nil, wrap("user by email", err)
	}
	return u, nil
}

// User returns user id of account accountID. Returns ENotFound if it does
// not exist or belongs to another account.
func (db *DB) User(ctx context.Context, accountID, id string) (*pihu.User, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 AND account_id = $2`, id, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.Errorf(pihu.ENotFound, "No user has the id %q in this account.", id)
	}
	if err != nil {
		return nil, wrap("user "+id, err)
	}
	return u, nil
}

// ListUsers returns the account's users, oldest first.
func (db *DB) ListUsers(ctx context.Context, accountID string) ([]*pihu.User, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE account_id = $1 ORDER BY seq`, accountID)
	if err != nil {
		return nil, wrap("list users", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pihu.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	return out, nil
}

// UseLink consumes the unexpired, unused link whose token has the digest,
// and in the same transaction sets its user's password hash (and email, if
// given), deletes the user's sessions and records the events. Returns
// ENotFound if the link is unknown, used or expired; EParameterInvalid on
// "email" if the email is taken. Of concurrent uses of one link, the
// UPDATE of the first locks its row; the others wait, then see it used.
func (db *DB) UseLink(ctx context.Context, digest []byte, email, passwordHash string, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	var u *pihu.User
	err := db.inTx(ctx, "use link", func(ctx context.Context, tx pgx.Tx) error {
		var userID, accountID string
		err := tx.QueryRow(ctx, `UPDATE links SET used = $1
			WHERE digest = $2 AND used IS NULL AND expires > $1
			RETURNING user_id, account_id`, at, digest).Scan(&userID, &accountID)
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.Errorf(pihu.ENotFound, "This link is not valid: it was used already, it has expired, or it was never issued. Ask for a new one.")
		}
		if err != nil {
			return err
		}
		if email != "" {
			if err := checkEmailFree(ctx, tx, email); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE users SET email = $1 WHERE id = $2`, email, userID); err != nil {
				return emailTaken(err, email)
			}
		}
		if err := setPassword(ctx, tx, userID, passwordHash, at); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, userID))
		if err != nil {
			return err
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
func setPassword(ctx context.Context, tx pgx.Tx, userID, hash string, at time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, password_changed = $2 WHERE id = $3`, hash, ts(at), userID)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return pihu.Errorf(pihu.ENotFound, "No user has the id %q.", userID)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("sign out %s: %w", userID, err)
	}
	return nil
}

// SetPassword changes a user's password hash and deletes the user's
// sessions. Returns ENotFound for an unknown user of the account.
func (db *DB) SetPassword(ctx context.Context, accountID, userID, passwordHash string, at time.Time, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "set password", func(ctx context.Context, tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND account_id = $2)`, userID, accountID).Scan(&exists); err != nil {
			return err
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
		return nil, pihu.Errorf(pihu.ENotFound, "No such session.")
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
