package web

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
)

// sessionRow is one of the person's sessions as the Account page lists
// it.
type sessionRow struct {
	ID      string
	Browser string
	IP      string
	Account string
	Created time.Time
	// LastSeen is to the minute: a session is touched at most once a
	// minute (see loadSession), so that browsing writes nothing more.
	LastSeen time.Time
	Current  bool
}

// sessionRows are the person's sessions that still work, newest first,
// the current one marked; accounts names their accounts by id.
func (h *Handler) sessionRows(r *http.Request, s *session, accounts []pihu.Membership) ([]sessionRow, error) {
	list, err := h.store.ListSessions(r.Context(), s.user.ID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(accounts))
	for _, m := range accounts {
		names[m.AccountID] = m.AccountName
	}
	now := h.now()
	var rows []sessionRow
	for _, sess := range list {
		if !now.Before(sess.Expires) || !now.Before(sess.LastSeen.Add(h.idle)) {
			continue
		}
		rows = append(rows, sessionRow{
			ID: sess.ID, Browser: browserName(sess.UserAgent), IP: sess.IP, Account: names[sess.AccountID],
			Created: sess.Created, LastSeen: sess.LastSeen, Current: bytes.Equal(sess.Digest, s.digest),
		})
	}
	return rows, nil
}

// revokeSession signs out one of the person's other sessions; another
// person's session, or an unknown id, is a 404.
func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if id == s.id {
		h.errorPage(w, r, s, http.StatusBadRequest, "This is your current session", "Use Sign out at the top of the page to end this one.")
		return
	}
	ev := pihu.NewUserEvent(pihu.ActionUserSessionsRevoked, s.user.ID, h.clientIP(r), s.user, h.now())
	err := h.store.DeleteUserSession(r.Context(), s.user.ID, id, ev)
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Session not found", "You have no such session: it may have ended already.")
	case err != nil:
		h.internalError(w, r, err)
	default:
		http.Redirect(w, r, "/account?signedout=1#sessions", http.StatusSeeOther)
	}
}

// revokeOtherSessions signs out every session of the person but this one,
// in every account.
func (h *Handler) revokeOtherSessions(w http.ResponseWriter, r *http.Request, s *session) {
	ev := pihu.NewUserEvent(pihu.ActionUserSessionsRevoked, s.user.ID, h.clientIP(r), s.user, h.now())
	if _, err := h.store.DeleteOtherSessions(r.Context(), s.user.ID, s.digest, ev); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?signedout=all#sessions", http.StatusSeeOther)
}

// browserName is a person's name for the browser of a User-Agent header,
// such as "Firefox on Windows": the browser's family and the system's,
// which is what telling one's sessions apart needs, and no more.
func browserName(ua string) string {
	if ua == "" {
		return "Unknown browser"
	}
	browser := "A browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"},
		{"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// setTwoFactorRequired sets whether the account requires two-factor
// sign-in of every member (an owner's or an admin's), through
// pihu.ChangeTwoFactorRequired. Who turns it on must have a second factor
// already, or they would be sent to enrol at once.
func (h *Handler) setTwoFactorRequired(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	var required bool
	switch r.PostForm.Get("two_factor_required") {
	case "on":
		required = true
	case "off":
	default:
		f := newForm(nil)
		f.Errors["two_factor_required"] = "Choose required or not required."
		h.renderAccount(w, r, s, http.StatusBadRequest, f)
		return
	}
	if required && !s.user.HasSecondFactor() {
		f := newForm(nil)
		f.Fail(pihu.ErrEnrolFirst, "two_factor_required")
		h.renderAccount(w, r, s, http.StatusBadRequest, f)
		return
	}
	if _, _, err := pihu.ChangeTwoFactorRequired(r.Context(), h.store, s.account, required, s.user.ID, h.clientIP(r), h.now()); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?twofactor=1#two-factor-required", http.StatusSeeOther)
}
