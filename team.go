package pihu

import "time"

// The rules of managing a team's members: changing their roles and
// resetting their passwords. Stores apply them inside the transaction
// that makes the change, to the roles as that transaction reads them, so
// that a member demoted or removed while their form was on its way
// changes nothing.

// CanManageMembers reports whether r may change members' roles and issue
// password reset links: an owner or an admin.
func (r Role) CanManageMembers() bool { return r == RoleOwner || r == RoleAdmin }

// rank orders the roles by what they may do: an owner holds everything an
// admin does, an admin everything a viewer does.
func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Holds reports whether r may do everything other may.
func (r Role) Holds(other Role) bool { return r.rank() >= other.rank() }

// CheckRoleChange is the rule of a member whose role is actor changing a
// member whose role is from to role to, in an account with owners owners
// (the member included): only owners and admins change roles; nobody
// grants a role above their own, nor changes the role of a member above
// them (an admin neither makes nor unmakes owners); and the last owner
// stays one. Returns EParameterInvalid on "role" for a role that is none
// of the three, EInsufficientPermissions for the rest.
func CheckRoleChange(actor, from, to Role, owners int) error {
	switch {
	case !to.Valid():
		return ParamErrorf(EParameterInvalid, "role", "Choose owner, admin or viewer.")
	case !actor.CanManageMembers():
		return Errorf(EInsufficientPermissions, "Only the account's owners and admins change members' roles.")
	case !actor.Holds(to):
		return Errorf(EInsufficientPermissions, "You are %s: you may not make anyone %s, a role above your own.", actor, to)
	case !actor.Holds(from):
		return Errorf(EInsufficientPermissions, "This member is %s, a role above your own (%s): only an owner changes it.", from, actor)
	case from == RoleOwner && to != RoleOwner && owners <= 1:
		return Errorf(EParameterInvalid, "An account keeps at least one owner: this is its only one. Make another member an owner first.")
	}
	return nil
}

// CheckPasswordReset is the rule of a member whose role is actor issuing
// (or, later, a link of theirs being used for) a password reset of a
// member whose role is target, who has a password to reset (set) and
// belongs to elsewhere other accounts: only owners and admins reset
// passwords, and only an owner resets an owner's. A person's password
// opens every account they belong to, so that a reset issued in one
// account could take over their others: a member who belongs to other
// accounts too resets nothing from here (EInsufficientPermissions).
// Returns EParameterInvalid for a member who has no password yet (the
// first start's owner before the setup link), EInsufficientPermissions
// for the rest.
func CheckPasswordReset(actor, target Role, set bool, elsewhere int) error {
	switch {
	case !actor.CanManageMembers():
		return Errorf(EInsufficientPermissions, "Only the account's owners and admins reset members' passwords.")
	case target == RoleOwner && actor != RoleOwner:
		return Errorf(EInsufficientPermissions, "Only an owner resets an owner's password.")
	case !set:
		return Errorf(EParameterInvalid, "This member has not set up their sign-in yet, so there is no password to reset: they use the setup link the server gave at its first start.")
	case elsewhere > 0:
		return Errorf(EInsufficientPermissions, "This member signs in to other accounts too, with the same password, so it cannot be reset from this one: they change it on their Account page, or an owner of each account they belong to removes and invites them again.")
	}
	return nil
}

// PrefixPasswordReset starts a password reset's id.
const PrefixPasswordReset = "pwr_"

// PasswordReset is a one-time link, issued by an owner or admin, with
// which a member sets a new password: the server sends no mail, so the
// issuer hands the link over, as they do an invite's. Only the SHA-256 of
// its token is kept. It works once, until Expires, and while its issuer
// may still reset the member's password (CheckPasswordReset); a newer
// reset of the same member replaces it.
type PasswordReset struct {
	ID        string // "pwr_…"
	AccountID string
	UserID    string
	// Email is the member's, when the link was issued (for the page the
	// link opens, which names it).
	Email string
	// Digest is the SHA-256 of the link's token.
	Digest []byte
	// CreatedBy is the id of the member who issued it.
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	// Used and Canceled are when the link was used, or replaced by a
	// newer one (or its member removed); nil while it was not.
	Used, Canceled *time.Time
}

// LinkState is what a one-time link (an invite's, a password reset's)
// can be used for now: "" if it can, or why not.
type LinkState string

// The states of a one-time link that cannot be used.
const (
	LinkUsed     LinkState = "used"
	LinkCanceled LinkState = "canceled"
	LinkExpired  LinkState = "expired"
)

// linkState is the state at the time at of a link used at used, canceled
// at canceled and expiring at expires, and when it came to it.
func linkState(used, canceled *time.Time, expires, at time.Time) (LinkState, *time.Time) {
	switch {
	case used != nil:
		return LinkUsed, used
	case canceled != nil:
		return LinkCanceled, canceled
	case !at.Before(expires):
		return LinkExpired, &expires
	}
	return "", nil
}

// State is what the reset link can be used for at the time at, and since
// when it cannot.
func (p *PasswordReset) State(at time.Time) (LinkState, *time.Time) {
	return linkState(p.Used, p.Canceled, p.Expires, at)
}

// State is what the invite's link can be used for at the time at, and
// since when it cannot.
func (inv *Invite) State(at time.Time) (LinkState, *time.Time) {
	return linkState(inv.Accepted, inv.Canceled, inv.Expires, at)
}

// NewPasswordResetEvent returns the event of actor (a user id), at client
// address ip, doing action to the member p resets, at the time at.
func NewPasswordResetEvent(action, actor, ip string, p *PasswordReset, at time.Time) *AuditEvent {
	return NewUserEvent(action, actor, ip, &User{ID: p.UserID, AccountID: p.AccountID}, at)
}

// ErrResetInvalid is the answer to a password reset link that is not
// pending: used, replaced, expired, never issued, or whose issuer may no
// longer reset the member's password.
var ErrResetInvalid = Errorf(ENotFound, "This password reset link is not valid: it was used or replaced already, it has expired, or it was never issued. Ask an owner or admin of your account for a new one.")
