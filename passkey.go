package pihu

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Passkeys: a person may register WebAuthn credentials (passkeys, security
// keys) and sign in with one, either after their password, as the second
// factor, or alone, the authenticator having verified them (a
// discoverable credential, found without an email). A passkey counts as a
// second factor where an account requires one.

// Passkey is one of a person's WebAuthn credentials. It holds no secret:
// the private key never leaves the authenticator, and the store keeps the
// public key and the counters the WebAuthn library checks (Credential).
type Passkey struct {
	ID     string // "pk_…"
	UserID string
	// Name is what the person calls it ("Laptop", "YubiKey"): 1 to
	// MaxPasskeyNameLength characters.
	Name string
	// CredentialID is the authenticator's id of the credential: unique
	// among every person's passkeys, it finds the passkey at sign-in.
	CredentialID []byte
	// Credential is the credential as the WebAuthn library keeps it (its
	// JSON: public key, signature counter, flags), updated at each use.
	Credential []byte
	Created    time.Time
	// LastUsed is when it last signed in; nil if never.
	LastUsed *time.Time
}

// PrefixPasskey starts a passkey's id.
const PrefixPasskey = "pk_"

// MaxPasskeys is how many passkeys one person may have.
const MaxPasskeys = 20

// MaxPasskeyNameLength bounds a passkey's name, in characters.
const MaxPasskeyNameLength = 64

// MaxCredentialLength bounds the stored form of a credential (a public key
// of the largest algorithm WebAuthn registers, and its flags, fit well).
const MaxCredentialLength = 8 << 10

// NormalizePasskeyName is name as a passkey keeps it, without surrounding
// spaces; "" becomes "Passkey". Returns EParameterInvalid (param name) for
// a name too long or holding control characters.
func NormalizePasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "Passkey", nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxPasskeyNameLength {
		return "", ParamErrorf(EParameterInvalid, "name", "A passkey's name is at most %d characters.", MaxPasskeyNameLength)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return "", ParamErrorf(EParameterInvalid, "name", "A passkey's name is one line of text.")
		}
	}
	return name, nil
}

// ErrTooManyPasskeys is a person registering a passkey beyond MaxPasskeys.
var ErrTooManyPasskeys = ParamErrorf(EParameterInvalid, "passkey", "You have %d passkeys, as many as one person may: remove one first.", MaxPasskeys)

// ErrPasskeyRegistered is a credential registered already (by anyone).
var ErrPasskeyRegistered = ParamErrorf(EParameterInvalid, "passkey", "This passkey is registered already.")

// PasskeyNotFound is a passkey that is not the person's.
func PasskeyNotFound(id string) *Error {
	return Errorf(ENotFound, "You have no passkey with the id %q.", id)
}

// HasSecondFactor reports whether the person signs in with a second
// factor: an authenticator app or a passkey.
func (u *User) HasSecondFactor() bool { return u.TwoFactor != nil || u.Passkeys > 0 }

// PasskeyStore keeps people's passkeys. It is safe for concurrent use.
type PasskeyStore interface {
	// CreatePasskey stores p, a new passkey of person p.UserID, and
	// records the events given, in one transaction. Returns ENotFound if
	// the person is not a member of account accountID,
	// ErrTooManyPasskeys if they have MaxPasskeys already, and
	// ErrPasskeyRegistered if a passkey has p's CredentialID.
	CreatePasskey(ctx context.Context, accountID string, p *Passkey, events ...*AuditEvent) error

	// ListPasskeys returns person userID's passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]*Passkey, error)

	// PasskeyByCredentialID returns the passkey of that credential id.
	// Returns ENotFound if there is none.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)

	// RenamePasskey names person userID's passkey id, and records the
	// events given, in one transaction. Returns ENotFound if the person
	// is not a member of account accountID or has no such passkey.
	RenamePasskey(ctx context.Context, accountID, userID, id, name string, events ...*AuditEvent) error

	// DeletePasskey removes person userID's passkey id, and records the
	// events given, in one transaction. Returns ENotFound if the person
	// is not a member of account accountID or has no such passkey.
	DeletePasskey(ctx context.Context, accountID, userID, id string, events ...*AuditEvent) error

	// UsePasskey records a sign-in with passkey id at the time at: its
	// credential as it is after (the counter moved on), and the events
	// given, in one transaction. Returns ENotFound if the passkey was
	// removed meanwhile, so that a passkey removed during a sign-in does
	// not end it.
	UsePasskey(ctx context.Context, id string, credential []byte, at time.Time, events ...*AuditEvent) error

	// PutPasskeyChallenge stores c, a challenge waiting for its answer,
	// after dropping the challenges expired at the time now and, of those
	// waiting, as many expiring first as keep max with c (the dashboard
	// gives MaxPasskeyChallenges). A challenge already stored is an error
	// (a new one is random).
	PutPasskeyChallenge(ctx context.Context, c *PasskeyChallenge, now time.Time, max int) error

	// TakePasskeyChallenge removes the challenge and returns it if it
	// waits at the time now (it expires after). Returns ENotFound
	// otherwise, removing it if it expired. Of any number of takes of
	// one challenge, on any number of instances, at most one returns it.
	TakePasskeyChallenge(ctx context.Context, challenge string, now time.Time) (*PasskeyChallenge, error)
}

// PasskeyChallenge is a ceremony's challenge (registering a passkey, or
// signing in with one) waiting for the authenticator's answer. It waits in
// the database, so that the answer may reach any instance, and is used
// once. It holds no secret: the challenge is sent to the browser, and only
// the authenticator's private key can sign it.
type PasskeyChallenge struct {
	// Challenge is the WebAuthn challenge, in base64url: random, and what
	// the answer names.
	Challenge string
	// Session is the WebAuthn library's record of the ceremony, as JSON.
	Session []byte
	// Register says that it registers a passkey (else it signs in).
	Register bool
	// UserID is the person registering, or the person whose sign-in waits
	// for its second factor; "" for a sign-in with any passkey.
	UserID string
	// SessionDigest is the digest of the dashboard session that began
	// it, which alone may end it; nil for none.
	SessionDigest []byte
	// Expires is when the challenge stops waiting.
	Expires time.Time
}

// PasskeyChallengeLifetime is how long a challenge waits for the
// authenticator's answer (the browser gives up after its own timeout,
// about as long).
const PasskeyChallengeLifetime = 5 * time.Minute

// MaxPasskeyChallenges bounds the challenges waiting at once; beyond it,
// those expiring first are dropped.
const MaxPasskeyChallenges = 10000

// MaxPasskeyChallengeLength bounds a challenge's text: an answer naming a
// longer one names none of ours (the library's are 43 characters).
const MaxPasskeyChallengeLength = 128
