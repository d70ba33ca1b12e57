package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

// emailTaken turns a violation of the unique index on users' emails into
// pihu.EmailTaken: two transactions that both checked the email free before
// either committed are told apart by the index, and the second one gets
// the same answer as if it had checked after the first.
func emailTaken(err error, email string) error {
	if uniqueViolation(err, "users_email") {
		return pihu.EmailTaken(email)
	}
	return err
}

// checkEmailFree returns pihu.EmailTaken if a person has email ("" is never
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
		return pihu.EmailTaken(email)
	}
	return nil
}

// insertPerson stores u as a new person (no membership).
func insertPerson(ctx context.Context, tx pgx.Tx, u *pihu.User) error {
	if err := checkEmailFree(ctx, tx, u.Email); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, password_hash, created, password_changed) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, nullString(u.Email), u.PasswordHash, ts(u.Created), nullTS(u.PasswordChanged)); err != nil {
		return emailTaken(err, u.Email)
	}
	return nil
}

// insertMembership makes person userID a member of account accountID with
// role, unless they are one already (whose role then stays).
func insertMembership(ctx context.Context, tx pgx.Tx, userID, accountID string, role pihu.Role, at time.Time) error {
	if !role.Valid() {
		return fmt.Errorf("add member %s: invalid role %q", userID, role)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (user_id, account_id, role, created) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, user_id) DO NOTHING`, userID, accountID, string(role), ts(at)); err != nil {
		return fmt.Errorf("add member %s: %w", userID, err)
	}
	return nil
}

// member reads user id as a member of account accountID.
func member(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, accountID, id string) (*pihu.User, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+memberColumns+memberFrom+` WHERE m.account_id = $1 AND u.id = $2`, accountID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.MemberNotFound(id)
	}
	if err != nil {
		return nil, wrap("user "+id, err)
	}
	return u, nil
}

// lockAccount locks account id's row until the transaction ends, so that
// changes to its team (invites, removals) are made one at a time. Returns
// ENotFound if there is no such account.
func lockAccount(ctx context.Context, tx pgx.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return pihu.AccountNotFound(id)
	}
	return err
}

func insertLink(ctx context.Context, tx pgx.Tx, l *pihu.Link) error {
	if _, err := tx.Exec(ctx, `INSERT INTO links (digest, user_id, account_id, purpose, created, expires)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		l.Digest, l.UserID, l.AccountID, string(l.Purpose), ts(l.Created), ts(l.Expires)); err != nil {
		return fmt.Errorf("create link for user %s: %w", l.UserID, err)
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
		return errors.New("postgres: create account: an account needs an id and an owner user")
	}
	if a.Created.IsZero() {
		a.Created = db.Now()
	}
	a.Created = pihu.Timestamp(a.Created)
	owner.AccountID, owner.Role = a.ID, pihu.RoleOwner
	return db.inTx(ctx, "create account "+a.ID, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created) VALUES ($1, $2, $3)`,
			a.ID, a.Name, ts(a.Created)); err != nil {
			return err
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
		return fmt.Errorf("postgres: create user %s: invalid role %q", u.ID, u.Role)
	}
	return db.inTx(ctx, "create user "+u.ID, func(ctx context.Context, tx pgx.Tx) error {
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
		return insertEvents(ctx, tx, events)
	})
}

// CreateLink stores a one-time link for an existing member. Returns
// ENotFound if the user is not a member of the link's account.
func (db *DB) CreateLink(ctx context.Context, l *pihu.Link) error {
	return db.inTx(ctx, "create link", func(ctx context.Context, tx pgx.Tx) error {
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
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+personColumns+` FROM users WHERE email = $1`, email))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.ErrNoUserWithEmail
	}
	if err != nil {
		return nil, wrap("user by email", err)
	}
	return u, nil
}

// User returns user id as a member of account accountID. Returns
// ENotFound if they are not one.
func (db *DB) User(ctx context.Context, accountID, id string) (*pihu.User, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	return member(ctx, db.pool, accountID, id)
}

// ListUsers returns the account's members, in the order they joined.
func (db *DB) ListUsers(ctx context.Context, accountID string) ([]*pihu.User, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT `+memberColumns+memberFrom+` WHERE m.account_id = $1 ORDER BY m.seq`, accountID)
	if err != nil {
		return nil, wrap("list users", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pihu.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	return out, nil
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

// RemoveMember removes user userID from account accountID and ends their
// sessions in it. Returns ENotFound if they are not a member, and
// pihu.CheckRemoveMember's error for the account's last owner. The
// account's row is locked first, so that two removals cannot each leave
// the other's owner as the last.
func (db *DB) RemoveMember(ctx context.Context, accountID, userID string, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "remove member "+userID, func(ctx context.Context, tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, accountID); err != nil {
			if pihu.ErrorCode(err) == pihu.ENotFound {
				return pihu.MemberNotFound(userID)
			}
			return err
		}
		u, err := member(ctx, tx, accountID, userID)
		if err != nil {
			return err
		}
		var owners int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE account_id = $1 AND role = 'owner'`, accountID).Scan(&owners); err != nil {
			return err
		}
		if err := pihu.CheckRemoveMember(u.Role, owners); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM memberships WHERE account_id = $1 AND user_id = $2`,
			`DELETE FROM sessions WHERE account_id = $1 AND user_id = $2`,
			`DELETE FROM links WHERE account_id = $1 AND user_id = $2`,
		} {
			if _, err := tx.Exec(ctx, q, accountID, userID); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	})
}

// inviteColumns are the columns scanInvite reads, in its order.
const inviteColumns = `id, account_id, email, role, digest, invited_by, created, expires`

// pendingInvite is the condition of an invite pending at the time $1.
const pendingInvite = `accepted IS NULL AND canceled IS NULL AND expires > $1`

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

// CreateInvite stores a pending invite, replacing the account's pending
// invites of the same email, and the events given. Returns inv.Validate's
// errors, pihu.ErrAlreadyMember if a member of the account has the email,
// ENotFound if the account does not exist. The account's row is locked
// first, so that two invites of one email leave one pending.
func (db *DB) CreateInvite(ctx context.Context, inv *pihu.Invite, events ...*pihu.AuditEvent) error {
	if err := inv.Validate(); err != nil {
		return err
	}
	inv.Created, inv.Expires = pihu.Timestamp(inv.Created), pihu.Timestamp(inv.Expires)
	return db.inTx(ctx, "create invite", func(ctx context.Context, tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, inv.AccountID); err != nil {
			return err
		}
		var isMember bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1`+memberFrom+` WHERE m.account_id = $1 AND u.email = $2)`,
			inv.AccountID, inv.Email).Scan(&isMember); err != nil {
			return err
		}
		if isMember {
			return pihu.ErrAlreadyMember(inv.Email)
		}
		if _, err := tx.Exec(ctx, `UPDATE invites SET canceled = $1 WHERE account_id = $2 AND email = $3 AND `+pendingInvite,
			inv.Created, inv.AccountID, inv.Email); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO invites (`+inviteColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			inv.ID, inv.AccountID, inv.Email, string(inv.Role), inv.Digest, inv.InvitedBy, inv.Created, inv.Expires); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// ListInvites returns the account's invites pending at the time at, oldest
// first.
func (db *DB) ListInvites(ctx context.Context, accountID string, at time.Time) ([]*pihu.Invite, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT `+inviteColumns+` FROM invites WHERE `+pendingInvite+` AND account_id = $2 ORDER BY seq`,
		ts(at), accountID)
	if err != nil {
		return nil, wrap("list invites", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pihu.Invite, error) { return scanInvite(r) })
	if err != nil {
		return nil, wrap("list invites", err)
	}
	return out, nil
}

// CancelInvite cancels the account's invite id, pending at the time at.
// Returns ENotFound if there is no such pending invite.
func (db *DB) CancelInvite(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "cancel invite "+id, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE invites SET canceled = $1 WHERE `+pendingInvite+` AND id = $2 AND account_id = $3`, ts(at), id, accountID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pihu.InviteNotFound(id)
		}
		return insertEvents(ctx, tx, events)
	})
}

// InviteByDigest returns the invite whose link token has the digest, if it
// is pending at the time at. Returns ENotFound otherwise.
func (db *DB) InviteByDigest(ctx context.Context, digest []byte, at time.Time) (*pihu.Invite, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	inv, err := scanInvite(db.pool.QueryRow(ctx, `SELECT `+inviteColumns+` FROM invites WHERE `+pendingInvite+` AND digest = $2`, ts(at), digest))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.ErrInviteInvalid
	}
	if err != nil {
		return nil, wrap("invite", err)
	}
	return inv, nil
}

// AcceptInvite uses the pending invite of the digest for person.Email and
// makes person (stored if new) a member of its account, with the events
// given. Returns ENotFound if there is no such pending invite for that
// email, EParameterInvalid on "email" if person is new but the email is a
// person's. Of concurrent uses of one invite, the UPDATE of the first
// locks its row; the others wait, then see it used.
func (db *DB) AcceptInvite(ctx context.Context, digest []byte, person *pihu.User, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	var u *pihu.User
	err := db.inTx(ctx, "accept invite", func(ctx context.Context, tx pgx.Tx) error {
		var accountID, role string
		err := tx.QueryRow(ctx, `UPDATE invites SET accepted = $1 WHERE `+pendingInvite+` AND digest = $2 AND email = $3
			RETURNING account_id, role`, at, digest, person.Email).Scan(&accountID, &role)
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.ErrInviteInvalid
		}
		if err != nil {
			return err
		}
		var known string
		err = tx.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, person.Email).Scan(&known)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if err := insertPerson(ctx, tx, person); err != nil {
				return err
			}
		case err != nil:
			return err
		case known != person.ID:
			return pihu.EmailTaken(person.Email)
		}
		if err := insertMembership(ctx, tx, person.ID, accountID, pihu.Role(role), at); err != nil {
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

// UseLink consumes the unexpired, unused setup link whose token has the
// digest, and in the same transaction sets its user's password hash (and
// email, if given), deletes the user's sessions and records the events.
// Returns ENotFound if the link is unknown, used, expired or not a setup
// link; EParameterInvalid on "email" if the email is taken. Of concurrent uses of one link, the
// UPDATE of the first locks its row; the others wait, then see it used.
func (db *DB) UseLink(ctx context.Context, digest []byte, email, passwordHash string, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	var u *pihu.User
	err := db.inTx(ctx, "use link", func(ctx context.Context, tx pgx.Tx) error {
		var userID, accountID string
		err := tx.QueryRow(ctx, `UPDATE links SET used = $1
			WHERE digest = $2 AND purpose = 'setup' AND used IS NULL AND expires > $1
			RETURNING user_id, account_id`, at, digest).Scan(&userID, &accountID)
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.ErrLinkInvalid
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
func setPassword(ctx context.Context, tx pgx.Tx, userID, hash string, at time.Time) error {
	tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, password_changed = $2 WHERE id = $3`, hash, ts(at), userID)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return pihu.UserNotFound(userID)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("sign out %s: %w", userID, err)
	}
	return nil
}

// SetPassword changes a person's password hash and deletes all of their
// sessions. Returns ENotFound if they are not a member of the account.
func (db *DB) SetPassword(ctx context.Context, accountID, userID, passwordHash string, at time.Time, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "set password", func(ctx context.Context, tx pgx.Tx) error {
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
