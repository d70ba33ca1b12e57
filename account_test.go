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
