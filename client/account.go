package client

import (
	"context"
	"net/http"
	"time"
)

// AccountSignIn is how the account's people sign in to the dashboard.
type AccountSignIn struct {
	// TwoFactorRequired says that every member signs in with a second
	// factor (an authenticator app's code or a passkey) after their
	// password.
	TwoFactorRequired bool `json:"two_factor_required"`
	// SSORequired says that every member signs in through single sign-on
	// only: password and passkey sign-in are off for them.
	SSORequired bool `json:"sso_required"`
	Response
}

// Member is a person of the account and how they sign in to the
// dashboard.
type Member struct {
	ID     string    `json:"id"`
	Email  string    `json:"email"`
	Role   string    `json:"role"`
	Joined time.Time `json:"joined"`
	// SignInMethods are "password", "totp" (an authenticator app) and
	// "passkey": those the person has.
	SignInMethods []string `json:"sign_in_methods"`
	// TwoFactor says that they have a second factor.
	TwoFactor bool `json:"two_factor"`
	// Passkeys is how many passkeys they have registered.
	Passkeys int `json:"passkeys"`
}

// MemberList is every member of the account, in the order they joined.
type MemberList struct {
	Data []Member `json:"data"`
	Response
}

// GetAccountSignIn returns the account's sign-in settings (permission
// account:read).
func (c *Client) GetAccountSignIn(ctx context.Context) (*AccountSignIn, error) {
	var out AccountSignIn
	if err := c.do(ctx, http.MethodGet, "/v1/auth/account/sign-in", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListMembers returns every member of the account with their sign-in
// methods (permission member:read).
func (c *Client) ListMembers(ctx context.Context) (*MemberList, error) {
	var out MemberList
	if err := c.do(ctx, http.MethodGet, "/v1/auth/account/members", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
