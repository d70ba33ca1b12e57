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
