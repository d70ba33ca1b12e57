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
	user    *pihu.User
	account *pihu.Account
}

// who decides which roles may use a page.
type who func(pihu.Role) bool

func anyone(pihu.Role) bool         { return true }
func keyManagers(r pihu.Role) bool  { return r.CanManageKeys() }
func teamManagers(r pihu.Role) bool { return r.CanManageTeam() }

// signedIn calls next with the visitor's session. A visitor who is not
// signed in is sent to /login (303); one whose role may not use the page
// gets 403, for a form as for a page: hiding a button is not the rule.
func (h *Handler) signedIn(may who, next func(http.ResponseWriter, *http.Request, *session)) http.Handler {
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
		if !may(s.user.Role) {
			msg := "Your role in this account, " + string(s.user.Role) + ", may not do this. "
			switch {
			case s.user.Role == pihu.RoleViewer:
				msg += "Viewers read keys, usage and the audit log; ask an owner or an admin to make the change, or to make you an admin."
			default:
				msg += "Only the account's owner manages the team."
			}
			h.errorPage(w, r, s, http.StatusForbidden, "Not allowed", msg)
			return
		}
		next(w, r, s)
	})
}

// session returns the request's session, or nil if it has none that is
// valid: no cookie, an unknown one, or one past its idle or absolute
// expiry (which is then deleted).
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (*session, error) {
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
	if now.Sub(sess.LastSeen) >= time.Minute {
		if err := h.store.TouchSession(ctx, digest, now); err != nil {
			return nil, err
		}
	}
	return &session{digest: digest, user: u, account: a}, nil
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
	raw := make([]byte, 32)
	rand.Read(raw)
	value := base64.RawURLEncoding.EncodeToString(raw)
	now := pihu.Timestamp(h.now())
	s := &pihu.Session{
		Digest: sessionDigest(value), UserID: u.ID, AccountID: u.AccountID,
		Created: now, LastSeen: now, Expires: now.Add(h.lifetime),
	}
	if err := h.store.CreateSession(r.Context(), s, events...); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: value, Path: "/", MaxAge: int(h.lifetime / time.Second),
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
