package pihu

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Audit actions: what happened to the target of an AuditEvent.
const (
	ActionKeyCreated = "api_key.created"
	ActionKeyRevoked = "api_key.revoked"
	ActionKeyRotated = "api_key.rotated"
	ActionKeyLeaked  = "api_key.leaked"
	ActionKeyUpdated = "api_key.updated"
	// ActionKeyDisabled and ActionKeyEnabled are a key disabled or
	// enabled again (PATCH enabled): recorded when its state changes
	// only, beside an api_key.updated of the other fields the same change
	// gives, if any.
	ActionKeyDisabled = "api_key.disabled"
	ActionKeyEnabled  = "api_key.enabled"

	// Dashboard users: their target is the user, or for an invite the
	// invite ("inv_…"), which names no user until it is accepted.
	ActionUserSignedUp    = "user.signed_up"
	ActionUserLogin       = "user.login"
	ActionUserLogout      = "user.logout"
	ActionUserInvited     = "user.invited"
	ActionUserPasswordSet = "user.password_set"
	// ActionUserJoined is an invite accepted: the target is the user who
	// joined the account.
	ActionUserJoined = "user.joined"
	// ActionUserRemoved is a member removed from the account by an owner.
	ActionUserRemoved = "user.removed"
	// ActionInviteCanceled is a pending invite canceled by an owner (or
	// replaced by a new invite of the same email).
	ActionInviteCanceled = "user.invite_canceled"
	// ActionInviteRegenerated is a pending invite replaced by a new link
	// (the target is the new invite; the old link stops working).
	ActionInviteRegenerated = "user.invite_regenerated"
	// ActionUserRoleChanged is a member's role changed by an owner or an
	// admin; Changes is ["role"].
	ActionUserRoleChanged = "user.role_changed"
	// ActionUserPasswordResetIssued is a password reset link issued for a
	// member by an owner or an admin; ActionUserPasswordReset is the
	// link used, by the member, who sets a new password.
	ActionUserPasswordResetIssued = "user.password_reset_issued"
	ActionUserPasswordReset       = "user.password_reset"
	// ActionUserLoginFailed is a sign-in whose password was right and
	// whose second factor was not.
	ActionUserLoginFailed = "user.login_failed"
	// ActionUserTwoFactorEnabled and ActionUserTwoFactorDisabled are a
	// person enrolling an authenticator app, and removing it.
	ActionUserTwoFactorEnabled  = "user.two_factor_enabled"
	ActionUserTwoFactorDisabled = "user.two_factor_disabled"
	// ActionUserRecoveryCodeUsed is a sign-in with a recovery code instead
	// of the authenticator app's code.
	ActionUserRecoveryCodeUsed = "user.recovery_code_used"
	// ActionUserPasskeyAdded, ActionUserPasskeyRenamed and
	// ActionUserPasskeyRemoved are a person registering a passkey,
	// renaming one and removing one; ActionUserPasskeyUsed is a sign-in
	// with one (beside user.login), and ActionUserPasskeyFailed a passkey
	// of the person's that did not verify.
	ActionUserPasskeyAdded   = "user.passkey_added"
	ActionUserPasskeyRenamed = "user.passkey_renamed"
	ActionUserPasskeyRemoved = "user.passkey_removed"
	ActionUserPasskeyUsed    = "user.passkey_used"
	ActionUserPasskeyFailed  = "user.passkey_failed"
	// ActionUserSessionsRevoked is a person signing out one of their
	// other sessions, or all of them, from the Account page.
	ActionUserSessionsRevoked = "user.sessions_revoked"
	// ActionUserSSOLogin is a sign-in through an OpenID Connect provider
	// (beside user.login); ActionUserSSOLinked is a person the provider
	// vouched for made a member on their first sign-in through it (the
	// target is the new member); ActionUserSSOFailed is a sign-in through
	// a provider that was refused: Changes names why (state, nonce,
	// email_verified, domain, provider, member, sso_required), never the
	// values. Their target is the member, or "" when none is known.
	ActionUserSSOLogin  = "user.sso_login"
	ActionUserSSOLinked = "user.sso_linked"
	ActionUserSSOFailed = "user.sso_failed"
)

// ActorAnonymous is the actor of a change made without a key or a user:
// a report of leaked keys, where holding the key is the right to revoke it.
// (GitHub's secret scanning reports are ActorGitHubSecretScanning's.)
const ActorAnonymous = "anonymous"

// ActorOperator is the actor of a change made at the database by whoever
// runs pihu there, with no key: the owner key of the first start, of
// `pihu accounts create` and of `pihu accounts recover`. Its events have no
// client address (IP "").
const ActorOperator = "operator"

// AuditEvent records one change to a key: who (Actor, from IP) did what
// (Action) to which key (Target), and when. It never holds a secret.
type AuditEvent struct {
	ID        string // "evt_…"
	AccountID string
	// Environment is the target key's: a test key sees only the events
	// of test keys. "" for an event about no key (such as a sign-in).
	Environment Environment
	Action      string // one of the Action… constants
	// Actor is the id of the key (or user) that made the change, or
	// ActorAnonymous or ActorOperator.
	Actor   string
	Target  string // the id of the key changed
	IP      string // the client address the change came from
	Created time.Time
	// Changes names the fields an api_key.updated (or account.updated)
	// event changed (never their values); nil for other events.
	Changes []string
	// URL and Source say, for an api_key.leaked event, where the key was
	// found, as the report said it ("" when it did not); "" for other
	// events.
	URL, Source string
}

// NewAuditEvent returns the event of actor, at client address ip, doing
// action to key target at the time at.
func NewAuditEvent(action, actor, ip string, target *Key, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID:          NewID(PrefixEvent),
		AccountID:   target.AccountID,
		Environment: target.Environment,
		Action:      action,
		Actor:       actor,
		Target:      target.ID,
		IP:          ip,
		Created:     Timestamp(at),
	}
}

// AuditFilter selects a page of an account's audit events, newest first.
type AuditFilter struct {
	AccountID string
	// Environment, if set, limits the page to events of that
	// environment.
	Environment Environment
	// Target, if set, limits the page to events about that key (or
	// user): a key's history, as the dashboard's key page shows it.
	Target string
	// Targets, if not nil, limits the page to events about one of these
	// keys (or users); empty: none matches (a key name that names no key).
	Targets []string
	// Actions, if any, limit the page to events of one of these actions
	// (see ParseAuditActions): an action ending in ".*" stands for every
	// action of its resource, such as "user.*".
	Actions []string
	// Actor, if set, limits the page to events made by that key or user
	// (or ActorOperator, ActorAnonymous).
	Actor string
	// Since and Until, if not zero, limit the page to events created at
	// or after Since and before Until.
	Since, Until time.Time
	// Limit is the page size, 1 to 100.
	Limit int
	// StartingAfter is the id of the event the page starts after (""
	// for the first page): the page holds the Limit events next older
	// than it.
	StartingAfter string
	// EndingBefore is the id of the event the page ends before, as in
	// Page: the Limit events next newer than it, newest first, and
	// hasMore reports whether newer ones remain. Giving both is
	// EParameterInvalid on "ending_before".
	EndingBefore string
}

// MaxAuditActions is how many actions one filter may name.
const MaxAuditActions = 20

// auditAction is the shape of an action, or of a resource's actions
// ("user.*"): lower-case words joined by underscores, a dot between the
// resource and the action.
var auditAction = regexp.MustCompile(`^[a-z][a-z_]*\.([a-z][a-z_]*|\*)$`)

// ParseAuditActions reads a list of actions separated by commas, such as
// "api_key.revoked,user.*", for the filter on param. Any action of that
// shape is taken, known or not (a filter of an action that never happened
// matches nothing): the list of actions grows with the product. Returns
// EParameterInvalid on param for a malformed one, or too many.
func ParseAuditActions(s, param string) ([]string, error) {
	actions := strings.Split(s, ",")
	if len(actions) > MaxAuditActions {
		return nil, ParamErrorf(EParameterInvalid, param, "Give at most %d actions, separated by commas.", MaxAuditActions)
	}
	for i, a := range actions {
		a = strings.TrimSpace(a)
		if !auditAction.MatchString(a) {
			return nil, ParamErrorf(EParameterInvalid, param, "%q is not an action: give actions such as api_key.revoked, or every action of a resource such as user.*, separated by commas.", MaskSecrets(a))
		}
		actions[i] = a
	}
	return actions, nil
}

// MatchAction reports whether action is one that the filter's pattern
// names: the action itself, or every action of its resource ("user.*").
func MatchAction(pattern, action string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(action, prefix)
	}
	return pattern == action
}

// Validate checks f's time range: Until after Since. Returns
// EParameterInvalid on param.
func (f *AuditFilter) Validate(param string) error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return ParamErrorf(EParameterInvalid, param, "The end of the range must come after its start.")
	}
	return nil
}

// AuditStore keeps the audit log. Events are written by the KeyStore
// methods that change keys, in the same transaction as the change, so that
// the log holds a change exactly when it happened; this interface only
// reads them. Implementations are safe for concurrent use.
type AuditStore interface {
	// ListAuditEvents returns a page of events, newest first (in the order
	// they were recorded), and whether more follow. A Limit out of 1 to
	// 100 means 10 if below, 100 if above. Returns EParameterInvalid on
	// "starting_after" or "ending_before" if that id is not one of the
	// account's events, or on "ending_before" if both are given (see
	// AuditFilter.EndingBefore for what hasMore means then).
	ListAuditEvents(ctx context.Context, f AuditFilter) (events []*AuditEvent, hasMore bool, err error)
}

// NewInviteEvent returns the event of actor (a user id), at client address
// ip, doing action to the invite inv at the time at, in inv's account. It
// belongs to no environment: only lists of both show it.
func NewInviteEvent(action, actor, ip string, inv *Invite, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID:        NewID(PrefixEvent),
		AccountID: inv.AccountID,
		Action:    action,
		Actor:     actor,
		Target:    inv.ID,
		IP:        ip,
		Created:   Timestamp(at),
	}
}

// NewUserEvent returns the event of actor (a user id, or ActorOperator),
// at client address ip, doing action to the dashboard user target at the
// time at, in target's account. It belongs to no environment: only lists
// of both show it.
func NewUserEvent(action, actor, ip string, target *User, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID:        NewID(PrefixEvent),
		AccountID: target.AccountID,
		Action:    action,
		Actor:     actor,
		Target:    target.ID,
		IP:        ip,
		Created:   Timestamp(at),
	}
}
