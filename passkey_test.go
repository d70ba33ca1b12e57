package pihu

import (
	"strings"
	"testing"
	"time"
)

func TestNormalizePasskeyName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  Laptop ", "Laptop", true},
		{"", "Passkey", true},
		{"Clé de Zoë", "Clé de Zoë", true},
		{strings.Repeat("é", MaxPasskeyNameLength), strings.Repeat("é", MaxPasskeyNameLength), true},
		{strings.Repeat("a", MaxPasskeyNameLength+1), "", false},
		{"two\nlines", "", false},
		{"bad\xffutf8", "", false},
	} {
		got, err := NormalizePasskeyName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizePasskeyName(%q): got %q, %v, want %q (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && ErrorCode(err) != EParameterInvalid {
			t.Errorf("NormalizePasskeyName(%q): got code %s, want %s", tc.in, ErrorCode(err), EParameterInvalid)
		}
	}
}

func TestUser_SignInMethodsPasskey(t *testing.T) {
	u := &User{PasswordHash: "$argon2id$", Passkeys: 2}
	if got := strings.Join(u.SignInMethods(), ","); got != "password,passkey" || !u.HasSecondFactor() {
		t.Errorf("got %s, %v, want password,passkey and a second factor", got, u.HasSecondFactor())
	}
	now := time.Now()
	u = &User{PasswordHash: "$argon2id$", TwoFactor: &now}
	if got := strings.Join(u.SignInMethods(), ","); got != "password,totp" || !u.HasSecondFactor() {
		t.Errorf("got %s, want password,totp", got)
	}
	if (&User{}).HasSecondFactor() {
		t.Error("a person with neither has a second factor")
	}
}
