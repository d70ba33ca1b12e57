package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// memberFrom joins a person to their memberships; Dialect.Members reads a
// row of its columns, and Dialect.People the same columns from users
// alone (no account, no role).
const (
	memberFrom    = ` FROM memberships m JOIN users u ON u.id = m.user_id`
	MemberColumns = `u.id, m.account_id, u.email, u.password_hash, m.role, m.created, u.password_changed, u.totp_secret, u.totp_enabled,
		(SELECT count(*) FROM passkeys p WHERE p.user_id = u.id)`
	PersonColumns = `id, '', email, password_hash, '', created, password_changed, totp_secret, totp_enabled,
		(SELECT count(*) FROM passkeys p WHERE p.user_id = users.id)`
)

// pendingInvite is the condition of an invite pending at the time given
// as its one argument.
const pendingInvite = `accepted IS NULL AND canceled IS NULL AND expires > ?`

// member reads user id as a member of account accountID. Returns
// pihu.MemberNotFound if they are not one.
func member(ctx context.Context, c Conn, d *Dialect, accountID, id string) (*pihu.User, error) {
	u, err := Users.Scan(c.QueryRow(ctx, `SELECT `+Users.Columns+memberFrom+` WHERE m.account_id = ? AND u.id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.MemberNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", id, err)
	}
	return u, nil
}

// lockAccount checks that account id exists, and where rows are locked,
// locks its row until the transaction ends, so that changes to its team
// (invites, removals) are made one at a time. Returns pihu.AccountNotFound
// if there is no such account.
func lockAccount(ctx context.Context, tx Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = ?`+tx.Dialect().ForUpdate, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return pihu.AccountNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("account %s: %w", id, err)
	}
	return nil
}

// checkEmailFree returns pihu.EmailTaken if a person has email ("" is never
// taken). It runs inside the write transaction that stores the email, so
// that, where that holds the write lock, the check and the write are one
// step; elsewhere the unique index on emails tells two such transactions
// apart (emailTaken).
func checkEmailFree(ctx context.Context, tx Tx, email string) error {
	if email == "" {
		return nil
	}
	var taken bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = ?)`, email).Scan(&taken); err != nil {
		return fmt.Errorf("check email: %w", err)
	}
	if taken {
		return pihu.EmailTaken(email)
	}
	return nil
}

// emailTaken turns err, a write of email that broke the unique index on
// users' emails, into pihu.EmailTaken: the second of two transactions that
// both checked the email free before either committed gets the same answer
// as if it had checked after the first.
func emailTaken(tx Tx, err error, email string) error {
	if u := tx.Dialect().UniqueViolation; u != nil && u(err, "users_email") {
		return pihu.EmailTaken(email)
	}
	return err
}

// insertPerson stores u as a new person (no membership).
func insertPerson(ctx context.Context, tx Tx, u *pihu.User) error {
	if err := checkEmailFree(ctx, tx, u.Email); err != nil {
		return err
	}
	d := tx.Dialect()
	if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, password_hash, created, password_changed) VALUES (?, ?, ?, ?, ?)`,
		u.ID, NullString(u.Email), u.PasswordHash, d.Time(u.Created), d.NullTime(u.PasswordChanged)); err != nil {
		if err := emailTaken(tx, err, u.Email); pihu.ErrorCode(err) != pihu.EInternal {
			return err
		}
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

// insertMembership makes person userID a member of account accountID with
// role, unless they are one already (whose role then stays).
func insertMembership(ctx context.Context, tx Tx, userID, accountID string, role pihu.Role, at time.Time) error {
	if !role.Valid() {
		return fmt.Errorf("add member %s: invalid role %q", userID, role)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, user_id) DO NOTHING`, userID, accountID, string(role), tx.Dialect().Time(at)); err != nil {
		return fmt.Errorf("add member %s: %w", userID, err)
	}
	return nil
}

func insertLink(ctx context.Context, tx Tx, l *pihu.Link) error {
	d := tx.Dialect()
	if _, err := tx.Exec(ctx, `INSERT INTO links (digest, user_id, account_id, purpose, created, expires)
		VALUES (?, ?, ?, ?, ?, ?)`,
		l.Digest, l.UserID, l.AccountID, string(l.Purpose), d.Time(l.Created), d.Time(l.Expires)); err != nil {
		return fmt.Errorf("create link for user %s: %w", l.UserID, err)
	}
	return nil
}

// CreateAccountWithOwner stores a new account, its owner (a new person)
// and the events given in one transaction (sign-up). Returns
// EParameterInvalid on "email" if a person already has that email;
// nothing is stored then.
func (s Store) CreateAccountWithOwner(ctx context.Context, a *pihu.Account, owner *pihu.User, events ...*pihu.AuditEvent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if a.ID == "" || owner == nil {
		return errors.New("create account: an account needs an id and an owner user")
	}
	if a.Created.IsZero() {
		a.Created = s.Driver.Now()
	}
	a.Created = pihu.Timestamp(a.Created)
	owner.AccountID, owner.Role = a.ID, pihu.RoleOwner
	return s.Driver.Write(ctx, "create account "+a.ID, "", func(ctx context.Context, tx Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)`,
			a.ID, a.Name, tx.Dialect().Time(a.Created)); err != nil {
			return fmt.Errorf("create account %s: %w", a.ID, err)
		}
		if err := insertPerson(ctx, tx, owner); err != nil {
			return err
		}
		if err := insertMembership(ctx, tx, owner.ID, a.ID, pihu.RoleOwner, owner.Created); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, events)
	})
}

// CreateUser stores a new person, member of the existing account
// u.AccountID with u.Role, and the link and events given, in one
// transaction. Returns EParameterInvalid on "email" if a person already
// has that email, ENotFound if the account does not exist.
func (s Store) CreateUser(ctx context.Context, u *pihu.User, link *pihu.Link, events ...*pihu.AuditEvent) error {
	if !u.Role.Valid() {
		return fmt.Errorf("create user %s: invalid role %q", u.ID, u.Role)
	}
	return s.Driver.Write(ctx, "create user "+u.ID, "", func(ctx context.Context, tx Tx) error {
		if err := lockAccount(ctx, tx, u.AccountID); err != nil {
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
		return InsertEvents(ctx, tx, events)
	})
}

// CreateLink stores a one-time link for an existing member. Returns
// ENotFound if the user is not a member of the link's account.
func (s Store) CreateLink(ctx context.Context, l *pihu.Link) error {
	return s.Driver.Write(ctx, "create link", "", func(ctx context.Context, tx Tx) error {
		if _, err := member(ctx, tx, tx.Dialect(), l.AccountID, l.UserID); err != nil {
			return err
		}
		return insertLink(ctx, tx, l)
	})
}

// UserByEmail returns the person with that email. Returns
// pihu.ErrNoUserWithEmail if there is none.
func (s Store) UserByEmail(ctx context.Context, email string) (*pihu.User, error) {
	if email == "" {
		return nil, pihu.ErrNoUserWithEmail
	}
	return one(ctx, s, "user by email", Users.Scan, pihu.ErrNoUserWithEmail,
		`SELECT `+PersonColumns+` FROM users WHERE email = ?`, email)
}

// User returns user id as a member of account accountID. Returns
// ENotFound if they are not one.
func (s Store) User(ctx context.Context, accountID, id string) (*pihu.User, error) {
	return read(ctx, s, "user "+id, func(ctx context.Context, c Conn) (*pihu.User, error) {
		return member(ctx, c, s.Dialect, accountID, id)
	})
}

// ListUsers returns the account's members, in the order they joined.
func (s Store) ListUsers(ctx context.Context, accountID string) ([]*pihu.User, error) {
	return all(ctx, s, "list users", Users.Scan,
		`SELECT `+Users.Columns+memberFrom+` WHERE m.account_id = ? ORDER BY m.seq`, accountID)
}

// RemoveMember removes user userID from account accountID and ends their
// sessions in it. Returns ENotFound if they are not a member, and
// pihu.CheckRemoveMember's error for the account's last owner. The
// account's row is locked first where rows are locked, so that two
// removals cannot each leave the other's owner as the last.
func (s Store) RemoveMember(ctx context.Context, accountID, userID string, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "remove member "+userID, "", func(ctx context.Context, tx Tx) error {
		if err := lockAccount(ctx, tx, accountID); err != nil {
			if pihu.ErrorCode(err) == pihu.ENotFound {
				return pihu.MemberNotFound(userID)
			}
			return err
		}
		u, err := member(ctx, tx, tx.Dialect(), accountID, userID)
		if err != nil {
			return err
		}
		var owners int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE account_id = ? AND role = 'owner'`, accountID).Scan(&owners); err != nil {
			return fmt.Errorf("remove member %s: %w", userID, err)
		}
		if err := pihu.CheckRemoveMember(u.Role, owners); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM memberships WHERE account_id = ? AND user_id = ?`,
			`DELETE FROM sessions WHERE account_id = ? AND user_id = ?`,
			`DELETE FROM links WHERE account_id = ? AND user_id = ?`,
		} {
			if _, err := tx.Exec(ctx, q, accountID, userID); err != nil {
				return fmt.Errorf("remove member %s: %w", userID, err)
			}
		}
		return InsertEvents(ctx, tx, events)
	})
}

// CreateInvite stores a pending invite, replacing the account's pending
// invites of the same email, and the events given. Returns inv.Validate's
// errors, pihu.ErrAlreadyMember if a member of the account has the email,
// ENotFound if the account does not exist. The account's row is locked
// first where rows are locked, so that two invites of one email leave one
// pending.
func (s Store) CreateInvite(ctx context.Context, inv *pihu.Invite, events ...*pihu.AuditEvent) error {
	if err := inv.Validate(); err != nil {
		return err
	}
	inv.Created, inv.Expires = pihu.Timestamp(inv.Created), pihu.Timestamp(inv.Expires)
	return s.Driver.Write(ctx, "create invite", "", func(ctx context.Context, tx Tx) error {
		if err := lockAccount(ctx, tx, inv.AccountID); err != nil {
			return err
		}
		var isMember bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1`+memberFrom+` WHERE m.account_id = ? AND u.email = ?)`,
			inv.AccountID, inv.Email).Scan(&isMember); err != nil {
			return fmt.Errorf("create invite: %w", err)
		}
		if isMember {
			return pihu.ErrAlreadyMember(inv.Email)
		}
		d := tx.Dialect()
		created := d.Time(inv.Created)
		if _, err := tx.Exec(ctx, `UPDATE invites SET canceled = ? WHERE account_id = ? AND email = ? AND `+pendingInvite,
			created, inv.AccountID, inv.Email, created); err != nil {
			return fmt.Errorf("create invite: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO invites (`+Invites.Columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.AccountID, inv.Email, string(inv.Role), inv.Digest, inv.InvitedBy, created, d.Time(inv.Expires)); err != nil {
			return fmt.Errorf("create invite: %w", err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// ListInvites returns the account's invites pending at the time at, oldest
// first.
func (s Store) ListInvites(ctx context.Context, accountID string, at time.Time) ([]*pihu.Invite, error) {
	d := s.Dialect
	return all(ctx, s, "list invites", Invites.Scan,
		`SELECT `+Invites.Columns+` FROM invites WHERE account_id = ? AND `+pendingInvite+` ORDER BY seq`,
		accountID, d.Time(pihu.Timestamp(at)))
}

// CancelInvite cancels the account's invite id, pending at the time at.
// Returns ENotFound if there is no such pending invite.
func (s Store) CancelInvite(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "cancel invite "+id, "", func(ctx context.Context, tx Tx) error {
		now := tx.Dialect().Time(pihu.Timestamp(at))
		n, err := tx.Exec(ctx, `UPDATE invites SET canceled = ? WHERE id = ? AND account_id = ? AND `+pendingInvite, now, id, accountID, now)
		if err != nil {
			return fmt.Errorf("cancel invite %s: %w", id, err)
		}
		if n == 0 {
			return pihu.InviteNotFound(id)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// InviteByDigest returns the invite whose link token has the digest, if it
// is pending at the time at. Returns pihu.ErrInviteInvalid otherwise.
func (s Store) InviteByDigest(ctx context.Context, digest []byte, at time.Time) (*pihu.Invite, error) {
	d := s.Dialect
	return one(ctx, s, "invite", Invites.Scan, pihu.ErrInviteInvalid,
		`SELECT `+Invites.Columns+` FROM invites WHERE digest = ? AND `+pendingInvite, digest, d.Time(pihu.Timestamp(at)))
}

// AcceptInvite uses the pending invite of the digest for person.Email and
// makes person (stored if new) a member of its account, with the events
// given. Returns pihu.ErrInviteInvalid if there is no such pending invite
// for that email, EParameterInvalid on "email" if person is new but the
// email is a person's. Of concurrent uses of one invite, the UPDATE of the
// first takes its row; the others then see it used.
func (s Store) AcceptInvite(ctx context.Context, digest []byte, person *pihu.User, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	return write(ctx, s, "accept invite", "", func(ctx context.Context, tx Tx) (*pihu.User, error) {
		var accountID, role string
		now := tx.Dialect().Time(at)
		err := tx.QueryRow(ctx, `UPDATE invites SET accepted = ? WHERE digest = ? AND email = ? AND `+pendingInvite+`
			RETURNING account_id, role`, now, digest, person.Email, now).Scan(&accountID, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.ErrInviteInvalid
		}
		if err != nil {
			return nil, fmt.Errorf("accept invite: %w", err)
		}
		if err := addPerson(ctx, tx, person); err != nil {
			return nil, err
		}
		if err := insertMembership(ctx, tx, person.ID, accountID, pihu.Role(role), at); err != nil {
			return nil, err
		}
		u, err := member(ctx, tx, tx.Dialect(), accountID, person.ID)
		if err != nil {
			return nil, err
		}
		for _, ev := range events {
			ev.AccountID = accountID
		}
		return u, InsertEvents(ctx, tx, events)
	})
}

// addPerson stores person unless a person has their email: that must be
// them, else it is pihu.EmailTaken.
func addPerson(ctx context.Context, tx Tx, person *pihu.User) error {
	var known string
	err := tx.QueryRow(ctx, `SELECT id FROM users WHERE email = ?`, person.Email).Scan(&known)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return insertPerson(ctx, tx, person)
	case err != nil:
		return fmt.Errorf("accept invite: %w", err)
	case known != person.ID:
		return pihu.EmailTaken(person.Email)
	}
	return nil
}

// UseLink consumes the unexpired, unused setup link whose token has the
// digest, and in the same transaction sets its user's password hash (and
// email, if given), deletes the user's sessions and records the events.
// Returns pihu.ErrLinkInvalid if the link is unknown, used, expired or not
// a setup link; EParameterInvalid on "email" if the email is taken. Of
// concurrent uses of one link, the UPDATE of the first takes its row; the
// others then see it used.
func (s Store) UseLink(ctx context.Context, digest []byte, email, passwordHash string, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	return write(ctx, s, "use link", "", func(ctx context.Context, tx Tx) (*pihu.User, error) {
		var userID, accountID string
		now := tx.Dialect().Time(at)
		err := tx.QueryRow(ctx, `UPDATE links SET used = ?
			WHERE digest = ? AND purpose = 'setup' AND used IS NULL AND expires > ?
			RETURNING user_id, account_id`, now, digest, now).Scan(&userID, &accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.ErrLinkInvalid
		}
		if err != nil {
			return nil, fmt.Errorf("use link: %w", err)
		}
		if err := setEmail(ctx, tx, userID, email); err != nil {
			return nil, err
		}
		if err := setPassword(ctx, tx, userID, passwordHash, at); err != nil {
			return nil, err
		}
		u, err := member(ctx, tx, tx.Dialect(), accountID, userID)
		if err != nil {
			return nil, err
		}
		return u, InsertEvents(ctx, tx, events)
	})
}

// SetupLink returns the setup link whose token has the digest, used or
// not, expired or not. Returns pihu.ErrLinkInvalid if there is none.
func (s Store) SetupLink(ctx context.Context, digest []byte) (*pihu.Link, error) {
	return one(ctx, s, "setup link", Links.Scan, pihu.ErrLinkInvalid,
		`SELECT `+Links.Columns+` FROM links WHERE digest = ? AND purpose = 'setup'`, digest)
}

// PendingSetup returns the newest setup link not used yet, expired or
// not. Returns pihu.ErrLinkInvalid if there is none.
func (s Store) PendingSetup(ctx context.Context) (*pihu.Link, error) {
	return one(ctx, s, "pending setup", Links.Scan, pihu.ErrLinkInvalid,
		`SELECT `+Links.Columns+` FROM links WHERE purpose = 'setup' AND used IS NULL ORDER BY created DESC LIMIT 1`)
}

// setEmail sets user userID's email, unless it is "".
func setEmail(ctx context.Context, tx Tx, userID, email string) error {
	if email == "" {
		return nil
	}
	if err := checkEmailFree(ctx, tx, email); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET email = ? WHERE id = ?`, email, userID); err != nil {
		if err := emailTaken(tx, err, email); pihu.ErrorCode(err) != pihu.EInternal {
			return err
		}
		return fmt.Errorf("set email of %s: %w", userID, err)
	}
	return nil
}

// setPassword sets a user's password hash and signs out every session of
// the user.
func setPassword(ctx context.Context, tx Tx, userID, hash string, at time.Time) error {
	n, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, password_changed = ? WHERE id = ?`, hash, tx.Dialect().Time(at), userID)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", userID, err)
	}
	if n == 0 {
		return pihu.UserNotFound(userID)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sign out %s: %w", userID, err)
	}
	return nil
}

// SetPassword changes a person's password hash and deletes all of their
// sessions. Returns ENotFound if they are not a member of the account.
func (s Store) SetPassword(ctx context.Context, accountID, userID, passwordHash string, at time.Time, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "set password", "", func(ctx context.Context, tx Tx) error {
		if _, err := member(ctx, tx, tx.Dialect(), accountID, userID); err != nil {
			return err
		}
		if err := setPassword(ctx, tx, userID, passwordHash, pihu.Timestamp(at)); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, events)
	})
}
