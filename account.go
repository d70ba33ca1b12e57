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
}

// Validate checks the account's own fields. Returns EParameterInvalid or
// EParameterMissing on "name".
func (a *Account) Validate() error {
	if a.Name == "" {
		return ParamErrorf(EParameterMissing, "name", "An account needs a name.")
	}
	if n := len([]rune(a.Name)); n > 100 {
		return ParamErrorf(EParameterInvalid, "name", "The name is %d characters long; at most 100 are allowed.", n)
	}
	return nil
}

// AccountStore keeps accounts. Implementations are safe for concurrent use.
type AccountStore interface {
	// CreateAccount stores a new account and its first key in one
	// transaction, so that no account is ever left without a key.
	CreateAccount(ctx context.Context, a *Account, owner *Key) error

	// Account returns the account id. Returns ENotFound if there is none.
	Account(ctx context.Context, id string) (*Account, error)

	// CountAccounts returns how many accounts exist; serve uses it to
	// create the first one on an empty database.
	CountAccounts(ctx context.Context) (int, error)
}

// OwnerKeyRequest is the key an account starts with: every permission,
// live, no expiry.
func OwnerKeyRequest() KeyRequest {
	return KeyRequest{Name: "Owner key", Permissions: Permissions{Wildcard}, Environment: Live}
}
