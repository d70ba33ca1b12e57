package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/pihu-ai/pihu"
)

// InvitePath is the path of the invite link holding token; the token is in
// the query, which the request log leaves out.
func InvitePath(token string) string { return "/invite?token=" + token }

// inviteData is what the invite page shows: the form, and the invite its
// link is for with its account (nil when the link is none), and why it
// cannot be used, if it cannot.
type inviteData struct {
	Form    *form
	Invite  *pihu.Invite
	Account *pihu.Account
	// State says why the link cannot be used (used, canceled or
	// replaced, expired), "" if it can; At is since when.
	State pihu.LinkState
	At    *time.Time
}

// Usable reports whether the page shows the form: the link is an invite's
// and can be used.
func (d *inviteData) Usable() bool { return d.Invite != nil && d.State == "" }

// invalidInvite is the message of a link that is no invite at all.
const invalidInvite = "This invite link is not valid: check that you copied all of it, or ask the account's owner for a new one."

// inviteLink reads the invite of a link token, pending or not, with its
// account and what it can be used for now, into d. A token of no invite
// leaves d.Invite nil.
func (h *Handler) inviteLink(r *http.Request, token string, d *inviteData) error {
	d.Invite, d.Account, d.State, d.At = nil, nil, "", nil
	if token == "" {
		return nil
	}
	inv, err := h.store.InviteLink(r.Context(), LinkDigest(token))
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	a, err := h.store.Account(r.Context(), inv.AccountID)
	if err != nil {
		return err
	}
	d.Invite, d.Account = inv, a
	d.State, d.At = inv.State(h.now())
	return nil
}

// invitePage shows the invite a link is for (the account, the email and
// the role) and its form; a link used, canceled, replaced or expired says
// so, and when, before any form, so that nobody types a password for
// nothing.
func (h *Handler) invitePage(w http.ResponseWriter, r *http.Request) {
	d := inviteData{Form: linkForm(r)}
	if err := h.inviteLink(r, d.Form.Get("token"), &d); err != nil {
		h.internalError(w, r, err)
		return
	}
	status := http.StatusOK
	switch {
	case d.Invite == nil:
		status, d.Form.Message = http.StatusBadRequest, invalidInvite
	case d.State != "":
		status = http.StatusBadRequest
	default:
		d.Form.Values.Set("email", d.Invite.Email)
	}
	h.render(w, r, status, "invite", view{Title: "Join a team", Data: &d})
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
	if err := h.inviteLink(r, token, &d); err != nil {
		h.internalError(w, r, err)
		return
	}
	if !d.Usable() {
		if d.Invite == nil {
			f.Message = invalidInvite
		}
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
		// Used, canceled or expired meanwhile: say which, without the
		// form.
		if err := h.inviteLink(r, token, &d); err != nil {
			h.internalError(w, r, err)
			return
		}
		if d.State == "" {
			d.Invite, f.Message = nil, invalidInvite
		}
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
