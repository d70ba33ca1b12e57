package web

import (
	"strings"

	"github.com/pihu-ai/pihu"
)

// The audit log in words: what an event did, as a sentence naming its
// target ("Rotated the key Billing service; the old key stops at …"),
// beside its action code, which stays shown for those who filter by it.

// actionWords are the sentences of the actions, with %s where the
// target's name goes ("" for those that name none).
var actionWords = map[string]string{
	pihu.ActionKeyCreated:              "Created the key %s",
	pihu.ActionKeyRevoked:              "Revoked the key %s",
	pihu.ActionKeyRotated:              "Rotated the key %s",
	pihu.ActionKeyLeaked:               "The key %s was found in public",
	pihu.ActionKeyUpdated:              "Changed the key %s",
	pihu.ActionKeyDisabled:             "Disabled the key %s",
	pihu.ActionKeyEnabled:              "Enabled the key %s",
	pihu.ActionTokenCreated:            "Minted an access token from the key %s",
	pihu.ActionUserSignedUp:            "Signed up",
	pihu.ActionUserLogin:               "Signed in",
	pihu.ActionUserLogout:              "Signed out",
	pihu.ActionUserLoginFailed:         "Failed to sign in: a wrong second factor",
	pihu.ActionUserTwoFactorEnabled:    "Turned on two-factor sign-in",
	pihu.ActionUserTwoFactorDisabled:   "Turned off two-factor sign-in",
	pihu.ActionUserRecoveryCodeUsed:    "Signed in with a recovery code",
	pihu.ActionUserSessionsRevoked:     "Signed out other sessions",
	pihu.ActionUserPasskeyAdded:        "Added a passkey",
	pihu.ActionUserPasskeyRenamed:      "Renamed a passkey",
	pihu.ActionUserPasskeyRemoved:      "Removed a passkey",
	pihu.ActionUserPasskeyUsed:         "Signed in with a passkey",
	pihu.ActionUserPasskeyFailed:       "Failed to sign in: a passkey that did not verify",
	pihu.ActionUserSSOLogin:            "Signed in through single sign-on",
	pihu.ActionUserSSOLinked:           "Joined the account through single sign-on",
	pihu.ActionUserSSOFailed:           "Failed to sign in through single sign-on",
	pihu.ActionUserInvited:             "Invited a member",
	pihu.ActionUserPasswordSet:         "Set a password",
	pihu.ActionUserJoined:              "Joined the account",
	pihu.ActionUserRemoved:             "Removed the member %s",
	pihu.ActionInviteCanceled:          "Canceled an invite",
	pihu.ActionInviteRegenerated:       "Made a new link for an invite",
	pihu.ActionUserRoleChanged:         "Changed the role of the member %s",
	pihu.ActionUserPasswordResetIssued: "Made a password reset link for the member %s",
	pihu.ActionUserPasswordReset:       "Reset their password with a link",
	pihu.ActionRoleCreated:             "Created the role %s",
	pihu.ActionRoleUpdated:             "Changed the role %s",
	pihu.ActionRoleDeleted:             "Deleted the role %s",
	pihu.ActionPermissionCreated:       "Defined the permission %s",
	pihu.ActionPermissionDeleted:       "Deleted the permission %s",
	pihu.ActionWebhookEndpointCreated:  "Added a webhook endpoint",
	pihu.ActionWebhookEndpointUpdated:  "Changed a webhook endpoint",
	pihu.ActionWebhookEndpointDeleted:  "Deleted a webhook endpoint",
	pihu.ActionWebhookEndpointDisabled: "Disabled a webhook endpoint",
	pihu.ActionAccountUpdated:          "Changed the account's settings",
}

// eventWords is ev in words, its target named name (its id if name is
// ""); an action without words is its code. k is the target key as it is
// now, if the target is a key: a rotation says when its old key stops.
func eventWords(ev *pihu.AuditEvent, name string, k *pihu.Key) string {
	words, ok := actionWords[ev.Action]
	if !ok {
		return ev.Action
	}
	if name == "" {
		name = ev.Target
	}
	s := strings.Replace(words, "%s", name, 1)
	switch {
	case ev.Action == pihu.ActionKeyUpdated && len(ev.Changes) > 0:
		s += ": " + strings.ReplaceAll(strings.Join(ev.Changes, ", "), "_", " ")
	case ev.Action == pihu.ActionKeyRotated && k != nil && k.Expires != nil && k.Revoked == nil:
		s += "; the old key stops at " + k.Expires.UTC().Format("2006-01-02 15:04 UTC")
	case ev.Action == pihu.ActionKeyRotated:
		s += "; the old key stopped"
	case ev.Action == pihu.ActionUserSSOFailed && len(ev.Changes) > 0:
		s += ": " + strings.ReplaceAll(strings.Join(ev.Changes, ", "), "_", " ")
	case ev.Action == pihu.ActionKeyLeaked && ev.Source != "":
		s += " (" + ev.Source + ")"
	}
	return s
}

// auditCategory is a choice of the audit log's filter: a name and the
// actions it shows (pihu.AuditFilter.Actions).
type auditCategory struct {
	Value, Label string
	Actions      []string
}

// auditCategories are the audit log's views; sign-ins have their own, so
// that they do not drown the changes to keys.
var auditCategories = []auditCategory{
	{"", "Everything", nil},
	{"keys", "API keys and tokens", []string{"api_key.*", "token.*"}},
	{"signins", "Sign-ins", []string{pihu.ActionUserLogin, pihu.ActionUserLoginFailed, pihu.ActionUserLogout, pihu.ActionUserSignedUp,
		pihu.ActionUserPasswordSet, pihu.ActionUserTwoFactorEnabled, pihu.ActionUserTwoFactorDisabled, pihu.ActionUserRecoveryCodeUsed,
		pihu.ActionUserSessionsRevoked, pihu.ActionUserPasskeyAdded, pihu.ActionUserPasskeyRenamed, pihu.ActionUserPasskeyRemoved,
		pihu.ActionUserPasskeyUsed, pihu.ActionUserPasskeyFailed, pihu.ActionUserSSOLogin, pihu.ActionUserSSOLinked, pihu.ActionUserSSOFailed}},
	{"team", "Team", []string{pihu.ActionUserInvited, pihu.ActionUserJoined, pihu.ActionUserRemoved, pihu.ActionInviteCanceled}},
	{"roles", "Roles and permissions", []string{"role.*", "permission.*"}},
	{"webhooks", "Webhooks", []string{"webhook_endpoint.*"}},
	{"account", "Account settings", []string{"account.*"}},
}
