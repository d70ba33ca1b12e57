package pihu_test

import (
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

func TestAccount_Validate(t *testing.T) {
	for _, tt := range []struct {
		name      string
		account   pihu.Account
		wantCode  string
		wantParam string
	}{
		{"Valid", pihu.Account{Name: "Acme"}, "", ""},
		{"Name100Runes", pihu.Account{Name: strings.Repeat("ж", 100)}, "", ""},
		{"ErrNameMissing", pihu.Account{}, pihu.EParameterMissing, "name"},
		{"ErrName101Runes", pihu.Account{Name: strings.Repeat("ж", 101)}, pihu.EParameterInvalid, "name"},
		// The rules of a key's name (pihu.ValidateKeyName).
		{"ErrNameControl", pihu.Account{Name: "Acme\nInc"}, pihu.EParameterInvalid, "name"},
		{"ErrNameTab", pihu.Account{Name: "Acme\tInc"}, pihu.EParameterInvalid, "name"},
		{"ErrNameBidiOverride", pihu.Account{Name: "Acme \u202eInc"}, pihu.EParameterInvalid, "name"},
		{"ErrNameInvisible", pihu.Account{Name: "\u200b \u3164"}, pihu.EParameterInvalid, "name"},
		{"NameWithJoiner", pihu.Account{Name: "👩\u200d💻 Labs"}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.account.Validate()
			if tt.wantCode == "" {
				assertNoError(t, err)
				return
			}
			assertError(t, err, tt.wantCode, tt.wantParam)
		})
	}
}

// An account that requires SSO opens to SSO alone; any other account to
// every method.
func TestCheckSignIn(t *testing.T) {
	open := &pihu.Account{Name: "Acme"}
	sso := &pihu.Account{Name: "Acme", SSORequired: true}
	for _, m := range []pihu.SignInMethod{pihu.SignInPassword, pihu.SignInPasskey, pihu.SignInSSO} {
		if err := pihu.CheckSignIn(open, m); err != nil {
			t.Errorf("CheckSignIn(open, %s): got %v, want nil", m, err)
		}
		err := pihu.CheckSignIn(sso, m)
		if (err == nil) != (m == pihu.SignInSSO) {
			t.Errorf("CheckSignIn(sso, %s): got %v", m, err)
		}
		if err != nil && pihu.ErrorCode(err) != pihu.EInsufficientPermissions {
			t.Errorf("CheckSignIn(sso, %s): got code %s", m, pihu.ErrorCode(err))
		}
	}
}
