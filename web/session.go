package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/pihu-ai/pihu"
)

// CookieName is the session cookie's name. It holds 32 random bytes; the
// store keeps only their SHA-256, so a copy of the database signs no one in.
const CookieName = "pihu_session"

// session is a signed-in visitor.
type session struct {
	digest  []byte
	id      string
	user    *pihu.User
	account *pihu.Account
}

// who decides which roles may use a page.
type who func(pihu.Role) bool

func anyone(pihu.Role) bool         { return true }
func keyManagers(r pihu.Role) bool  { return r.CanManageKeys() }
func teamManagers(r pihu.Role) bool { return r.CanManageTeam() }

// memberManagers change members' roles and reset their passwords.
func memberManagers(r pihu.Role) bool { return r.CanManageMembers() }

// signedIn calls next with the visitor's session. A visitor who is not
// signed in is sent to /login (303); one whose role may not use the page
// gets 403, for a form as for a page: hiding a button is not the rule. A
// member of an account that requires two-factor sign-in who has no second
// factor yet is sent to enrol one (303 to /account/two-factor), from every
// page but those of enrolling (see enrolling).
func (h *Handler) signedIn(may who, next func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return h.gate(may, true, next)
}

// enrolling is signedIn for the pages a member must reach while the
// account requires them to enrol a second factor: the enrolment itself,
// switching to another account, and signing out.
func (h *Handler) enrolling(next func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return h.gate(anyone, false, next)
}

func (h *Handler) gate(may who, requireTwoFactor bool, next func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(w, r)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		if s == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if requireTwoFactor && s.account.TwoFactorRequired && !s.user.HasSecondFactor() {
			http.Redirect(w, r, "/account/two-factor", http.StatusSeeOther)
			return
		}
		if !may(s.user.Role) {
			msg := "Your role in this account, " + string(s.user.Role) + ", may not do this. "
			switch {
			case s.user.Role == pihu.RoleViewer:
				msg += "Viewers read keys, usage and the audit log; ask an owner or an admin to make the change, or to make you an admin."
			default:
				msg += "Only the account's owners send, regenerate and cancel invites and remove members."
			}
			h.errorPage(w, r, s, http.StatusForbidden, "Not allowed", msg)
			return
		}
		next(w, r, s)
	})
}

// session returns the request's session, or nil if it has none that is
// valid: no cookie, an unknown one, one past its idle or absolute expiry
// (which is then deleted), or a sign-in still waiting for its second
// factor.
func (h *Handler) session(_ http.ResponseWriter, r *http.Request) (*session, error) {
	return h.loadSession(r, false)
}

// pendingSession returns the request's sign-in that waits for its second
// factor, or nil if it has none that is valid.
func (h *Handler) pendingSession(r *http.Request) (*session, error) {
	return h.loadSession(r, true)
}

// loadSession returns the request's valid session that is pending or not,
// as asked, or nil.
func (h *Handler) loadSession(r *http.Request, pending bool) (*session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	digest := sessionDigest(c.Value)
	ctx := r.Context()
	sess, err := h.store.SessionByDigest(ctx, digest)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if sess.Pending != pending {
		return nil, nil
	}
	now := h.now()
	if !now.Before(sess.Expires) || !now.Before(sess.LastSeen.Add(h.idle)) {
		if err := h.store.DeleteSession(ctx, digest); err != nil {
			return nil, err
		}
		return nil, nil
	}
	u, err := h.store.User(ctx, sess.AccountID, sess.UserID)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.PasswordChanged != nil && sess.Created.Before(*u.PasswordChanged) {
		return nil, nil
	}
	a, err := h.store.Account(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	if !pending && now.Sub(sess.LastSeen) >= time.Minute {
		if err := h.store.TouchSession(ctx, digest, now); err != nil {
			return nil, err
		}
	}
	return &session{digest: digest, id: sess.ID, user: u, account: a}, nil
}

// sessionDigest is the SHA-256 of a cookie's value, as the store keeps it.
func sessionDigest(value string) []byte {
	d := sha256.Sum256([]byte(value))
	return d[:]
}

// signIn starts a session for u, recording events with it, and sets its cookie: HttpOnly (no script
// reads it), SameSite=Lax (no cross-site POST carries it), Secure when the
// request came over TLS, and ending with the session.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, u *pihu.User, events ...*pihu.AuditEvent) error {
	return h.startSession(w, r, u, false, h.lifetime, events...)
}

// startSession starts a session for u, pending its second factor or not,
// that ends after lifetime, recording events with it, and sets its
// cookie: a new random id each time, so that a sign-in never goes on in
// a session someone else could have known of. The session keeps the
// browser (User-Agent) and client address it started from, which the
// Account page shows.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, u *pihu.User, pending bool, lifetime time.Duration, events ...*pihu.AuditEvent) error {
	raw := make([]byte, 32)
	rand.Read(raw)
	value := base64.RawURLEncoding.EncodeToString(raw)
	now := pihu.Timestamp(h.now())
	s := &pihu.Session{
		ID: pihu.NewID(pihu.PrefixSession), Digest: sessionDigest(value), UserID: u.ID, AccountID: u.AccountID,
		Created: now, LastSeen: now, Expires: now.Add(lifetime),
		UserAgent: r.UserAgent(), IP: h.clientIP(r), Pending: pending,
	}
	if err := h.store.CreateSession(r.Context(), s, events...); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: value, Path: "/", MaxAge: int(lifetime / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// clearCookie makes the browser forget its session cookie.
func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}
