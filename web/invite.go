package web

import (
	"errors"
	"net/http"

	"github.com/pihu-ai/pihu"
)

// InvitePath is the path of the invite link holding token; the token is in
// the query, which the request log leaves out.
func InvitePath(token string) string { return "/invite?token=" + token }

// inviteData is what the invite page shows: the form, and the account and
// role of a pending invite (nil when the link is not valid).
type inviteData struct {
	Form    *form
	Invite  *pihu.Invite
	Account *pihu.Account
}

// invalidInvite is the message of a link that is no pending invite.
const invalidInvite = "This invite link is not valid: it may have been used, canceled or replaced already, or have expired (links work for 24 hours). Ask the account's owner for a new one."

// pendingInvite returns the pending invite of a link token and its
// account, or nil if there is none.
func (h *Handler) pendingInvite(r *http.Request, token string) (*pihu.Invite, *pihu.Account, error) {
	if token == "" {
		return nil, nil, nil
	}
	inv, err := h.store.InviteByDigest(r.Context(), LinkDigest(token), h.now())
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	a, err := h.store.Account(r.Context(), inv.AccountID)
	if err != nil {
		return nil, nil, err
	}
	return inv, a, nil
}

func (h *Handler) invitePage(w http.ResponseWriter, r *http.Request) {
	f := linkForm(r)
	inv, a, err := h.pendingInvite(r, f.Get("token"))
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	status := http.StatusOK
	if inv == nil {
		status, f.Message = http.StatusBadRequest, invalidInvite
	}
	h.render(w, r, status, "invite", view{Title: "Join a team", Data: inviteData{Form: f, Invite: inv, Account: a}})
}

// acceptInvite uses an invite link, with the email it was made for: a
// person who uses pihu already joins with their password (checked as a
// sign-in is, under the same limits, and never changed here), and someone
// new chooses one. Either way they become a member of the invite's account
// with its role, and are signed in to it. The link works once.
func (h *Handler) acceptInvite(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		h.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := newForm(r)
	d := inviteData{Form: f}
	v := view{Title: "Join a team", Data: &d}
	token, password := r.PostForm.Get("token"), r.PostForm.Get("password")
	var err error
	if d.Invite, d.Account, err = h.pendingInvite(r, token); err != nil {
		h.internalError(w, r, err)
		return
	}
	if d.Invite == nil {
		f.Message = invalidInvite
		h.render(w, r, http.StatusBadRequest, "invite", v)
		return
	}
	email, err := pihu.NormalizeEmail(r.PostForm.Get("email"))
	f.Fail(err, "email")
	if err == nil && email != d.Invite.Email {
		f.Errors["email"] = "This invite is for another email address: use the one it was sent to."
	}
	f.Fail(pihu.ValidatePassword(password), "password")
	if len(f.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, "invite", v)
		return
	}
	spent, retry, ok := h.reserve(r, []string{h.addressLimitKey(r), emailLimitKey(email)})
	if !ok {
		h.tooMany(w, r, "invite", v, f, "Too many failed attempts. Try again in %d seconds.", retry)
		return
	}
	person, status, err := h.invitedPerson(r, email, password)
	switch {
	case errors.Is(err, errBusy) || r.Context().Err() != nil:
		h.refund(r, spent)
		h.busy(w, r, "invite", v, f)
		return
	case err != nil:
		h.refund(r, spent)
		h.internalError(w, r, err)
		return
	case person == nil:
		f.Message = status
		h.render(w, r, http.StatusUnauthorized, "invite", v)
		return
	}
	h.refund(r, spent)
	now := pihu.Timestamp(h.now())
	joined := &pihu.User{ID: person.ID, AccountID: d.Invite.AccountID}
	member, err := h.store.AcceptInvite(r.Context(), LinkDigest(token), person, now, pihu.NewUserEvent(pihu.ActionUserJoined, person.ID, h.clientIP(r), joined, now))
	switch code := pihu.ErrorCode(err); {
	case err == nil:
	case code == pihu.ENotFound:
		f.Message = invalidInvite
		h.render(w, r, http.StatusBadRequest, "invite", v)
		return
	case code == pihu.EParameterInvalid:
		f.Message = "Someone has just started using pihu with this email. If it was you, use your password."
		h.render(w, r, http.StatusBadRequest, "invite", v)
		return
	default:
		h.internalError(w, r, err)
		return
	}
	// A person with a second factor gives it before the session starts.
	h.signInTo(w, r, member.ID, member.AccountID)
}

// invitedPerson is the person who joins with email and password: the
// person with that email if password is theirs, or a new person with that
// password if nobody has the email. A wrong password is a nil person with
// the message to show. Either way one password hash is computed, under
// the bound of every hash (errBusy).
func (h *Handler) invitedPerson(r *http.Request, email, password string) (*pihu.User, string, error) {
	known, err := h.store.UserByEmail(r.Context(), email)
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
		hash, err := h.passwords.hash(r.Context(), password)
		if err != nil {
			return nil, "", err
		}
		now := pihu.Timestamp(h.now())
		return &pihu.User{ID: pihu.NewID(pihu.PrefixUser), Email: email, PasswordHash: hash, Created: now, PasswordChanged: &now}, "", nil
	case err != nil:
		return nil, "", err
	}
	hash := known.PasswordHash
	if hash == "" {
		hash = h.dummyHash
	}
	right, err := h.passwords.check(r.Context(), password, hash)
	if err != nil {
		return nil, "", err
	}
	if !right || known.PasswordHash == "" {
		return nil, signInFailed + " If you already use Pihu with this email, enter your password.", nil
	}
	return known, "", nil
}
