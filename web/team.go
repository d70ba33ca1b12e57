package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/pihu-ai/pihu"
)

// The team page: the account's members and pending invites. An owner
// invites people by email, regenerates and cancels invites and removes
// members; owners and admins change roles and reset passwords (see
// members.go). Nothing
// here reads or tells anything about other accounts: an invite is the
// account's own until its link is used, whether or not its email is a
// person's elsewhere.

type teamData struct {
	Members []memberRow
	Invites []*pihu.Invite
	// CanManage is whether the person looking manages invites and
	// removals (an owner); CanManageMembers whether they change roles
	// and reset passwords (an owner or an admin).
	CanManage, CanManageMembers bool
	Form                        *form
	// Invited and InviteURL are shown once, on the page answering the
	// invitation: the link is a credential, kept only as its digest.
	Invited   *pihu.Invite
	InviteURL string
	// Regenerated says that Invited replaced an earlier link.
	Regenerated bool
	// Reset and ResetURL are a new password reset link, on its one view.
	Reset    *pihu.PasswordReset
	ResetURL string
	// Message says what the last action did (a member removed, an
	// invite canceled), or why it was refused.
	Message string
	// roleChanged is the id of the member whose role was just changed,
	// whom Message names.
	roleChanged string
}

func (h *Handler) teamPage(w http.ResponseWriter, r *http.Request, s *session) {
	d := teamData{Form: inviteForm()}
	switch r.URL.Query().Get("done") {
	case "removed":
		d.Message = "The member was removed: they no longer see this account."
	case "canceled":
		d.Message = "The invite was canceled: its link no longer works."
	case "role":
		d.roleChanged = r.URL.Query().Get("member")
	}
	h.renderTeam(w, r, s, http.StatusOK, d)
}

func (h *Handler) renderTeam(w http.ResponseWriter, r *http.Request, s *session, status int, d teamData) {
	users, err := h.store.ListUsers(r.Context(), s.account.ID)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	d.Members, d.CanManage, d.CanManageMembers = memberRows(s.user, users), s.user.Role.CanManageTeam(), s.user.Role.CanManageMembers()
	if u := memberWho(users, d.roleChanged); u != nil {
		d.Message = u.Email + " is now " + string(u.Role) + "."
		if u.ID == s.user.ID {
			d.Message = "You are now " + string(u.Role) + " in this account."
		}
	}
	if d.CanManage {
		if d.Invites, err = h.store.ListInvites(r.Context(), s.account.ID, h.now()); err != nil {
			h.internalError(w, r, err)
			return
		}
	}
	h.render(w, r, status, "team", view{Title: "Team", Me: s.user, Account: s.account, Nav: "team", Data: d})
}

// invite invites an email to the account with the role chosen (admin or
// viewer) and sends the owner (303) to the one view of its invite link,
// valid for LinkLifetime, that the invited person uses with that email: to join
// with their password if they use pihu already, or to choose one. The
// answer is the same whether or not the email is a person's elsewhere.
// Invites are limited per account (Options.InviteLimit), spent before
// anything is stored.
func (h *Handler) invite(w http.ResponseWriter, r *http.Request, s *session) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, s, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	email, err := pihu.NormalizeEmail(r.PostForm.Get("email"))
	f.Fail(err, "email")
	now := pihu.Timestamp(h.now())
	inv := &pihu.Invite{
		ID: pihu.NewID(pihu.PrefixInvite), AccountID: s.account.ID, Email: email, Role: pihu.Role(r.PostForm.Get("role")),
		InvitedBy: s.user.ID, Created: now, Expires: now.Add(LinkLifetime),
	}
	f.Fail(pihu.ValidateInviteRole(inv.Role), "role")
	if len(f.Errors) > 0 {
		h.renderTeam(w, r, s, http.StatusBadRequest, teamData{Form: f})
		return
	}
	if !h.allowInvite(w, r, s) {
		return
	}
	token := NewInviteToken(inv)
	err = h.store.CreateInvite(r.Context(), inv, pihu.NewInviteEvent(pihu.ActionUserInvited, s.user.ID, h.clientIP(r), inv, now))
	if err != nil {
		if !f.Fail(err, "email", "role") {
			h.internalError(w, r, err)
			return
		}
		h.renderTeam(w, r, s, http.StatusBadRequest, teamData{Form: f})
		return
	}
	view := h.once.put(s.digest, inv.ID, invitedData{Invite: inv, URL: origin(r) + InvitePath(token)})
	http.Redirect(w, r, "/team/invites/"+inv.ID+"/link/"+view, http.StatusSeeOther)
}

// allowInvite spends one of the account's invites (Options.InviteLimit)
// before an invite link is made, and if none is left answers 429 with
// Retry-After and returns false. A limiter that fails lets the invite
// through.
func (h *Handler) allowInvite(w http.ResponseWriter, r *http.Request, s *session) bool {
	res, err := h.limiter.Allow(r.Context(), "invites:"+s.account.ID, h.inviteLimit)
	if err != nil {
		h.logger.Error("dashboard: rate limiter failed; invite let through", "err", err)
		return true
	}
	if res.Allowed {
		return true
	}
	retry := retrySeconds(res.RetryAfter)
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	f := inviteForm()
	if r.PostForm != nil {
		f = newForm(r)
	}
	f.Message = "This account has sent too many invites (" + h.inviteLimit.String() + "). Try again in " + strconv.Itoa(retry) + " seconds."
	h.renderTeam(w, r, s, http.StatusTooManyRequests, teamData{Form: f})
	return false
}

// invitedData is what the one view of an invite link shows.
type invitedData struct {
	Invite *pihu.Invite
	URL    string
	// Regenerated says the link replaced an earlier one.
	Regenerated bool
}

// inviteLinkPage shows the team page with a new invite's link, on its
// one view; any later view says it was shown once.
func (h *Handler) inviteLinkPage(w http.ResponseWriter, r *http.Request, s *session) {
	data, _ := h.once.take(s.digest, r.PathValue("id"), r.PathValue("view"))
	d, ok := data.(invitedData)
	if !ok {
		h.shownOnce(w, r, s, "team", shownOnceData{
			What:    "Invite link",
			Message: "This invite's link was shown once, on the page that followed the invitation, and cannot be shown again: Pihu keeps only its hash. If you did not copy it, use Regenerate link beside the invite on the team page: that makes a new link, and the old one stops working.",
			Link:    "/team", LinkLabel: "Back to the team",
		})
		return
	}
	h.renderTeam(w, r, s, http.StatusOK, teamData{Form: inviteForm(), Invited: d.Invite, InviteURL: d.URL, Regenerated: d.Regenerated})
}

// cancelInvite cancels a pending invite of the account: its link stops
// working. Another account's invite, or one no longer pending, is a 404.
func (h *Handler) cancelInvite(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	inv := &pihu.Invite{ID: id, AccountID: s.account.ID}
	now := h.now()
	err := h.store.CancelInvite(r.Context(), s.account.ID, id, now, pihu.NewInviteEvent(pihu.ActionInviteCanceled, s.user.ID, h.clientIP(r), inv, now))
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		h.errorPage(w, r, s, http.StatusNotFound, "Invite not found", "This account has no pending invite with this id: it may have been used, canceled or have expired already.")
	case err != nil:
		h.internalError(w, r, err)
	default:
		http.Redirect(w, r, "/team?done=canceled", http.StatusSeeOther)
	}
}

// removeMember removes a member from the account: they no longer see it,
// and their sessions in it end; their other accounts are theirs still. The
// account's last owner stays (400); another account's member is a 404.
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, s *session) {
	target := &pihu.User{ID: r.PathValue("id"), AccountID: s.account.ID}
	ev := pihu.NewUserEvent(pihu.ActionUserRemoved, s.user.ID, h.clientIP(r), target, h.now())
	err := h.store.RemoveMember(r.Context(), s.account.ID, target.ID, ev)
	if err != nil {
		h.memberRefused(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/team?done=removed", http.StatusSeeOther)
}

// NewInviteToken returns a new link token for invite inv, and sets
// inv.Digest to its SHA-256, which is all the store keeps. The token names
// the invite ("inv_….random"); the 32 random bytes are the secret, and the
// digest covers the whole token.
func NewInviteToken(inv *pihu.Invite) string {
	raw := make([]byte, 32)
	rand.Read(raw)
	token := inv.ID + "." + base64.RawURLEncoding.EncodeToString(raw)
	inv.Digest = LinkDigest(token)
	return token
}

// origin is the scheme and host the request was made to.
func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
