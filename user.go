package pihu

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// Role is what a user of the dashboard may do in its account.
type Role string

const (
	// RoleOwner manages keys and the team. The user who signs up, and the
	// first-start account's user, is an owner.
	RoleOwner Role = "owner"
	// RoleAdmin manages keys: create, rotate, revoke.
	RoleAdmin Role = "admin"
	// RoleViewer reads keys, usage and the audit log, and changes nothing.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleViewer }

// CanManageKeys reports whether r may create, rotate and revoke keys.
func (r Role) CanManageKeys() bool { return r == RoleOwner || r == RoleAdmin }

// CanManageTeam reports whether r may invite and remove members, and
// cancel invites.
func (r Role) CanManageTeam() bool { return r == RoleOwner }

// Invitable reports whether a member may be invited with role r: admin or
// viewer. An account's owner is the person who made it.
func (r Role) Invitable() bool { return r == RoleAdmin || r == RoleViewer }

// User is a person who signs in to the dashboard. A person may belong to
// several accounts (memberships), each with a role of its own, as on
// GitHub or Stripe, and signs in to all of them with one email and
// password. A User seen in an account (UserStore.User, ListUsers) carries
// that membership's AccountID and Role; a person seen outside any account
// (UserStore.UserByEmail) has both "".
type User struct {
	ID        string // "user_…"
	AccountID string
	// Email is how the person signs in: lower-cased, one person per
	// email. "" for the first-start account's owner until the setup link
	// sets it.
	Email string
	// PasswordHash is the argon2id hash of the password in its PHC
	// string form ("$argon2id$v=19$m=…"); "" until the person sets one
	// through the setup link. A person without one cannot sign in.
	PasswordHash string
	Role         Role
	// Created is when the person was stored, or, for a User seen in an
	// account, when they joined it.
	Created time.Time
	// PasswordChanged is when the password was last set; sessions made
	// before it are no longer valid.
	PasswordChanged *time.Time
	// TOTPSecret is the base32 secret of the person's authenticator app
	// (RFC 6238), "" while they have none. It is stored as it is: see
	// docs/dashboard.md for why it is not encrypted.
	TOTPSecret string
	// TwoFactor is when the person enrolled their authenticator app; nil
	// while they sign in with their password alone.
	TwoFactor *time.Time
	// Passkeys is how many passkeys the person has registered.
	Passkeys int
}

// SignInMethods names how the person signs in: "password" once they have
// set one, "totp" when an authenticator app is their second factor, and
// "passkey" when they have a passkey. It is empty (not nil) for the first
// start's owner before the setup link.
func (u *User) SignInMethods() []string {
	m := []string{}
	if u.PasswordHash != "" {
		m = append(m, "password")
	}
	if u.TwoFactor != nil {
		m = append(m, "totp")
	}
	if u.Passkeys > 0 {
		m = append(m, "passkey")
	}
	return m
}

// Membership is one account a person belongs to.
type Membership struct {
	AccountID   string
	AccountName string
	Role        Role
	// Joined is when the person became a member.
	Joined time.Time
}

// Invite is an owner's invitation of an email address to an account, with
// a role. It is the account's own: it is pending until its link is used
// (by the person with that email), it is canceled, replaced by a new
// invite of the same email, or it expires; and it never stores, reserves
// or looks at anything about the email outside its account, so inviting
// an address tells the inviter nothing about other accounts.
type Invite struct {
	ID        string // "inv_…"
	AccountID string
	Email     string
	Role      Role
	// Digest is the SHA-256 of the link's token; the token is shown once,
	// to the owner who invites, and never stored.
	Digest []byte
	// InvitedBy is the id of the user who invited.
	InvitedBy string
	Created   time.Time
	Expires   time.Time
	// Accepted and Canceled are when the link was used, or the invite
	// canceled or replaced by a newer one; nil while it was not. Only
	// InviteLink reads them: the other reads return pending invites.
	Accepted, Canceled *time.Time
}

// Validate checks an invite before it is stored: a normalised email and
// an invitable role. Returns EParameterInvalid or EParameterMissing on
// "email" or "role".
func (inv *Invite) Validate() error {
	email, err := NormalizeEmail(inv.Email)
	if err != nil {
		return err
	}
	if email != inv.Email {
		return ParamErrorf(EParameterInvalid, "email", "%q is not lower-cased.", inv.Email)
	}
	return ValidateInviteRole(inv.Role)
}

// ValidateInviteRole checks that a member may be invited with role r (see
// Role.Invitable). Returns EParameterInvalid on "role".
func ValidateInviteRole(r Role) error {
	if !r.Invitable() {
		return ParamErrorf(EParameterInvalid, "role", "Choose admin (manages keys) or viewer (reads only).")
	}
	return nil
}

// ErrAlreadyMember is the answer to an invite of an email that is a
// member of the account already: the inviting form shows it next to the
// field. It says nothing about other accounts.
func ErrAlreadyMember(email string) error {
	return ParamErrorf(EParameterInvalid, "email", "%s is a member of this account already.", email)
}

// CheckRemoveMember is the rule of removing a member whose role is role
// from an account that has owners owners (the member included): the last
// owner stays, so that an account always has someone to manage its team.
// Returns EParameterInvalid.
func CheckRemoveMember(role Role, owners int) error {
	if role == RoleOwner && owners <= 1 {
		return Errorf(EParameterInvalid, "An account keeps at least one owner: this is its only one.")
	}
	return nil
}

// MinPasswordLength is the fewest characters a password may have.
const MinPasswordLength = 10

// MaxPasswordLength bounds the work one sign-in can ask of argon2id.
const MaxPasswordLength = 1024

// NormalizeEmail checks that s is one bare email address (as candidates'
// emails are: no display name, a dot in the domain, at most 254
// characters) and returns it lower-cased. Returns EParameterInvalid or
// EParameterMissing on "email".
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ParamErrorf(EParameterMissing, "email", "Give an email address.")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > 254 {
		return "", ParamErrorf(EParameterInvalid, "email", "%q is not an email address such as ada@example.com.", s)
	}
	_, domain, _ := strings.Cut(s, "@")
	if !strings.Contains(domain, ".") {
		return "", ParamErrorf(EParameterInvalid, "email", "%q is not an email address such as ada@example.com.", s)
	}
	return strings.ToLower(s), nil
}

// ValidatePassword checks a new password's length (MinPasswordLength to
// MaxPasswordLength characters). Returns EParameterInvalid or
// EParameterMissing on "password".
func ValidatePassword(p string) error {
	n := len([]rune(p))
	switch {
	case n == 0:
		return ParamErrorf(EParameterMissing, "password", "Give a password of at least %d characters.", MinPasswordLength)
	case n < MinPasswordLength:
		return ParamErrorf(EParameterInvalid, "password", "The password is %d characters long; use at least %d.", n, MinPasswordLength)
	case n > MaxPasswordLength:
		return ParamErrorf(EParameterInvalid, "password", "The password is longer than %d characters.", MaxPasswordLength)
	}
	return nil
}

// Session is a signed-in browser. The cookie holds a random id; the store
// keeps only its SHA-256 (Digest), as for keys. AccountID is the account
// the browser is looking at, one of the person's (see SwitchSession).
type Session struct {
	// ID names the session where the person sees it (the Account page
	// lists their sessions, and signs one out by it); it is no secret.
	ID        string // "sess_…"
	Digest    []byte
	UserID    string
	AccountID string
	Created   time.Time
	// LastSeen is when the session was last used, to the minute or so:
	// an idle session expires.
	LastSeen time.Time
	// Expires is the absolute end of the session, however active.
	Expires time.Time
	// UserAgent and IP are the browser (its User-Agent header, at most
	// MaxUserAgentLength bytes) and the client address of the sign-in.
	UserAgent string
	IP        string
	// Pending is a sign-in whose password was right and whose second
	// factor is awaited: it opens no page but the one that asks for the
	// code, and ends when the code is given (a new session then starts).
	Pending bool
}

// PrefixSession starts a session's id.
const PrefixSession = "sess_"

// MaxUserAgentLength bounds the User-Agent a session keeps.
const MaxUserAgentLength = 512

// LinkPurpose is what a one-time link lets its holder do.
type LinkPurpose string

const (
	// LinkSetup lets the first-start account's owner set an email and a
	// password.
	LinkSetup LinkPurpose = "setup"
	// LinkInvite was an invite's link before invites had their own
	// (Invite); no new link has it, and UseLink takes none.
	LinkInvite LinkPurpose = "invite"
)

// Link is a one-time link (setup or invite) as stored: only the SHA-256 of
// its random token, never the token.
type Link struct {
	Digest    []byte
	UserID    string
	AccountID string
	Purpose   LinkPurpose
	Created   time.Time
	Expires   time.Time
	// Used is when the link was used; nil while it was not.
	Used *time.Time
}

// UserStore keeps dashboard users (people), their memberships of
// accounts, invites, sessions and setup links. Implementations are safe
// for concurrent use.
type UserStore interface {
	// CreateAccountWithOwner stores a new account, its owner (a new
	// person, member of the account as its owner) and the audit events
	// given in one transaction (sign-up). Returns EParameterInvalid on
	// "email" if a person already has that email, and the account's
	// Validate errors; nothing is stored then.
	CreateAccountWithOwner(ctx context.Context, a *Account, owner *User, events ...*AuditEvent) error

	// CreateUser stores a new person, member of the existing account
	// u.AccountID with u.Role, and the link and events given, in one
	// transaction: the first start's owner, who has no email until the
	// setup link sets one. Returns EParameterInvalid on "email" if a
	// person already has that email, ENotFound if the account does not
	// exist.
	CreateUser(ctx context.Context, u *User, link *Link, events ...*AuditEvent) error

	// CreateLink stores a one-time link for an existing member (the
	// first-start setup link). Returns ENotFound if the user is not a
	// member of the link's account.
	CreateLink(ctx context.Context, l *Link) error

	// UserByEmail returns the person with that (normalised) email, with
	// AccountID and Role "". Returns ENotFound if there is none.
	UserByEmail(ctx context.Context, email string) (*User, error)

	// User returns user id as a member of account accountID (its role
	// there, Created when they joined). Returns ENotFound if there is no
	// such person or they are not a member of the account.
	User(ctx context.Context, accountID, id string) (*User, error)

	// ListUsers returns the account's members, in the order they joined.
	ListUsers(ctx context.Context, accountID string) ([]*User, error)

	// Memberships returns the accounts person userID belongs to, in the
	// order they joined them (none for an unknown person).
	Memberships(ctx context.Context, userID string) ([]Membership, error)

	// RemoveMember removes user userID from account accountID and ends
	// their sessions in it, with the events given, in one transaction;
	// the person and their other memberships stay. Returns ENotFound if
	// they are not a member of the account, and CheckRemoveMember's error
	// for its last owner.
	RemoveMember(ctx context.Context, accountID, userID string, events ...*AuditEvent) error

	// CreateInvite stores a pending invite and the events given, in one
	// transaction, replacing (canceling) the account's pending invites of
	// the same email. Returns inv.Validate's errors, ErrAlreadyMember if a
	// member of the account has the email, and ENotFound if the account
	// does not exist. It reads nothing about other accounts.
	CreateInvite(ctx context.Context, inv *Invite, events ...*AuditEvent) error

	// ListInvites returns the account's invites pending at the time at
	// (neither used, canceled nor expired), oldest first.
	ListInvites(ctx context.Context, accountID string, at time.Time) ([]*Invite, error)

	// CancelInvite cancels the account's invite id, pending at the time
	// at, and records the events given, in one transaction. Returns
	// ENotFound if there is no such pending invite in the account.
	CancelInvite(ctx context.Context, accountID, id string, at time.Time, events ...*AuditEvent) error

	// InviteByDigest returns the invite whose link token has the given
	// SHA-256, if it is pending at the time at. Returns ENotFound
	// otherwise.
	InviteByDigest(ctx context.Context, digest []byte, at time.Time) (*Invite, error)

	// InviteLink returns the invite whose link token has the given
	// SHA-256, pending or not (Accepted, Canceled and Expires say), so
	// that the page the link opens can say what became of it before it
	// shows a form. Returns ENotFound if there is no such invite.
	InviteLink(ctx context.Context, digest []byte) (*Invite, error)

	// RegenerateInvite replaces the account's pending invite oldID with
	// inv (a new link for the same email and role, inv.InvitedBy issuing
	// it), and records the events given, in one transaction: the old
	// link stops working. The issuer must still be a member who manages
	// the team (Role.CanManageTeam) as the transaction reads them.
	// Returns ENotFound if oldID is no invite pending at inv.Created in
	// inv.AccountID, EInsufficientPermissions if the issuer may not.
	RegenerateInvite(ctx context.Context, oldID string, inv *Invite, events ...*AuditEvent) error

	// ChangeRole sets member userID's role in account accountID to role,
	// on behalf of member actorID, checking CheckRoleChange against both
	// members' roles and the account's owners as the transaction reads
	// them, and records the event that event returns for the member as
	// they were before, in the same transaction. It returns the member
	// after. Returns ENotFound if either is no member of the account, and
	// CheckRoleChange's errors; nothing changes then.
	ChangeRole(ctx context.Context, accountID, actorID, userID string, role Role, event func(before *User) *AuditEvent) (*User, error)

	// CreatePasswordReset stores a pending password reset link and the
	// events given, in one transaction, replacing (canceling) the
	// member's pending resets in the account. It checks
	// CheckPasswordReset against p.CreatedBy's and p.UserID's roles as
	// the transaction reads them, and sets p.Email to the member's.
	// Returns ENotFound if either is no member of p.AccountID, and
	// CheckPasswordReset's errors; nothing is stored then.
	CreatePasswordReset(ctx context.Context, p *PasswordReset, events ...*AuditEvent) error

	// PasswordResetLink returns the password reset whose link token has
	// the given SHA-256, pending or not (see PasswordReset.State).
	// Returns ENotFound if there is none.
	PasswordResetLink(ctx context.Context, digest []byte) (*PasswordReset, error)

	// UsePasswordReset uses the password reset link whose token has the
	// given SHA-256, pending at the time at, and in the same transaction
	// sets its member's password hash, deletes all of their sessions and
	// records the events given. It checks CheckPasswordReset again, as
	// the transaction reads the roles: a link whose issuer was removed or
	// demoted meanwhile resets nothing. A link works once. Returns the
	// member; ErrResetInvalid (ENotFound) if there is no such pending
	// link or its issuer may no longer reset the password.
	UsePasswordReset(ctx context.Context, digest []byte, passwordHash string, at time.Time, events ...*AuditEvent) (*User, error)

	// AcceptInvite uses the invite whose link token has the given
	// SHA-256, pending at the time at and for person.Email, and in the
	// same transaction makes person a member of its account with its
	// role, and records the events given (their AccountID is taken as
	// the invite's). person is either the person with that email, whose
	// password the caller checked, or a new person (an id no person has),
	// stored with it. A person who is a member already keeps their role.
	// An invite works once. Returns the member; ENotFound if there is no
	// such pending invite for that email; EParameterInvalid on "email" if
	// person is new but the email has become a person's meanwhile.
	AcceptInvite(ctx context.Context, digest []byte, person *User, at time.Time, events ...*AuditEvent) (*User, error)

	// UseLink consumes the unexpired, unused setup link (LinkSetup) whose
	// token has the given SHA-256 at the time at, and in the same
	// transaction sets its user's password hash (and, if email is not
	// "", their email), deletes the user's sessions and records the
	// events given. A link works once, and only for what it was made
	// for. Returns ENotFound if the link is unknown, used, expired or not
	// a setup link; EParameterInvalid on "email" if the email is taken.
	UseLink(ctx context.Context, digest []byte, email, passwordHash string, at time.Time, events ...*AuditEvent) (*User, error)

	// SetupLink returns the setup link (LinkSetup) whose token has the
	// given SHA-256, used or not, expired or not, so that a page can say
	// which before it shows a form. Returns ENotFound if there is no such
	// setup link.
	SetupLink(ctx context.Context, digest []byte) (*Link, error)

	// PendingSetup returns the newest setup link not used yet, expired or
	// not: while there is one, the first start's owner has not set an
	// email and a password, nor signed in. Returns ENotFound if there is
	// none.
	PendingSetup(ctx context.Context) (*Link, error)

	// SetPassword changes the password hash of person userID, a member of
	// account accountID, at the time at, and deletes all of their
	// sessions (every browser, in every account, is signed out). Returns
	// ENotFound if they are not a member of the account.
	SetPassword(ctx context.Context, accountID, userID, passwordHash string, at time.Time, events ...*AuditEvent) error

	// SwitchSession moves a session to account accountID, of which its
	// person must be a member. Returns ENotFound if there is no such
	// session or the person is not a member of the account.
	SwitchSession(ctx context.Context, digest []byte, accountID string) error

	// CreateSession stores a session (a sign-in) and the events given,
	// in one transaction.
	CreateSession(ctx context.Context, s *Session, events ...*AuditEvent) error

	// SessionByDigest returns the session whose id has the given SHA-256.
	// Returns ENotFound if there is none (expiry is the caller's to
	// check, against LastSeen and Expires).
	SessionByDigest(ctx context.Context, digest []byte) (*Session, error)

	// TouchSession sets a session's LastSeen.
	TouchSession(ctx context.Context, digest []byte, at time.Time) error

	// DeleteSession deletes a session (sign-out) and records the events
	// given, in one transaction; deleting an unknown one is not an error.
	DeleteSession(ctx context.Context, digest []byte, events ...*AuditEvent) error

	// ListSessions returns person userID's sessions that are signed in
	// (not Pending), in every account, newest first. Expiry is the
	// caller's to check.
	ListSessions(ctx context.Context, userID string) ([]*Session, error)

	// DeleteUserSession deletes person userID's session id and records
	// the events given, in one transaction. Returns ENotFound if they
	// have no such session (another person's is not theirs).
	DeleteUserSession(ctx context.Context, userID, id string, events ...*AuditEvent) error

	// DeleteOtherSessions deletes every session of person userID but the
	// one whose digest is keep, and records the events given, in one
	// transaction. It returns how many it deleted.
	DeleteOtherSessions(ctx context.Context, userID string, keep []byte, events ...*AuditEvent) (int, error)

	// EnableTwoFactor makes secret the TOTP secret of person userID, a
	// member of account accountID, enrolled at the time at; lastStep is
	// the time step of the code that confirmed it, which no later sign-in
	// may use again. The person's recovery codes become those whose
	// digests are given (RecoveryCodeDigest), all unused. It records the
	// events given, in the same transaction. Returns ENotFound if they
	// are not a member of the account.
	EnableTwoFactor(ctx context.Context, accountID, userID, secret string, lastStep int64, recovery [][]byte, at time.Time, events ...*AuditEvent) error

	// DisableTwoFactor removes person userID's TOTP secret and recovery
	// codes and records the events given, in one transaction. Returns
	// ENotFound if they are not a member of account accountID.
	DisableTwoFactor(ctx context.Context, accountID, userID string, events ...*AuditEvent) error

	// UseTOTPStep records that a code of time step step was accepted for
	// person userID, and the events given, in one transaction. It
	// returns false, and records nothing, if the person has no second
	// factor or a code of that step or a later one was accepted already:
	// a code works once, however many sign-ins race with it.
	UseTOTPStep(ctx context.Context, userID string, step int64, events ...*AuditEvent) (bool, error)

	// UseRecoveryCode marks person userID's unused recovery code whose
	// digest is given used at the time at, and records the events given,
	// in one transaction. It returns false, and records nothing, if
	// there is no such unused code: each works once.
	UseRecoveryCode(ctx context.Context, userID string, digest []byte, at time.Time, events ...*AuditEvent) (bool, error)

	// RecoveryCodesLeft returns how many unused recovery codes person
	// userID has.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)

	// SetTwoFactorRequired sets whether every member of account id must
	// sign in with a second factor, and records the events given, in one
	// transaction. It returns the account as it is after. Returns
	// ENotFound if there is no such account.
	SetTwoFactorRequired(ctx context.Context, id string, required bool, events ...*AuditEvent) (*Account, error)

	// SetSSORequired sets whether every member of account id must sign
	// in through single sign-on, and records the events given, in one
	// transaction. It returns the account as it is after. Returns
	// ENotFound if there is no such account.
	SetSSORequired(ctx context.Context, id string, required bool, events ...*AuditEvent) (*Account, error)

	// RecordUserEvents records events about dashboard users that no
	// change of the store goes with: a failed sign-in.
	RecordUserEvents(ctx context.Context, events ...*AuditEvent) error
}
