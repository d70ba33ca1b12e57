package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/pihu-ai/pihu"
)

// Managing the team's members: an owner or an admin changes a member's
// role and issues a password reset link (the server sends no mail, so
// they hand it over, as they do an invite's); an owner regenerates an
// invite's link. The rules are the domain's (pihu.CheckRoleChange,
// pihu.CheckPasswordReset), checked by the store in the transaction that
// makes the change; the team page offers only what they allow.

// memberRow is a member as the team page lists them, with what the
// person looking may do to them.
type memberRow struct {
	*pihu.User
	// Roles are the roles the person looking may give the member (their
	// current one included); none if they may change nothing.
	Roles []roleChoice
	// CanReset and CanRemove say whether to offer a password reset and a
	// removal.
	CanReset, CanRemove bool
}

// roleChoice is a role a member may be given, and its words.
type roleChoice struct {
	Role  pihu.Role
	Label string
}

// allRoles are the roles, the highest first.
var allRoles = []pihu.Role{pihu.RoleOwner, pihu.RoleAdmin, pihu.RoleViewer}

// memberRows are the account's members as me may change them.
func memberRows(me *pihu.User, users []*pihu.User) []memberRow {
	owners := 0
	for _, u := range users {
		if u.Role == pihu.RoleOwner {
			owners++
		}
	}
	rows := make([]memberRow, len(users))
	for i, u := range users {
		row := memberRow{User: u}
		for _, r := range allRoles {
			if r == u.Role || pihu.CheckRoleChange(me.Role, u.Role, r, owners) == nil {
				row.Roles = append(row.Roles, roleChoice{Role: r, Label: roleNames[r]})
			}
		}
		if len(row.Roles) < 2 {
			row.Roles = nil
		}
		// Whether they belong to other accounts too is the store's to
		// check; the page offers what the roles allow.
		row.CanReset = u.ID != me.ID && pihu.CheckPasswordReset(me.Role, u.Role, u.PasswordHash != "", 0) == nil
		row.CanRemove = me.Role.CanManageTeam() && u.ID != me.ID && u.Role != pihu.RoleOwner
		rows[i] = row
	}
	return rows
}

// changeRole sets a member's role (an owner's or an admin's form) and
// sends the person back to the team page, which names the change. The
// rules are pihu.CheckRoleChange's: a refusal is a 403 (400 for the last
// owner, or a role that is none), and changes nothing; another account's
// member is a 404.
func (h *Handler) changeRole(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	id, role := r.PathValue("id"), pihu.Role(r.PostForm.Get("role"))
	ip, now := h.clientIP(r), h.now()
	u, err := h.store.ChangeRole(r.Context(), s.account.ID, s.user.ID, id, role, func(before *pihu.User) *pihu.AuditEvent {
		ev := pihu.NewUserEvent(pihu.ActionUserRoleChanged, s.user.ID, ip, before, now)
		ev.Changes = []string{"role"}
		return ev
	})
	if err != nil {
		h.memberRefused(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/team?done=role&member="+url.QueryEscape(u.ID), http.StatusSeeOther)
}

// regenerateInvite replaces a pending invite's link with a new one (the
// old stops working: only its hash was kept, so it cannot be shown
// again) and sends the owner (303) to the one view of the new link. It
// spends the account's invite limit, as an invite does.
func (h *Handler) regenerateInvite(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.allowInvite(w, r, s) {
		return
	}
	now := pihu.Timestamp(h.now())
	inv := &pihu.Invite{ID: pihu.NewID(pihu.PrefixInvite), AccountID: s.account.ID, InvitedBy: s.user.ID, Created: now, Expires: now.Add(LinkLifetime)}
	token := NewInviteToken(inv)
	err := h.store.RegenerateInvite(r.Context(), r.PathValue("id"), inv, pihu.NewInviteEvent(pihu.ActionInviteRegenerated, s.user.ID, h.clientIP(r), inv, now))
	switch code := pihu.ErrorCode(err); {
	case err == nil:
		view := h.once.put(s.digest, inv.ID, invitedData{Invite: inv, URL: origin(r) + InvitePath(token), Regenerated: true})
		http.Redirect(w, r, "/team/invites/"+inv.ID+"/link/"+view, http.StatusSeeOther)
	case code == pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Invite not found", "This account has no pending invite with this id: it may have been used, canceled or have expired already.")
	case code == pihu.EInsufficientPermissions:
		h.errorPage(w, r, s, http.StatusForbidden, "Not allowed", pihu.ErrorMessage(err))
	default:
		h.internalError(w, r, err)
	}
}

// resetData is what the one view of a password reset link shows.
type resetData struct {
	Reset *pihu.PasswordReset
	URL   string
}

// issueReset issues a password reset link for a member (an owner's or an
// admin's form) and sends them (303) to its one view. The rules are
// pihu.CheckPasswordReset's: a refusal is a 403 (400 for a member with no
// password yet) and stores nothing; another account's member is a 404.
func (h *Handler) issueReset(w http.ResponseWriter, r *http.Request, s *session) {
	now := pihu.Timestamp(h.now())
	p := &pihu.PasswordReset{ID: pihu.NewID(pihu.PrefixPasswordReset), AccountID: s.account.ID, UserID: r.PathValue("id"),
		CreatedBy: s.user.ID, Created: now, Expires: now.Add(LinkLifetime)}
	token := newResetToken(p)
	err := h.store.CreatePasswordReset(r.Context(), p, pihu.NewPasswordResetEvent(pihu.ActionUserPasswordResetIssued, s.user.ID, h.clientIP(r), p, now))
	if err != nil {
		h.memberRefused(w, r, s, err)
		return
	}
	view := h.once.put(s.digest, p.UserID, resetData{Reset: p, URL: origin(r) + ResetPath(token)})
	http.Redirect(w, r, "/team/members/"+p.UserID+"/reset/"+view, http.StatusSeeOther)
}

// memberRefused answers a change to a member that the store refused with
// err: another account's member or none is a 404, a change the person
// may not make a 403, and one the rules forbid (the last owner) a 400,
// each on the team page with the reason.
func (h *Handler) memberRefused(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch pihu.ErrorCode(err) {
	case pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Member not found", "This account has no member with this id.")
	case pihu.EInsufficientPermissions:
		h.renderTeam(w, r, s, http.StatusForbidden, teamData{Form: inviteForm(), Message: pihu.ErrorMessage(err)})
	case pihu.EParameterInvalid:
		h.renderTeam(w, r, s, http.StatusBadRequest, teamData{Form: inviteForm(), Message: pihu.ErrorMessage(err)})
	default:
		h.internalError(w, r, err)
	}
}

// resetLinkPage shows the team page with a new password reset link, on
// its one view; any later view says it was shown once.
func (h *Handler) resetLinkPage(w http.ResponseWriter, r *http.Request, s *session) {
	data, _ := h.once.take(s.digest, r.PathValue("id"), r.PathValue("view"))
	d, ok := data.(resetData)
	if !ok {
		h.shownOnce(w, r, s, "team", shownOnceData{
			What:    "Password reset link",
			Message: "This password reset link was shown once, on the page that followed it, and cannot be shown again: Pihu keeps only its hash. If you did not copy it, reset the member's password again: that makes a new link, and the old one stops working.",
			Link:    "/team", LinkLabel: "Back to the team",
		})
		return
	}
	h.renderTeam(w, r, s, http.StatusOK, teamData{Form: inviteForm(), Reset: d.Reset, ResetURL: d.URL})
}

// newResetToken returns a new link token for reset p, and sets p.Digest to
// its SHA-256, which is all the store keeps ("pwr_….random", as an
// invite's).
func newResetToken(p *pihu.PasswordReset) string {
	raw := make([]byte, 32)
	rand.Read(raw)
	token := p.ID + "." + base64.RawURLEncoding.EncodeToString(raw)
	p.Digest = LinkDigest(token)
	return token
}

// ResetPath is the path of the password reset link holding token; the
// token is in the query, which the request log leaves out.
func ResetPath(token string) string { return "/password-reset?token=" + token }

// resetPageData is the page a password reset link opens: the member's
// email and account, and the form; or, for a link that cannot be used,
// why (and then no form).
type resetPageData struct {
	Form    *form
	Reset   *pihu.PasswordReset
	Account *pihu.Account
	// State says why the link cannot be used ("" if it can, or if it is
	// unknown: Reset is nil then), and At since when.
	State pihu.LinkState
	At    *time.Time
}

// resetLink reads the password reset of a link token and its account, and
// what it can be used for now. A token of no reset leaves d.Reset nil.
func (h *Handler) resetLink(r *http.Request, token string, d *resetPageData) error {
	d.Reset, d.Account, d.State, d.At = nil, nil, "", nil
	if token == "" {
		return nil
	}
	p, err := h.store.PasswordResetLink(r.Context(), LinkDigest(token))
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	a, err := h.store.Account(r.Context(), p.AccountID)
	if err != nil {
		return err
	}
	d.Reset, d.Account = p, a
	d.State, d.At = p.State(h.now())
	return nil
}

// resetPage shows the form of a password reset link that can be used,
// naming the member's email and account; for one that cannot, it says why
// (used, replaced, expired, unknown) before any form is shown.
func (h *Handler) resetPage(w http.ResponseWriter, r *http.Request) {
	d := resetPageData{Form: linkForm(r)}
	if err := h.resetLink(r, d.Form.Get("token"), &d); err != nil {
		h.internalError(w, r, err)
		return
	}
	status := http.StatusOK
	if d.Reset == nil || d.State != "" {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "password_reset", view{Title: "Choose a new password", Data: d})
}

// resetPassword uses a password reset link: the member's password becomes
// the one given, every session of theirs ends, and they are sent (303) to
// sign in with it. A link that cannot be used says why, as its page does.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	d := resetPageData{Form: newForm(r)}
	v := view{Title: "Choose a new password", Data: &d}
	token, password := r.PostForm.Get("token"), r.PostForm.Get("password")
	if err := h.resetLink(r, token, &d); err != nil {
		h.internalError(w, r, err)
		return
	}
	if d.Reset == nil || d.State != "" {
		h.render(w, r, http.StatusBadRequest, "password_reset", v)
		return
	}
	if err := pihu.ValidatePassword(password); err != nil {
		d.Form.Fail(err, "password")
		h.render(w, r, http.StatusBadRequest, "password_reset", v)
		return
	}
	hash, err := h.passwords.hash(r.Context(), password)
	if err != nil {
		h.busy(w, r, "password_reset", v, d.Form)
		return
	}
	now := h.now()
	target := &pihu.User{ID: d.Reset.UserID, AccountID: d.Reset.AccountID}
	_, err = h.store.UsePasswordReset(r.Context(), LinkDigest(token), hash, now, pihu.NewUserEvent(pihu.ActionUserPasswordReset, target.ID, h.clientIP(r), target, now))
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		// Used or replaced meanwhile, or its issuer may no longer reset
		// the password: say which, without the form.
		if err := h.resetLink(r, token, &d); err != nil {
			h.internalError(w, r, err)
			return
		}
		if d.State == "" {
			d.Reset = nil
		}
		h.render(w, r, http.StatusBadRequest, "password_reset", v)
	case err != nil:
		h.internalError(w, r, err)
	default:
		http.Redirect(w, r, "/login?reset=1", http.StatusSeeOther)
	}
}

// inviteForm is the empty invite form of the team page.
func inviteForm() *form {
	f := newForm(nil)
	f.Values.Set("role", string(pihu.RoleViewer))
	return f
}

// roleNames are the roles as the team page's choices say them (the
// page's first paragraph says what each may do).
var roleNames = map[pihu.Role]string{
	pihu.RoleOwner:  "Owner",
	pihu.RoleAdmin:  "Admin",
	pihu.RoleViewer: "Viewer",
}

// memberWho is the member of users with id, for the notice that names
// them; nil if there is none.
func memberWho(users []*pihu.User, id string) *pihu.User {
	if i := slices.IndexFunc(users, func(u *pihu.User) bool { return u.ID == id }); i >= 0 {
		return users[i]
	}
	return nil
}
