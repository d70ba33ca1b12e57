package pihu

import "fmt"

// The conditions the stores return, each worded once here: a store says
// which thing it did not find (or which rule a write broke), and the API
// and the dashboard show the message as it is (ErrorMessage). A store
// never words an error a person reads itself.

// ErrNoKeyMatches is a key digest that no stored key has.
var ErrNoKeyMatches = Errorf(ENotFound, "No API key matches.")

// ErrNoUserWithEmail is an email that no person has.
var ErrNoUserWithEmail = Errorf(ENotFound, "No user has this email.")

// ErrSessionNotFound is a session digest that no live session has.
var ErrSessionNotFound = Errorf(ENotFound, "No such session.")

// ErrInviteInvalid is an invite token that matches no pending invite for
// the email that uses it.
var ErrInviteInvalid = Errorf(ENotFound, "This invite is not valid: it was used, canceled or replaced already, it has expired, it is for another email, or it was never issued.")

// ErrLinkInvalid is a sign-in or reset link that matches no unused one.
var ErrLinkInvalid = Errorf(ENotFound, "This link is not valid: it was used already, it has expired, or it was never issued. Ask for a new one.")

// ErrIdempotencyReservationGone is an Idempotency-Key whose reservation
// expired or was released before its request completed.
var ErrIdempotencyReservationGone = Errorf(ENotFound, "The reservation of this Idempotency-Key is gone.")

// ErrIdempotencyKeyUnknown is an Idempotency-Key with no record.
var ErrIdempotencyKeyUnknown = Errorf(ENotFound, "There is no record of this Idempotency-Key.")

// KeyNotFound is key id missing from the caller's account. The id is
// masked if it is shaped like a secret, since callers paste keys where ids
// belong.
func KeyNotFound(id string) *Error {
	return Errorf(ENotFound, "There is no API key %q in this account.", MaskSecrets(id))
}

// UnrevokedKeyNotFound is key id missing from the account, or revoked.
func UnrevokedKeyNotFound(id string) *Error {
	return Errorf(ENotFound, "There is no unrevoked API key %q in this account.", id)
}

// KeyIDNotFound is key id missing from every account.
func KeyIDNotFound(id string) *Error {
	return Errorf(ENotFound, "No API key has the id %q.", id)
}

// KeyAlreadyRotated is key id rotated already, to successor.
func KeyAlreadyRotated(id, successor string) *Error {
	return Errorf(EAlreadyRotated,
		"The API key %q has already been rotated (its successor is %s) and only works until its grace period ends; rotate %s instead.",
		id, successor, successor)
}

// AccountNotFound is an account id that no account has.
func AccountNotFound(id string) *Error {
	return Errorf(ENotFound, "No account has the id %q.", id)
}

// CandidateNotFound is candidate id missing from the caller's scope.
func CandidateNotFound(id string) *Error {
	return Errorf(ENotFound, "There is no candidate %q.", id)
}

// InterviewNotFound is interview id missing from the caller's scope.
func InterviewNotFound(id string) *Error {
	return Errorf(ENotFound, "There is no interview %q.", id)
}

// WebhookEndpointNotFound is endpoint id missing from the caller's scope.
func WebhookEndpointNotFound(id string) *Error {
	return Errorf(ENotFound, "There is no webhook endpoint %q.", id)
}

// DeliveryNotFound is delivery id missing from an endpoint of the
// caller's scope.
func DeliveryNotFound(id string) *Error {
	return Errorf(ENotFound, "This webhook endpoint has no delivery %q.", id)
}

// UserNotFound is a user id that no person has.
func UserNotFound(id string) *Error {
	return Errorf(ENotFound, "No user has the id %q.", id)
}

// MemberNotFound is a user id that is no member of the account.
func MemberNotFound(id string) *Error {
	return Errorf(ENotFound, "No user has the id %q in this account.", id)
}

// NotAMember is a person who is no member of account accountID.
func NotAMember(accountID string) *Error {
	return Errorf(ENotFound, "You are not a member of the account %q.", accountID)
}

// InviteNotFound is invite id not pending in the account.
func InviteNotFound(id string) *Error {
	return Errorf(ENotFound, "No pending invite has the id %q in this account.", id)
}

// EmailTaken is an email another person has: the sign-up or setup form
// shows it next to the field.
func EmailTaken(email string) *Error {
	return ParamErrorf(EParameterInvalid, "email", "A user with the email %q already exists; sign in instead, or use another address.", email)
}

// InterviewCandidateNotFound is an interview's candidate_id missing from
// the caller's scope.
func InterviewCandidateNotFound(id string) *Error {
	return ParamErrorf(EParameterInvalid, "candidate_id",
		"There is no candidate %q in this account and environment; create the candidate first with POST /v1/candidates.", MaskSecrets(id))
}

// ImportedKeyExists is the i-th key of an import whose hash a stored key
// has already.
func ImportedKeyExists(i int) *Error {
	return ParamErrorf(EKeyExists, fmt.Sprintf("keys[%d].hash", i),
		"keys[%d]: a key with this hash exists already; nothing was imported. Leave it out and import the others again.", i)
}

// ErrBothCursors is a page asked for with starting_after and
// ending_before at once.
var ErrBothCursors = ParamErrorf(EParameterInvalid, "ending_before",
	"Give starting_after (the next page) or ending_before (the previous page), not both.")

// UnknownCursor is the cursor id, given as param ("starting_after" or
// "ending_before"), that is not the id of one of items (a list's items:
// "this account's API keys").
func UnknownCursor(param, id, items string) *Error {
	which, page := "last", "previous"
	if param == "ending_before" {
		which, page = "first", "next"
	}
	return ParamErrorf(EParameterInvalid, param,
		"%q is not the id of one of %s; give the id of the %s item of the %s page.", MaskSecrets(id), items, which, page)
}
