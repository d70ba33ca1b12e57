package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// memberColumns are the columns scanUser reads for a person seen as a
// member of an account, from memberFrom; personColumns for a person seen
// outside any account, from users.
const (
	memberColumns = `u.id, m.account_id, u.email, u.password_hash, m.role, m.created, u.password_changed`
	memberFrom    = ` FROM memberships m JOIN users u ON u.id = m.user_id`
	personColumns = `id, '', email, password_hash, '', created, password_changed`
)

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

// checkEmailFree returns pihu.EmailTaken if a person has email ("" is never
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
		return pihu.EmailTaken(email)
	}
	return nil
}

// insertPerson stores u as a new person (no membership).
func insertPerson(ctx context.Context, tx *sql.Tx, u *pihu.User) error {
	if err := checkEmailFree(ctx, tx, u.Email); err != nil {
		return err
	}
	email := sql.Null[string]{V: u.Email, Valid: u.Email != ""}
	if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, created, password_changed) VALUES (?, ?, ?, ?, ?)`,
		u.ID, email, u.PasswordHash, unixTime(u.Created), nullTime(u.PasswordChanged)); err != nil {
		return fmt.Errorf("sqlite: create user %s: %w", u.ID, err)
	}
	return nil
}

// insertMembership makes person userID a member of account accountID with
// role, unless they are one already (whose role then stays).
func insertMembership(ctx context.Context, tx *sql.Tx, userID, accountID string, role pihu.Role, at time.Time) error {
	if !role.Valid() {
		return fmt.Errorf("sqlite: add member %s: invalid role %q", userID, role)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (user_id, account_id, role, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, user_id) DO NOTHING`, userID, accountID, string(role), unixTime(at)); err != nil {
		return fmt.Errorf("sqlite: add member %s: %w", userID, err)
	}
	return nil
}

// member reads user id as a member of account accountID.
func member(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, accountID, id string) (*pihu.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+memberColumns+memberFrom+` WHERE m.account_id = ? AND u.id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.MemberNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user %s: %w", id, err)
	}
	return u, nil
}

func accountExists(ctx context.Context, tx *sql.Tx, id string) error {
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("sqlite: account %s: %w", id, err)
	}
	if !exists {
		return pihu.AccountNotFound(id)
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

// CreateAccountWithOwner stores a new account, its owner (a new person)
// and the events given in one transaction (sign-up). Returns
// EParameterInvalid on "email" if a person already has that email;
// nothing is stored then.
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
	owner.AccountID, owner.Role = a.ID, pihu.RoleOwner
	return db.inTx(ctx, "create account "+a.ID, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)`,
			a.ID, a.Name, unixTime(a.Created)); err != nil {
			return fmt.Errorf("sqlite: create account %s: %w", a.ID, err)
		}
		if err := insertPerson(ctx, tx, owner); err != nil {
			return err
		}
		if err := insertMembership(ctx, tx, owner.ID, a.ID, pihu.RoleOwner, owner.Created); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// CreateUser stores a new person, member of the existing account
// u.AccountID with u.Role, and the link and events given, in one
// transaction. Returns EParameterInvalid on "email" if a person already
// has that email, ENotFound if the account does not exist.
func (db *DB) CreateUser(ctx context.Context, u *pihu.User, link *pihu.Link, events ...*pihu.AuditEvent) error {
	if !u.Role.Valid() {
		return fmt.Errorf("sqlite: create user %s: invalid role %q", u.ID, u.Role)
	}
	return db.inTx(ctx, "create user "+u.ID, func(tx *sql.Tx) error {
		if err := accountExists(ctx, tx, u.AccountID); err != nil {
			return err
		}
		if err := insertPerson(ctx, tx, u); err != nil {
			return err
		}
		if err := insertMembership(ctx, tx, u.ID, u.AccountID, u.Role, u.Created); err != nil {
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

// CreateLink stores a one-time link for an existing member. Returns
// ENotFound if the user is not a member of the link's account.
func (db *DB) CreateLink(ctx context.Context, l *pihu.Link) error {
	return db.inTx(ctx, "create link", func(tx *sql.Tx) error {
		if _, err := member(ctx, tx, l.AccountID, l.UserID); err != nil {
			return err
		}
		return insertLink(ctx, tx, l)
	})
}

// UserByEmail returns the person with that email. Returns ENotFound if
// there is none.
func (db *DB) UserByEmail(ctx context.Context, email string) (*pihu.User, error) {
	if email == "" {
		return nil, pihu.ErrNoUserWithEmail
	}
	u, err := scanUser(db.db.QueryRowContext(ctx, `SELECT `+personColumns+` FROM users WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.ErrNoUserWithEmail
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user by email: %w", err)
	}
	return u, nil
}

// User returns user id as a member of account accountID. Returns
// ENotFound if they are not one.
func (db *DB) User(ctx context.Context, accountID, id string) (*pihu.User, error) {
	return member(ctx, db.db, accountID, id)
}

// ListUsers returns the account's members, in the order they joined.
func (db *DB) ListUsers(ctx context.Context, accountID string) ([]*pihu.User, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+memberColumns+memberFrom+` WHERE m.account_id = ? ORDER BY m.seq`, accountID)
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

// RemoveMember removes user userID from account accountID and ends their
// sessions in it. Returns ENotFound if they are not a member, and
// pihu.CheckRemoveMember's error for the account's last owner.
func (db *DB) RemoveMember(ctx context.Context, accountID, userID string, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "remove member "+userID, func(tx *sql.Tx) error {
		u, err := member(ctx, tx, accountID, userID)
		if err != nil {
			return err
		}
		var owners int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM memberships WHERE account_id = ? AND role = 'owner'`, accountID).Scan(&owners); err != nil {
			return fmt.Errorf("sqlite: remove member %s: %w", userID, err)
		}
		if err := pihu.CheckRemoveMember(u.Role, owners); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM memberships WHERE account_id = ? AND user_id = ?`,
			`DELETE FROM sessions WHERE account_id = ? AND user_id = ?`,
			`DELETE FROM links WHERE account_id = ? AND user_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, accountID, userID); err != nil {
				return fmt.Errorf("sqlite: remove member %s: %w", userID, err)
			}
		}
		return insertEvents(ctx, tx, events)
	})
}

// inviteColumns are the columns scanInvite reads, in its order.
const inviteColumns = `id, account_id, email, role, digest, invited_by, created, expires`

// pendingInvite is the condition of an invite pending at the time given
// as its one argument.
const pendingInvite = `accepted IS NULL AND canceled IS NULL AND expires > ?`

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

// CreateInvite stores a pending invite, replacing the account's pending
// invites of the same email, and the events given. Returns inv.Validate's
// errors, pihu.ErrAlreadyMember if a member of the account has the email,
// ENotFound if the account does not exist.
func (db *DB) CreateInvite(ctx context.Context, inv *pihu.Invite, events ...*pihu.AuditEvent) error {
	if err := inv.Validate(); err != nil {
		return err
	}
	inv.Created, inv.Expires = pihu.Timestamp(inv.Created), pihu.Timestamp(inv.Expires)
	return db.inTx(ctx, "create invite", func(tx *sql.Tx) error {
		if err := accountExists(ctx, tx, inv.AccountID); err != nil {
			return err
		}
		var isMember bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1`+memberFrom+` WHERE m.account_id = ? AND u.email = ?)`,
			inv.AccountID, inv.Email).Scan(&isMember); err != nil {
			return fmt.Errorf("sqlite: create invite: %w", err)
		}
		if isMember {
			return pihu.ErrAlreadyMember(inv.Email)
		}
		created := unixTime(inv.Created)
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET canceled = ? WHERE account_id = ? AND email = ? AND `+pendingInvite,
			created, inv.AccountID, inv.Email, created); err != nil {
			return fmt.Errorf("sqlite: create invite: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO invites (`+inviteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.AccountID, inv.Email, string(inv.Role), inv.Digest, inv.InvitedBy, created, unixTime(inv.Expires)); err != nil {
			return fmt.Errorf("sqlite: create invite: %w", err)
		}
		return insertEvents(ctx, tx, events)
	})
}

// ListInvites returns the account's invites pending at the time at, oldest
// first.
func (db *DB) ListInvites(ctx context.Context, accountID string, at time.Time) ([]*pihu.Invite, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE account_id = ? AND `+pendingInvite+` ORDER BY seq`,
		accountID, unixTime(pihu.Timestamp(at)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list invites: %w", err)
	}
	defer rows.Close()
	var out []*pihu.Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list invites: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list invites: %w", err)
	}
	return out, nil
}

// CancelInvite cancels the account's invite id, pending at the time at.
// Returns ENotFound if there is no such pending invite.
func (db *DB) CancelInvite(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) error {
	now := unixTime(pihu.Timestamp(at))
	return db.inTx(ctx, "cancel invite "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE invites SET canceled = ? WHERE id = ? AND account_id = ? AND `+pendingInvite, now, id, accountID, now)
		if err != nil {
			return fmt.Errorf("sqlite: cancel invite %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return pihu.InviteNotFound(id)
		}
		return insertEvents(ctx, tx, events)
	})
}

// InviteByDigest returns the invite whose link token has the digest, if it
// is pending at the time at. Returns ENotFound otherwise.
func (db *DB) InviteByDigest(ctx context.Context, digest []byte, at time.Time) (*pihu.Invite, error) {
	inv, err := scanInvite(db.db.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE digest = ? AND `+pendingInvite,
		digest, unixTime(pihu.Timestamp(at))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.ErrInviteInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: invite: %w", err)
	}
	return inv, nil
}

// AcceptInvite uses the pending invite of the digest for person.Email and
// makes person (stored if new) a member of its account, with the events
// given. Returns ENotFound if there is no such pending invite for that
// email, EParameterInvalid on "email" if person is new but the email is a
// person's.
func (db *DB) AcceptInvite(ctx context.Context, digest []byte, person *pihu.User, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	var u *pihu.User
	err := db.inTx(ctx, "accept invite", func(tx *sql.Tx) error {
		var (
			accountID string
			role      pihu.Role
		)
		err := tx.QueryRowContext(ctx, `UPDATE invites SET accepted = ? WHERE digest = ? AND email = ? AND `+pendingInvite+`
			RETURNING account_id, role`, unixTime(at), digest, person.Email, unixTime(at)).Scan(&accountID, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.ErrInviteInvalid
		}
		if err != nil {
			return fmt.Errorf("sqlite: accept invite: %w", err)
		}
		var known string
		err = tx.QueryRowContext(ctx, `SELECT id FROM users WHERE email = ?`, person.Email).Scan(&known)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := insertPerson(ctx, tx, person); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("sqlite: accept invite: %w", err)
		case known != person.ID:
			return pihu.EmailTaken(person.Email)
		}
		if err := insertMembership(ctx, tx, person.ID, accountID, role, at); err != nil {
			return err
		}
		if u, err = member(ctx, tx, accountID, person.ID); err != nil {
			return err
		}
		for _, ev := range events {
			ev.AccountID = accountID
		}
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
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

// UseLink consumes the unexpired, unused setup link whose token has the
// digest, and in the same transaction sets its user's password hash (and
// email, if given), deletes the user's sessions and records the events.
// Returns ENotFound if the link is unknown, used, expired or not a setup
// link; EParameterInvalid on "email" if the email is taken.
func (db *DB) UseLink(ctx context.Context, digest []byte, email, passwordHash string, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	var u *pihu.User
	err := db.inTx(ctx, "use link", func(tx *sql.Tx) error {
		var userID, accountID string
		err := tx.QueryRowContext(ctx, `UPDATE links SET used = ?
			WHERE digest = ? AND purpose = 'setup' AND used IS NULL AND expires > ?
			RETURNING user_id, account_id`, unixTime(at), digest, unixTime(at)).Scan(&userID, &accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.ErrLinkInvalid
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
		if u, err = member(ctx, tx, accountID, userID); err != nil {
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
func setPassword(ctx context.Context, tx *sql.Tx, userID, hash string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_changed = ? WHERE id = ?`, hash, unixTime(at), userID)
	if err != nil {
		return fmt.Errorf("sqlite: set password of %s: %w", userID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return pihu.UserNotFound(userID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: sign out %s: %w", userID, err)
	}
	return nil
}

// SetPassword changes a person's password hash and deletes all of their
// sessions. Returns ENotFound if they are not a member of the account.
func (db *DB) SetPassword(ctx context.Context, accountID, userID, passwordHash string, at time.Time, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "set password", func(tx *sql.Tx) error {
		if _, err := member(ctx, tx, accountID, userID); err != nil {
			return err
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
