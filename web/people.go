package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// signInFailed is the one message of every failed sign-in: it does not
// say whether the email or the password was wrong, nor whether the email
// is known.
const signInFailed = "The email or the password is not right."

// LinkLifetime is how long a setup or invite link works.
const LinkLifetime = 24 * time.Hour

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, _ := h.session(w, r); s != nil {
		http.Redirect(w, r, "/keys", http.StatusSeeOther)
		return
	}
	f := newForm(nil)
	if r.URL.Query().Get("reset") == "1" {
		f.Values.Set("reset", "1")
	}
	h.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Data: f, Setup: h.pendingSetup(r)})
}

// pendingSetup is the first start's setup link while it has not been
// used (expired or not), for the sign-in and sign-up pages to say where
// it is: until then the person opening the dashboard is most likely its
// operator, who wants the Default account, not a new one. nil once it was
// used, or if the store could not tell (logged: the notice is a help, not
// a rule).
func (h *Handler) pendingSetup(r *http.Request) *setupNotice {
	l, err := h.store.PendingSetup(r.Context())
	if err != nil {
		if pihu.ErrorCode(err) != pihu.ENotFound {
			h.logger.Error("dashboard: reading the pending setup link", "err", err)
		}
		return nil
	}
	return &setupNotice{Expires: l.Expires, Expired: !h.now().Before(l.Expires)}
}

// login signs a user in. Failures are limited per client address and per
// email (the same budget whichever is guessed), spent before the password
// is checked and given back when it was right, so that concurrent guesses
// cannot outrun the limit; and an unknown email costs a password hash as a
// known one does, so that timing tells nothing.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	v := view{Title: "Sign in", Data: f}
	email, emailErr := pihu.NormalizeEmail(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	limits := []string{h.addressLimitKey(r)}
	if emailErr == nil {
		limits = append(limits, emailLimitKey(email))
	}
	spent, retry, ok := h.reserve(r, limits)
	if !ok {
		h.tooMany(w, r, "login", v, f, "Too many failed sign-ins. Try again in %d seconds.", retry)
		return
	}
	var u *pihu.User
	if emailErr == nil {
		var err error
		u, err = h.store.UserByEmail(r.Context(), email)
		if err != nil && pihu.ErrorCode(err) != pihu.ENotFound {
			h.refund(r, spent)
			h.internalError(w, r, err)
			return
		}
	}
	hash := h.dummyHash
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	right, err := h.passwords.check(r.Context(), password, hash)
	if err != nil {
		h.refund(r, spent)
		h.busy(w, r, "login", v, f)
		return
	}
	if !right || u == nil || u.PasswordHash == "" {
		f.Message = signInFailed
		h.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	h.refund(r, spent)
	accountID, err := h.signInAccount(r, u.ID, pihu.SignInPassword)
	if err != nil {
		if !f.Fail(err) {
			h.internalError(w, r, err)
			return
		}
		h.render(w, r, http.StatusForbidden, "login", v)
		return
	}
	h.signInTo(w, r, u.ID, accountID)
}

// errNoMembership is the answer of a sign-in of a person who is no
// member of any account.
var errNoMembership = pihu.Errorf(pihu.EInsufficientPermissions, "You are not a member of any account any more: ask an account's owner to invite you again.")

// signInAccount is the account a person signing in with method m opens:
// the first they joined that pihu.CheckSignIn lets m open (the Account
// page switches). Returns errNoMembership for a person in no account, and
// CheckSignIn's error when every account of theirs refuses m.
func (h *Handler) signInAccount(r *http.Request, userID string, m pihu.SignInMethod) (string, error) {
	accounts, err := h.store.Memberships(r.Context(), userID)
	if err != nil {
		return "", err
	}
	if len(accounts) == 0 {
		return "", errNoMembership
	}
	var refused error
	for _, m2 := range accounts {
		a, err := h.store.Account(r.Context(), m2.AccountID)
		if err != nil {
			return "", err
		}
		if refused = pihu.CheckSignIn(a, m); refused == nil {
			return a.ID, nil
		}
	}
	return "", refused
}

// signInTo signs person userID in to account accountID (a membership of
// theirs), with a sign-in event, and sends them to the keys; or, for a
// person with a second factor, starts a sign-in that waits for it and
// sends them to the page that asks for the code.
//
// The account must let a password open it (pihu.CheckSignIn): one that
// requires single sign-on is answered 403 with a page that says so.
func (h *Handler) signInTo(w http.ResponseWriter, r *http.Request, userID, accountID string) {
	member, err := h.store.User(r.Context(), accountID, userID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	a, err := h.store.Account(r.Context(), accountID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if err := pihu.CheckSignIn(a, pihu.SignInPassword); err != nil {
		h.errorPage(w, r, nil, http.StatusForbidden, "Single sign-on required", pihu.ErrorMessage(err))
		return
	}
	if member.HasSecondFactor() {
		if err := h.startSession(w, r, member, true, pendingLifetime); err != nil {
			h.internalError(w, r, err)
			return
		}
		http.Redirect(w, r, "/login/two-factor", http.StatusSeeOther)
		return
	}
	if err := h.signIn(w, r, member, pihu.NewUserEvent(pihu.ActionUserLogin, member.ID, h.clientIP(r), member, h.now())); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

// addressLimitKey is the limiter key of the sign-in failures of r's client
// address: as for the API's failed authentications, an IPv6 address counts
// with its /64, which one client usually holds whole.
func (h *Handler) addressLimitKey(r *http.Request) string {
	ip := h.clientIP(r)
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		ip = p.String()
	}
	return "signin-ip:" + ip
}

// emailLimitKey is the limiter key of the sign-in failures of an email.
func emailLimitKey(email string) string { return "signin-email:" + email }

// reservation is the budget an attempt spent before the work it guards:
// the limiter keys it spent one request of.
type reservation []string

// reserve spends one request of each limiter key before the password
// check the keys guard, so that concurrent attempts cannot all pass a look
// at the budget taken before any of them was counted. If a key has none
// left, what was spent is given back and ok is false, with the seconds
// until one will have some. A limiter that fails lets the attempt
// through, as the API's does; nothing is given back for it later.
func (h *Handler) reserve(r *http.Request, keys []string) (spent reservation, retry int, ok bool) {
	for _, k := range keys {
		res, err := h.limiter.Allow(r.Context(), k, h.signInLimit)
		if err != nil {
			h.logger.Error("dashboard: rate limiter failed; sign-in let through", "err", err)
			continue
		}
		if !res.Allowed {
			h.refund(r, spent)
			return nil, retrySeconds(res.RetryAfter), false
		}
		spent = append(spent, k)
	}
	return spent, 0, true
}

// refund gives back what reserve spent: the attempt was not a failure (a
// right password), or its password was never checked.
func (h *Handler) refund(r *http.Request, spent reservation) {
	ctx := context.WithoutCancel(r.Context())
	for _, k := range spent {
		if err := h.limiter.Refund(ctx, k, h.signInLimit); err != nil {
			h.logger.Error("dashboard: rate limiter failed to give back a sign-in", "err", err)
		}
	}
}

// retrySeconds is d in whole seconds, rounded up, and at least 1: a
// Retry-After.
func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// tooMany answers 429 with Retry-After, showing page again with message
// (a format taking the seconds).
func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request, page string, v view, f *form, message string, retry int) {
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	f.Message = fmt.Sprintf(message, retry)
	h.render(w, r, http.StatusTooManyRequests, page, v)
}

// busy answers a form whose password could not be hashed now (errBusy, or
// the client went away): 503 with Retry-After, showing page again.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request, page string, v view, f *form) {
	w.Header().Set("Retry-After", "1")
	f.Message = "Too many passwords are being checked at this moment. Try again in a second."
	h.render(w, r, http.StatusServiceUnavailable, page, v)
}

func (h *Handler) signupPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "signup", view{Title: "Create a new account", Data: newForm(nil), Setup: h.pendingSetup(r)})
}

// signup creates an account and its owner user, and signs the owner in.
// Sign-ups spend the client address's sign-in budget, before the password
// is hashed, so that one address cannot create accounts without end.
func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	v := view{Title: "Create a new account", Data: f}
	password := r.PostForm.Get("password")
	now := pihu.Timestamp(h.now())
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: r.PostForm.Get("account_name"), Created: now}
	email, err := pihu.NormalizeEmail(r.PostForm.Get("email"))
	f.Fail(err, "email")
	f.Fail(pihu.ValidatePassword(password), "password")
	if err := a.Validate(); err != nil {
		f.Errors["account_name"] = pihu.ErrorMessage(err)
	}
	if len(f.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, "signup", v)
		return
	}
	spent, retry, ok := h.reserve(r, []string{h.addressLimitKey(r)})
	if !ok {
		h.tooMany(w, r, "signup", v, f, "Too many attempts from your address. Try again in %d seconds.", retry)
		return
	}
	hash, err := h.passwords.hash(r.Context(), password)
	if err != nil {
		h.refund(r, spent)
		h.busy(w, r, "signup", v, f)
		return
	}
	u := &pihu.User{
		ID: pihu.NewID(pihu.PrefixUser), AccountID: a.ID, Email: email,
		PasswordHash: hash, Role: pihu.RoleOwner, Created: now, PasswordChanged: &now,
	}
	err = h.store.CreateAccountWithOwner(r.Context(), a, u, pihu.NewUserEvent(pihu.ActionUserSignedUp, u.ID, h.clientIP(r), u, now))
	if err != nil {
		if !f.Fail(err, "email") {
			h.internalError(w, r, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, "signup", v)
		return
	}
	if err := h.signIn(w, r, u); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	ev := pihu.NewUserEvent(pihu.ActionUserLogout, s.user.ID, h.clientIP(r), s.user, h.now())
	if err := h.store.DeleteSession(r.Context(), s.digest, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// NewLinkToken returns a new one-time link token for user u and the
// SHA-256 the store keeps of it. The token names u's account and u
// ("acct_….user_….random"), so that the event recording its use can name
// its user in the same transaction; the 32 random bytes are the secret, and
// the digest covers the whole token, so the names cannot be changed.
func NewLinkToken(u *pihu.User) (token string, digest []byte) {
	raw := make([]byte, 32)
	rand.Read(raw)
	token = u.AccountID + "." + u.ID + "." + base64.RawURLEncoding.EncodeToString(raw)
	return token, LinkDigest(token)
}

// LinkDigest is the SHA-256 of a link token, as the store keeps it.
func LinkDigest(token string) []byte {
	d := sha256.Sum256([]byte(token))
	return d[:]
}

// linkUser is the user a link token names (only its ids): the target of
// the event recording its use. ok is false for a token of another shape.
func linkUser(token string) (u *pihu.User, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], pihu.PrefixAccount) || !strings.HasPrefix(parts[1], pihu.PrefixUser) || len(parts[2]) != 43 {
		return nil, false
	}
	return &pihu.User{AccountID: parts[0], ID: parts[1]}, true
}

// SetupPath is the path of the setup link holding token; the token is in
// the query, which the request log leaves out.
func SetupPath(token string) string { return "/setup?token=" + token }

// linkForm is the form of a setup or invite page: the token rides along
// in a hidden field.
func linkForm(r *http.Request) *form {
	f := newForm(nil)
	f.Values.Set("token", r.URL.Query().Get("token"))
	return f
}

// setupData is the setup page: its form, or, for a link that cannot be
// used, why (and then no form).
type setupData struct {
	Form *form
	// Invalid says why the link cannot be used: Used, Expired or
	// neither (unknown); "" if it can.
	Invalid string
	// At is when the link was used, or expired.
	At *time.Time
}

// The reasons a setup link cannot be used.
const (
	linkUnknown = "unknown"
	linkUsed    = "used"
	linkExpired = "expired"
)

// setupLinkState says whether the setup link of token can be used now,
// and if not why: used (and when), expired (and when) or unknown.
func (h *Handler) setupLinkState(r *http.Request, token string) (invalid string, at *time.Time, err error) {
	if _, ok := linkUser(token); !ok {
		return linkUnknown, nil, nil
	}
	l, err := h.store.SetupLink(r.Context(), LinkDigest(token))
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		return linkUnknown, nil, nil
	case err != nil:
		return "", nil, err
	case l.Used != nil:
		return linkUsed, l.Used, nil
	case !h.now().Before(l.Expires):
		return linkExpired, &l.Expires, nil
	}
	return "", nil, nil
}

// setupPage shows the setup form of a setup link that can be used, and
// for one that cannot, says why (used, expired, unknown) before any form
// is shown, so that nobody types a password for nothing.
func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request) {
	f := linkForm(r)
	invalid, at, err := h.setupLinkState(r, f.Get("token"))
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	status := http.StatusOK
	if invalid != "" {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "setup", view{Title: "Set up your account", Data: setupData{Form: f, Invalid: invalid, At: at}})
}

// setup uses the first start's setup link: its owner sets an email and a
// password, and is signed in. A setup link works here only, and an invite
// link never does: the store uses setup links only.
func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	d := setupData{Form: f}
	v := view{Title: "Set up your account", Data: &d}
	// A link that cannot be used says so before the form is checked.
	var err error
	if d.Invalid, d.At, err = h.setupLinkState(r, r.PostForm.Get("token")); err != nil {
		h.internalError(w, r, err)
		return
	}
	if d.Invalid != "" {
		h.render(w, r, http.StatusBadRequest, "setup", v)
		return
	}
	password := r.PostForm.Get("password")
	email, err := pihu.NormalizeEmail(r.PostForm.Get("email"))
	f.Fail(err, "email")
	f.Fail(pihu.ValidatePassword(password), "password")
	if len(f.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, "setup", v)
		return
	}
	now := pihu.Timestamp(h.now())
	token := r.PostForm.Get("token")
	target, ok := linkUser(token)
	var u *pihu.User
	err = pihu.Errorf(pihu.ENotFound, "unknown link")
	if ok {
		hash, herr := h.passwords.hash(r.Context(), password)
		if herr != nil {
			h.busy(w, r, "setup", v, f)
			return
		}
		ev := pihu.NewUserEvent(pihu.ActionUserPasswordSet, target.ID, h.clientIP(r), target, now)
		u, err = h.store.UseLink(r.Context(), LinkDigest(token), email, hash, now, ev)
	}
	if err != nil {
		if pihu.ErrorCode(err) == pihu.ENotFound {
			// Used or expired meanwhile, or never valid: say which, without
			// the form.
			if d.Invalid, d.At, err = h.setupLinkState(r, token); err != nil {
				h.internalError(w, r, err)
				return
			}
			if d.Invalid == "" {
				d.Invalid = linkUnknown
			}
			h.render(w, r, http.StatusBadRequest, "setup", v)
			return
		}
		if !f.Fail(err, "email") {
			h.internalError(w, r, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, "setup", v)
		return
	}
	if err := h.signIn(w, r, u, pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, h.clientIP(r), u, now)); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

type accountData struct {
	Form *form
	// Accounts are the accounts the person belongs to, to switch to.
	Accounts []pihu.Membership
	// Sessions are the person's sessions, in every account.
	Sessions []sessionRow
	// Passkeys are the person's passkeys.
	Passkeys []*pihu.Passkey
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(nil)
	f.Values.Set("changed", r.URL.Query().Get("changed"))
	f.Values.Set("policy", r.URL.Query().Get("policy"))
	f.Values.Set("twofactor", r.URL.Query().Get("twofactor"))
	f.Values.Set("signedout", r.URL.Query().Get("signedout"))
	f.Values.Set("passkey", r.URL.Query().Get("passkey"))
	f.Values.Set("sso", r.URL.Query().Get("sso"))
	h.renderAccount(w, r, s, http.StatusOK, f)
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, s *session, status int, f *form) {
	accounts, err := h.store.Memberships(r.Context(), s.user.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	sessions, err := h.sessionRows(r, s, accounts)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	passkeys, err := h.store.ListPasskeys(r.Context(), s.user.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	h.render(w, r, status, "account", view{Title: "Your account", Me: s.user, Account: s.account, Nav: "account", SSOAccount: h.servesAccount(s.account.ID), Data: accountData{Form: f, Accounts: accounts, Sessions: sessions, Passkeys: passkeys}})
}

// switchAccount moves the session to another account of the person's. An
// account they are not a member of is a 404, as if it did not exist.
func (h *Handler) switchAccount(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	target, err := h.store.Account(r.Context(), r.PostForm.Get("account"))
	if err == nil {
		if _, err = h.store.User(r.Context(), target.ID, s.user.ID); err == nil && target.SSORequired {
			// A session does not keep how it signed in: an account that
			// requires SSO opens through its provider's button only.
			h.errorPage(w, r, s, http.StatusForbidden, "Single sign-on required", pihu.ErrorMessage(pihu.CheckSignIn(target, pihu.SignInPassword))+" Sign out, then sign in that way.")
			return
		}
	}
	if err == nil {
		err = h.store.SwitchSession(r.Context(), s.digest, target.ID)
	}
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Account not found", "You are not a member of this account.")
	case err != nil:
		h.internalError(w, r, err)
	default:
		http.Redirect(w, r, "/keys", http.StatusSeeOther)
	}
}

// changePassword sets a new password after checking the current one. It
// signs out every browser of the user (the store deletes their sessions),
// then signs this one in again.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(nil)
	// The account page again, with the message or errors set below.
	v := view{Title: "Your account", Me: s.user, Account: s.account, Nav: "account", Data: accountData{Form: f}}
	spent, retry, ok := h.reserve(r, []string{h.addressLimitKey(r), emailLimitKey(s.user.Email)})
	if !ok {
		h.tooMany(w, r, "account", v, f, "Too many wrong passwords. Try again in %d seconds.", retry)
		return
	}
	current, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	right, err := h.passwords.check(r.Context(), current, s.user.PasswordHash)
	if err != nil {
		h.refund(r, spent)
		h.busy(w, r, "account", v, f)
		return
	}
	if right {
		h.refund(r, spent)
	} else {
		f.Errors["current_password"] = "This is not your current password."
	}
	if err := pihu.ValidatePassword(next); err != nil {
		f.Errors["new_password"] = pihu.ErrorMessage(err)
	}
	if len(f.Errors) > 0 {
		h.renderAccount(w, r, s, http.StatusBadRequest, f)
		return
	}
	hash, err := h.passwords.hash(r.Context(), next)
	if err != nil {
		h.busy(w, r, "account", v, f)
		return
	}
	now := pihu.Timestamp(h.now())
	ev := pihu.NewUserEvent(pihu.ActionUserPasswordSet, s.user.ID, h.clientIP(r), s.user, now)
	if err := h.store.SetPassword(r.Context(), s.account.ID, s.user.ID, hash, now, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	// Every browser of the user is signed out; this one signs in again.
	if err := h.signIn(w, r, s.user); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?changed=1", http.StatusSeeOther)
}

// setLeakPolicy sets the account's leak policy (the owner's), through
// pihu.ChangeLeakPolicy as PATCH /v1/auth/account does.
func (h *Handler) setLeakPolicy(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	p, err := pihu.ParseLeakPolicy(r.PostForm.Get("leak_policy"), "leak_policy")
	if err != nil {
		f := newForm(nil)
		f.Errors["leak_policy"] = "Choose revoke or flag."
		h.renderAccount(w, r, s, http.StatusBadRequest, f)
		return
	}
	_, changed, err := pihu.ChangeLeakPolicy(r.Context(), h.store, s.account, p, s.user.ID, h.clientIP(r), h.now())
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	if changed {
		h.auth.InvalidateAccount(s.account.ID)
	}
	http.Redirect(w, r, "/account?policy=1#leak-policy", http.StatusSeeOther)
}
