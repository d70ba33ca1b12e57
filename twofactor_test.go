package pihu_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// Recovery codes: ten, each three groups of four, all different, and
// typed back in any case, with or without dashes and spaces, each has
// the digest of the code shown; a digest is one person's.
func TestRecoveryCodes(t *testing.T) {
	codes := pihu.NewRecoveryCodes()
	if len(codes) != pihu.RecoveryCodeCount {
		t.Fatalf("got %d codes, want %d", len(codes), pihu.RecoveryCodeCount)
	}
	shape := regexp.MustCompile(`^[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !shape.MatchString(c) {
			t.Errorf("code %q: not three groups of four", c)
		}
		if seen[c] {
			t.Errorf("code %q twice", c)
		}
		seen[c] = true
		want := pihu.RecoveryCodeDigest("user_a", c)
		for _, typed := range []string{strings.ToUpper(c), strings.ReplaceAll(c, "-", ""), strings.ReplaceAll(c, "-", " ")} {
			if !bytes.Equal(pihu.RecoveryCodeDigest("user_a", typed), want) {
				t.Errorf("%q typed as %q: another digest", c, typed)
			}
		}
		if bytes.Equal(pihu.RecoveryCodeDigest("user_b", c), want) {
			t.Errorf("code %q: the same digest for two people", c)
		}
	}
	for _, bad := range []string{"", "abcd-efgh", "abcd-efgh-jkmn-p", "abcd-efgh-jkm0", "123456", "abcd_efgh_jkmn"} {
		if _, ok := pihu.NormalizeRecoveryCode(bad); ok {
			t.Errorf("NormalizeRecoveryCode(%q): accepted", bad)
		}
	}
}

func TestUser_SignInMethods(t *testing.T) {
	if got := (&pihu.User{}).SignInMethods(); got == nil || len(got) != 0 {
		t.Errorf("without a password: got %#v, want []", got)
	}
	u := &pihu.User{PasswordHash: "$argon2id$"}
	if got := strings.Join(u.SignInMethods(), ","); got != "password" {
		t.Errorf("without two-factor: got %s", got)
	}
	now := u.Created
	u.TwoFactor = &now
	if got := strings.Join(u.SignInMethods(), ","); got != "password,totp" {
		t.Errorf("with two-factor: got %s", got)
	}
}
