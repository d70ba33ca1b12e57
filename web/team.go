package web

import (
	"net/http"

	"github.com/pihu-ai/pihu"
)

type teamData struct {
	Users     []*pihu.User
	CanManage bool
	Form      *form
	// Invited and InviteURL are shown once, on the page answering the
	// invitation: the link is a credential, kept only as its digest.
	Invited   *pihu.User
	InviteURL string
}

func (h *Handler) teamPage(w http.ResponseWriter, r *http.Request, s *session) {
	f := newForm(nil)
	f.Values.Set("role", string(pihu.RoleViewer))
	h.renderTeam(w, r, s, http.StatusOK, teamData{Form: f})
}

func (h *Handler) renderTeam(w http.ResponseWriter, r *http.Request, s *session, status int, d teamData) {
	users, err := h.store.ListUsers(r.Context(), s.account.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d.Users, d.CanManage = users, s.user.Role.CanManageTeam()
	h.render(w, r, status, "team", view{Title: "Team", Me: s.user, Account: s.account, Nav: "team", Data: d})
}

// addMember adds a user to the account with the role chosen (admin or
// viewer) and shows the owner a one-time invite link, valid for
// LinkLifetime, through which the member sets a password.
func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	email, err := pihu.NormalizeEmail(r.PostForm.Get("email"))
	f.Fail(err, "email")
	role := pihu.Role(r.PostForm.Get("role"))
	if role != pihu.RoleAdmin && role != pihu.RoleViewer {
		f.Errors["role"] = "Choose admin (manages keys) or viewer (reads only)."
	}
	if len(f.Errors) > 0 {
		h.renderTeam(w, r, s, http.StatusBadRequest, teamData{Form: f})
		return
	}
	now := pihu.Timestamp(h.now())
	u := &pihu.User{ID: pihu.NewID(pihu.PrefixUser), AccountID: s.account.ID, Email: email, Role: role, Created: now}
	token, digest := NewLinkToken(u)
	link := &pihu.Link{Digest: digest, UserID: u.ID, AccountID: u.AccountID, Purpose: pihu.LinkInvite, Created: now, Expires: now.Add(LinkLifetime)}
	err = h.store.CreateUser(r.Context(), u, link, pihu.NewUserEvent(pihu.ActionUserInvited, s.user.ID, h.clientIP(r), u, now))
	if err != nil {
		if !f.Fail(err, "email") {
			h.internalError(w, r, err)
			return
		}
		h.renderTeam(w, r, s, http.StatusBadRequest, teamData{Form: f})
		return
	}
	f = newForm(nil)
	f.Values.Set("role", string(pihu.RoleViewer))
	h.renderTeam(w, r, s, http.StatusOK, teamData{Form: f, Invited: u, InviteURL: origin(r) + InvitePath(token)})
}

// origin is the scheme and host the request was made to.
func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
