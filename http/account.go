package http

import (
	"net/http"

	"github.com/pihu-ai/pihu"
)

// AccountItem is an account and its settings, as GET and PATCH
// /v1/auth/account show them.
type AccountItem struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Created string `json:"created"`
	// LeakPolicy is what is done with the account's keys that GitHub's
	// secret scanning reports found in public: "revoke" or "flag".
	LeakPolicy string `json:"leak_policy"`
}

// NewAccountItem is a as the API shows it.
func NewAccountItem(a *pihu.Account) AccountItem {
	p := a.LeakPolicy
	if p == "" {
		p = pihu.LeakRevoke
	}
	return AccountItem{ID: a.ID, Name: a.Name, Created: timestamp(a.Created), LeakPolicy: string(p)}
}

type accountUpdateRequest struct {
	LeakPolicy *string `json:"leak_policy"`
}

// getAccount shows the caller's account and its settings; any valid key
// may read them.
func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) {
	if a := s.callerAccount(w, r); a != nil {
		writeJSON(w, http.StatusOK, NewAccountItem(a))
	}
}

// callerAccount reads the account of the caller of a GET that takes no
// parameters; on an error it writes the answer and returns nil.
func (s *Server) callerAccount(w http.ResponseWriter, r *http.Request) *pihu.Account {
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return nil
	}
	a, err := s.store.Account(r.Context(), pihu.KeyFromContext(r.Context()).AccountID)
	if err != nil {
		s.writeError(w, r, err)
		return nil
	}
	return a
}

// updateAccount changes the caller's account's settings: leak_policy. It
// needs a live key (or token) holding "*", since the settings govern
// every key of the account, of both environments; a change is recorded as
// account.updated. A setting given with its current value changes
// nothing and records nothing.
func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request) {
	caller := pihu.KeyFromContext(r.Context())
	var body accountUpdateRequest
	if err := decode(w, r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if caller.Environment != pihu.Live {
		s.writeError(w, r, &pihu.Error{Code: pihu.EInsufficientPermissions, Required: string(pihu.Wildcard),
			Message: "A test key cannot change the account's settings, which govern its live keys too; use a live key that holds \"*\"."})
		return
	}
	a, err := s.store.Account(r.Context(), caller.AccountID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.LeakPolicy != nil {
		p, err := pihu.ParseLeakPolicy(*body.LeakPolicy, "leak_policy")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var changed bool
		if a, changed, err = pihu.ChangeLeakPolicy(r.Context(), s.store, a, p, caller.ID, clientIP(r), s.now()); err != nil {
			s.writeError(w, r, err)
			return
		}
		if changed {
			s.auth.InvalidateAccount(a.ID)
		}
	}
	writeJSON(w, http.StatusOK, NewAccountItem(a))
}

// AccountSignIn is how the account's people sign in to the dashboard, as
// GET /v1/auth/account/sign-in shows it.
type AccountSignIn struct {
	// TwoFactorRequired says that every member signs in with a second
	// factor (an authenticator app's code or a passkey) after their
	// password.
	TwoFactorRequired bool `json:"two_factor_required"`
	// SSORequired says that every member signs in through single sign-on
	// only: password and passkey sign-in are off for them.
	SSORequired bool `json:"sso_required"`
}

// Member is a person of the account and how they sign in, as GET
// /v1/auth/account/members shows them. It holds no secret: which methods
// they have, never the methods themselves.
type Member struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Joined string `json:"joined"`
	// SignInMethods are "password", "totp" (an authenticator app) and
	// "passkey", those the person has.
	SignInMethods []string `json:"sign_in_methods"`
	// TwoFactor says that they have a second factor.
	TwoFactor bool `json:"two_factor"`
	// Passkeys is how many passkeys they have registered.
	Passkeys int `json:"passkeys"`
}

// MemberList is every member of the account, in the order they joined.
type MemberList struct {
	Data []Member `json:"data"`
}

// NewMember is u, a member of an account, as the API shows them.
func NewMember(u *pihu.User) Member {
	return Member{ID: u.ID, Email: u.Email, Role: string(u.Role), Joined: timestamp(u.Created),
		SignInMethods: u.SignInMethods(), TwoFactor: u.HasSecondFactor(), Passkeys: u.Passkeys}
}

// getAccountSignIn shows the caller's account's sign-in settings
// (permission account:read, a key of either environment).
func (s *Server) getAccountSignIn(w http.ResponseWriter, r *http.Request) {
	if a := s.callerAccount(w, r); a != nil {
		writeJSON(w, http.StatusOK, AccountSignIn{TwoFactorRequired: a.TwoFactorRequired, SSORequired: a.SSORequired})
	}
}

// listMembers shows every member of the caller's account with their
// sign-in methods (permission member:read, a key of either environment).
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	users, err := s.store.ListUsers(r.Context(), pihu.KeyFromContext(r.Context()).AccountID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := MemberList{Data: make([]Member, 0, len(users))}
	for _, u := range users {
		out.Data = append(out.Data, NewMember(u))
	}
	writeJSON(w, http.StatusOK, out)
}
