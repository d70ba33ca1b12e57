package pihu

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"
)

// Two-factor sign-in: a person may add an authenticator app (TOTP, RFC
// 6238) to their password. They get RecoveryCodeCount recovery codes with
// it, shown once and kept only as digests, each working once in place of
// the app's code. An account may require a second factor of every member
// (Account.TwoFactorRequired).

// RecoveryCodeCount is how many recovery codes a person gets when they
// enrol an authenticator app.
const RecoveryCodeCount = 10

// recoveryAlphabet is the alphabet of recovery codes: lower-case letters
// and digits without the ones read alike (0 o 1 l i).
const recoveryAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// recoveryCodeLength is how many characters of recoveryAlphabet a code
// has: 12, about 59 bits, shown in three groups of four.
const recoveryCodeLength = 12

// NewRecoveryCodes returns RecoveryCodeCount new random recovery codes,
// each as it is shown ("abcd-efgh-jkmn").
func NewRecoveryCodes() []string {
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		var b strings.Builder
		for j := range recoveryCodeLength {
			if j > 0 && j%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[randIndex(len(recoveryAlphabet))])
		}
		codes[i] = b.String()
	}
	return codes
}

// randIndex is a uniformly random index below n (n ≤ 256), from
// crypto/rand.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// NormalizeRecoveryCode is a recovery code as typed, in the form its
// digest is taken of: lower-cased, without spaces and dashes. ok is false
// for text that cannot be a recovery code.
func NormalizeRecoveryCode(s string) (code string, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ':
		case r < 128 && strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != recoveryCodeLength {
		return "", false
	}
	return b.String(), true
}

// RecoveryCodeDigest is what the store keeps of person userID's recovery
// code: a SHA-256 of the person's id and the normalised code, so that the
// same code of two people is kept differently and a table of digests
// serves one person only.
func RecoveryCodeDigest(userID, code string) []byte {
	norm, ok := NormalizeRecoveryCode(code)
	if !ok {
		norm = code
	}
	h := sha256.New()
	h.Write([]byte("pihu recovery code\x00" + userID + "\x00" + norm))
	return h.Sum(nil)
}

// ErrEnrolFirst is the answer to an owner requiring two-factor of the
// account before enrolling an authenticator app or a passkey themselves: they would be
// sent to enrol at once, so they enrol first.
var ErrEnrolFirst = ParamErrorf(EParameterInvalid, "two_factor_required", "Add an authenticator app or a passkey to your own sign-in first: then require it of every member.")

// ChangeTwoFactorRequired sets whether account a requires a second factor
// of every member, through store, the one way every door changes it: if
// it is a's setting already, nothing is written or recorded; otherwise the
// change is recorded as account.updated (changes two_factor_required) by
// actor (a user or key id) from ip, at the time at. It returns the account
// as it is after, and whether it changed. Returns SetTwoFactorRequired's
// errors.
func ChangeTwoFactorRequired(ctx context.Context, store UserStore, a *Account, required bool, actor, ip string, at time.Time) (*Account, bool, error) {
	if a.TwoFactorRequired == required {
		return a, false, nil
	}
	next, err := store.SetTwoFactorRequired(ctx, a.ID, required, NewAccountEvent(actor, ip, a, []string{"two_factor_required"}, at))
	if err != nil {
		return nil, false, err
	}
	return next, true, nil
}
