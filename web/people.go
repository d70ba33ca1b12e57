package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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
	h.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Data: newForm(nil)})
}

// login signs a user in. Failures are limited per client address and per
// email (the same budget whichever is guessed), and an unknown email costs
// a password hash as a known one does, so that timing tells nothing.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	email, emailErr := pihu.NormalizeEmail(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	limits := []string{h.addressLimitKey(r)}
	if emailErr == nil {
		limits = append(limits, "signin-email:"+email)
	}
	if retry, ok := h.peekLimits(r, limits); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		f.Message = "Too many failed sign-ins. Try again in " + strconv.Itoa(retry) + " seconds."
		h.render(w, r, http.StatusTooManyRequests, "login", view{Title: "Sign in", Data: f})
		return
	}
	var u *pihu.User
	if emailErr == nil {
		var err error
		u, err = h.store.UserByEmail(r.Context(), email)
		if err != nil && pihu.ErrorCode(err) != pihu.ENotFound {
			h.internalError(w, r, err)
			return
		}
	}
	ok := false
	if u != nil && u.PasswordHash != "" {
		ok = CheckPassword(password, u.PasswordHash)
	} else {
		CheckPassword(password, h.dummyHash)
	}
	if !ok {
		h.spendLimits(r, limits)
		f.Message = signInFailed
		h.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", Data: f})
		return
	}
	if err := h.signIn(w, r, u, pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, h.clientIP(r), u, h.now())); err != nil {
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

// peekLimits reports whether every limiter key has budget left, and if
// not, in how many seconds one will have. A limiter that fails lets the
// request through, as the API's does.
func (h *Handler) peekLimits(r *http.Request, keys []string) (retry int, ok bool) {
	for _, k := range keys {
		res, err := h.limiter.Peek(r.Context(), k, h.signInLimit)
		if err != nil {
			h.logger.Error("dashboard: rate limiter failed; sign-in let through", "err", err)
			continue
		}
		if !res.Allowed {
			return max(1, int((res.RetryAfter+time.Second-1)/time.Second)), false
		}
	}
	return 0, true
}

// spendLimits spends one request of each limiter key.
func (h *Handler) spendLimits(r *http.Request, keys []string) {
	for _, k := range keys {
		if _, err := h.limiter.Allow(r.Context(), k, h.signInLimit); err != nil {
			h.logger.Error("dashboard: rate limiter failed", "err", err)
		}
	}
}

func (h *Handler) signupPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "signup", view{Title: "Create an account", Data: newForm(nil)})
}

// signup creates an account and its owner user, and signs the owner in.
// Sign-ups spend the client address's sign-in budget, so that one address
// cannot create accounts without end.
func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	password := r.PostForm.Get("password")
	limits := []string{h.addressLimitKey(r)}
	if retry, ok := h.peekLimits(r, limits); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		f.Message = "Too many attempts from your address. Try again in " + strconv.Itoa(retry) + " seconds."
		h.render(w, r, http.StatusTooManyRequests, "signup", view{Title: "Create an account", Data: f})
		return
	}
	now := pihu.Timestamp(h.now())
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: r.PostForm.Get("account_name"), Created: now}
	email, err := pihu.NormalizeEmail(r.PostForm.Get("email"))
	f.Fail(err, "email")
	f.Fail(pihu.ValidatePassword(password), "password")
	if err := a.Validate(); err != nil {
		f.Errors["account_name"] = pihu.ErrorMessage(err)
	}
	if len(f.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, "signup", view{Title: "Create an account", Data: f})
		return
	}
	h.spendLimits(r, limits)
	u := &pihu.User{
		ID: pihu.NewID(pihu.PrefixUser), AccountID: a.ID, Email: email,
		PasswordHash: HashPassword(password, h.password), Role: pihu.RoleOwner, Created: now, PasswordChanged: &now,
	}
	err = h.store.CreateAccountWithOwner(r.Context(), a, u, pihu.NewUserEvent(pihu.ActionUserSignedUp, u.ID, h.clientIP(r), u, now))
	if err != nil {
		if !f.Fail(err, "email") {
			h.internalError(w, r, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, "signup", view{Title: "Create an account", Data: f})
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

// InvitePath is the path of the invite link holding token.
func InvitePath(token string) string { return "/invite?token=" + token }

// linkForm is the form of a setup or invite page: the token rides along
// in a hidden field.
func linkForm(r *http.Request) *form {
	f := newForm(nil)
	f.Values.Set("token", r.URL.Query().Get("token"))
	return f
}

func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "setup", view{Title: "Set up your account", Data: linkForm(r)})
}

func (h *Handler) invitePage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "invite", view{Title: "Join your team", Data: linkForm(r)})
}

// setup uses the first start's setup link: its owner sets an email and a
// password, and is signed in.
func (h *Handler) setup(w http.ResponseWriter, r *http.Request) {
	h.useLink(w, r, "setup", true)
}

// acceptInvite uses an invite link: the member sets a password, and is
// signed in.
func (h *Handler) acceptInvite(w http.ResponseWriter, r *http.Request) {
	h.useLink(w, r, "invite", false)
}

func (h *Handler) useLink(w http.ResponseWriter, r *http.Request, page string, withEmail bool) {
	title := map[string]string{"setup": "Set up your account", "invite": "Join your team"}[page]
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	password := r.PostForm.Get("password")
	email := ""
	if withEmail {
		var err error
		email, err = pihu.NormalizeEmail(r.PostForm.Get("email"))
		f.Fail(err, "email")
	}
	f.Fail(pihu.ValidatePassword(password), "password")
	if len(f.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, page, view{Title: title, Data: f})
		return
	}
	now := pihu.Timestamp(h.now())
	token := r.PostForm.Get("token")
	target, ok := linkUser(token)
	var u *pihu.User
	var err error = pihu.Errorf(pihu.ENotFound, "unknown link")
	if ok {
		ev := pihu.NewUserEvent(pihu.ActionUserPasswordSet, target.ID, h.clientIP(r), target, now)
		u, err = h.store.UseLink(r.Context(), LinkDigest(token), email, HashPassword(password, h.password), now, ev)
	}
	if err != nil {
		if pihu.ErrorCode(err) == pihu.ENotFound {
			f.Message = "This link is not valid: it may have been used already, or have expired (links work for 24 hours). Ask the account's owner for a new one."
			h.render(w, r, http.StatusBadRequest, page, view{Title: title, Data: f})
			return
		}
		if !f.Fail(err, "email") {
			h.internalError(w, r, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, page, view{Title: title, Data: f})
		return
	}
	if err := h.signIn(w, r, u, pihu.NewUserEvent(pihu.ActionUserLogin, u.ID, h.clientIP(r), u, now)); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(nil)
	f.Values.Set("changed", r.URL.Query().Get("changed"))
	f.Values.Set("policy", r.URL.Query().Get("policy"))
	h.render(w, r, http.StatusOK, "account", view{Title: "Your account", Me: s.user, Account: s.account, Nav: "account", Data: f})
}

// changePassword sets a new password after checking the current one. It
// signs out every browser of the user (the store deletes their sessions),
// then signs this one in again.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, s *session) {
	v := view{Title: "Your account", Me: s.user, Account: s.account, Nav: "account"}
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(nil)
	v.Data = f
	limits := []string{h.addressLimitKey(r), "signin-email:" + s.user.Email}
	if retry, ok := h.peekLimits(r, limits); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		f.Message = "Too many wrong passwords. Try again in " + strconv.Itoa(retry) + " seconds."
		h.render(w, r, http.StatusTooManyRequests, "account", v)
		return
	}
	current, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	if !CheckPassword(current, s.user.PasswordHash) {
		h.spendLimits(r, limits)
		f.Errors["current_password"] = "This is not your current password."
	}
	if err := pihu.ValidatePassword(next); err != nil {
		f.Errors["new_password"] = pihu.ErrorMessage(err)
	}
	if len(f.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, "account", v)
		return
	}
	now := pihu.Timestamp(h.now())
	ev := pihu.NewUserEvent(pihu.ActionUserPasswordSet, s.user.ID, h.clientIP(r), s.user, now)
	if err := h.store.SetPassword(r.Context(), s.account.ID, s.user.ID, HashPassword(next, h.password), now, ev); err != nil {
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
		h.render(w, r, http.StatusBadRequest, "account", view{Title: "Your account", Me: s.user, Account: s.account, Nav: "account", Data: f})
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
