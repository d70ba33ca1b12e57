package pihu

import (
	"context"
	"time"
)

// Account owns keys and data. Another account's ids are invisible: every
// store method that takes an account id returns ENotFound for them.
type Account struct {
	ID      string
	Name    string
	Created time.Time
	// LeakPolicy is what is done with the account's keys that GitHub's
	// secret scanning reports found in public; stores read "" as
	// LeakRevoke, the default.
	LeakPolicy LeakPolicy
	// TwoFactorRequired makes every member sign in with a second factor:
	// one who has none enrols one before any other page opens.
	TwoFactorRequired bool
	// SSORequired makes every member sign in through single sign-on (an
	// OpenID Connect provider the operator configured): password and
	// passkey sign-in are refused (see CheckSignIn). The owner's
	// break-glass path is `pihu accounts recover`, which turns it off.
	SSORequired bool
}

// SignInMethod is how a person proves who they are to the dashboard.
type SignInMethod string

const (
	// SignInPassword is an email and password (with any second factor).
	SignInPassword SignInMethod = "password"
	// SignInPasskey is a passkey alone.
	SignInPasskey SignInMethod = "passkey"
	// SignInSSO is an OpenID Connect provider the operator configured.
	SignInSSO SignInMethod = "sso"
)

// CheckSignIn is the one rule of which way of signing in opens account a:
// every way, unless the account requires single sign-on, which then only
// SignInSSO does. Password sign-in, passkey sign-in, switching accounts and
// SSO all ask it. Returns EInsufficientPermissions with a message a person can act on.
func CheckSignIn(a *Account, m SignInMethod) error {
	if a.SSORequired && m != SignInSSO {
		return Errorf(EInsufficientPermissions, "%s signs its members in through single sign-on only: use the \"Sign in with\" button of your organisation's provider.", a.Name)
	}
	return nil
}

// Validate checks the account's own fields: its name follows the rules of
// a key's name (see ValidateKeyName), wherever it comes from (sign-up,
// `pihu accounts create`). Returns EParameterInvalid or EParameterMissing
// on "name".
func (a *Account) Validate() error {
	if a.Name == "" {
		return ParamErrorf(EParameterMissing, "name", "An account needs a name.")
	}
	return checkName(a.Name, "account")
}

// AccountSummary is an account as `pihu accounts list` shows it: the
// account and how many of its keys work.
type AccountSummary struct {
	Account
	// Keys counts the account's keys that authenticate at the time the
	// list was made: neither revoked nor expired, in either environment.
	Keys int
}

// AccountStore keeps accounts. Implementations are safe for concurrent use.
type AccountStore interface {
	// CreateAccount stores a new account, its first key and the audit
	// events given, in one transaction, so that no account is ever left
	// without a key and the log holds the key exactly when it exists.
	// Returns EParameterMissing or EParameterInvalid on "name" if a is
	// invalid; any other failure stores nothing.
	CreateAccount(ctx context.Context, a *Account, owner *Key, events ...*AuditEvent) error

	// CreateFirstAccount is CreateAccount on an empty store: it checks
	// that there is no account and stores a, owner and events in the same
	// transaction, so that of several servers starting at once on an
	// empty database exactly one creates an account. created is false,
	// and nothing is stored, if an account already exists. Returns the
	// errors of CreateAccount.
	CreateFirstAccount(ctx context.Context, a *Account, owner *Key, events ...*AuditEvent) (created bool, err error)

	// CreateOwnerKey stores a new key, owner, for the existing account
	// owner.AccountID, and the audit events given, in one transaction:
	// the way an operator at the database recovers an account whose keys
	// are lost or revoked. Returns ENotFound, and stores nothing, if the
	// account does not exist.
	CreateOwnerKey(ctx context.Context, owner *Key, events ...*AuditEvent) error

	// Account returns the account id. Returns ENotFound if there is none.
	Account(ctx context.Context, id string) (*Account, error)

	// ListAccounts returns every account, oldest first, each with the
	// number of its keys that work at the time at (neither revoked nor
	// expired nor disabled). It returns an empty list, not an error, on an empty
	// store.
	ListAccounts(ctx context.Context, at time.Time) ([]*AccountSummary, error)

	// CountAccounts returns how many accounts exist.
	CountAccounts(ctx context.Context) (int, error)
}

// OwnerKeyRequest is the key an account starts with, and the key an
// operator recovers it with: every permission, live, no expiry.
func OwnerKeyRequest() KeyRequest {
	return KeyRequest{Name: "Owner key", Permissions: Permissions{Wildcard}, Environment: Live}
}

// Built-in permissions that read how an account's people sign in to the
// dashboard: AccountRead its sign-in settings (two-factor required),
// MemberRead its members with their sign-in methods. Neither has a write:
// those settings change on the dashboard, by a person.
const (
	AccountRead Permission = "account:read"
	MemberRead  Permission = "member:read"
)
