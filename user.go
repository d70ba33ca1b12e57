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

// CanManageTeam reports whether r may add members.
func (r Role) CanManageTeam() bool { return r == RoleOwner }

// User is a person who signs in to the dashboard of one account.
type User struct {
	ID        string // "user_…"
	AccountID string
	// Email is how the user signs in: lower-cased, unique across
	// accounts. "" for the first-start account's owner until the setup
	// link sets it.
	Email string
	// PasswordHash is the argon2id hash of the password in its PHC
	// string form ("$argon2id$v=19$m=…"); "" until the user sets one
	// through a setup or invite link. A user without one cannot sign in.
	PasswordHash string
	Role         Role
	Created      time.Time
	// PasswordChanged is when the password was last set; sessions made
	// before it are no longer valid.
	PasswordChanged *time.Time
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
// keeps only its SHA-256 (Digest), as for keys.
type Session struct {
	Digest    []byte
	UserID    string
	AccountID string
	Created   time.Time
	// LastSeen is when the session was last used, to the minute or so:
	// an idle session expires.
	LastSeen time.Time
	// Expires is the absolute end of the session, however active.
	Expires time.Time
}

// LinkPurpose is what a one-time link lets its holder do.
type LinkPurpose string

const (
	// LinkSetup lets the first-start account's owner set an email and a
	// password.
	LinkSetup LinkPurpose = "setup"
	// LinkInvite lets an invited member set a password.
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
}

// UserStore keeps dashboard users, their sessions and one-time links.
// Implementations are safe for concurrent use.
type UserStore interface {
	// CreateAccountWithOwner stores a new account, its owner user and the
	// audit events given in one transaction (sign-up). Returns
	// EParameterInvalid on "email" if a user already has that email, and
	// the account's Validate errors; nothing is stored then.
	CreateAccountWithOwner(ctx context.Context, a *Account, owner *User, events ...*AuditEvent) error

	// CreateUser stores a user of an existing account, and the link and
	// events given (an invite), in one transaction. Returns
	// EParameterInvalid on "email" if a user already has that email,
	// ENotFound if the account does not exist.
	CreateUser(ctx context.Context, u *User, link *Link, events ...*AuditEvent) error

	// CreateLink stores a one-time link for an existing user (the
	// first-start setup link). Returns ENotFound if the user does not
	// exist.
	CreateLink(ctx context.Context, l *Link) error

	// UserByEmail returns the user with that (normalised) email. Returns
	// ENotFound if there is none.
	UserByEmail(ctx context.Context, email string) (*User, error)

	// User returns user id of account accountID. Returns ENotFound if it
	// does not exist or belongs to another account.
	User(ctx context.Context, accountID, id string) (*User, error)

	// ListUsers returns the account's users, oldest first.
	ListUsers(ctx context.Context, accountID string) ([]*User, error)

	// UseLink consumes the unexpired, unused link whose token has the
	// given SHA-256 at the time at, and in the same transaction sets its
	// user's password hash (and, if email is not "", its email: the setup
	// link), deletes the user's sessions and records the events given.
	// A link works once. Returns ENotFound if the link is unknown, used or
	// expired; EParameterInvalid on "email" if the email is taken.
	UseLink(ctx context.Context, digest []byte, email, passwordHash string, at time.Time, events ...*AuditEvent) (*User, error)

	// SetPassword changes a user's password hash at the time at and
	// deletes the user's sessions (every browser is signed out). Returns
	// ENotFound for an unknown user.
	SetPassword(ctx context.Context, accountID, userID, passwordHash string, at time.Time, events ...*AuditEvent) error

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
}
