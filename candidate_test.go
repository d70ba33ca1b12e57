package pihu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func TestCandidate_Validate(t *testing.T) {
	for _, tt := range []struct {
		name, cname, email string
		wantCode           string
		wantParam          string
	}{
		{"Valid", "Ada Lovelace", "ada@example.com", "", ""},
		{"Name200Runes", strings.Repeat("ж", 200), "ada@example.com", "", ""},
		{"PlusAndSubdomain", "Ada", "ada+jobs@mail.example.co.uk", "", ""},
		{"ErrNameMissing", "", "ada@example.com", pihu.EParameterMissing, "name"},
		{"ErrNameBlank", "   ", "ada@example.com", pihu.EParameterInvalid, "name"},
		{"ErrName201Runes", strings.Repeat("ж", 201), "ada@example.com", pihu.EParameterInvalid, "name"},
		{"ErrEmailMissing", "Ada", "", pihu.EParameterMissing, "email"},
		{"ErrEmailNoAt", "Ada", "ada.example.com", pihu.EParameterInvalid, "email"},
		{"ErrEmailDisplayName", "Ada", "Ada <ada@example.com>", pihu.EParameterInvalid, "email"},
		{"ErrEmailAngleBrackets", "Ada", "<ada@example.com>", pihu.EParameterInvalid, "email"},
		{"ErrEmailSpaces", "Ada", " ada@example.com ", pihu.EParameterInvalid, "email"},
		{"ErrEmailTwo", "Ada", "ada@example.com, bob@example.com", pihu.EParameterInvalid, "email"},
		{"ErrEmailNoDotInDomain", "Ada", "ada@localhost", pihu.EParameterInvalid, "email"},
		{"ErrEmailComment", "Ada", "ada@example.com (Ada)", pihu.EParameterInvalid, "email"},
		{"ErrEmailTooLong", "Ada", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", pihu.EParameterInvalid, "email"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := pihu.Candidate{Name: tt.cname, Email: tt.email}
			err := c.Validate()
			if tt.wantCode == "" {
				assertNoError(t, err)
				return
			}
			assertError(t, err, tt.wantCode, tt.wantParam)
		})
	}
}

func TestNewCandidate(t *testing.T) {
	creator := &pihu.Key{ID: "key_x", AccountID: "acct_x", Environment: pihu.Test}
	now := time.Date(2024, 2, 20, 12, 0, 0, 999, time.FixedZone("CET", 3600))
	c, err := pihu.NewCandidate(creator, "Ada", "ada@example.com", now)
	assertNoError(t, err)
	if !strings.HasPrefix(c.ID, pihu.PrefixCandidate) || c.AccountID != "acct_x" || c.Environment != pihu.Test {
		t.Errorf("got %+v, want a cand_ id in the creator's account and environment", c)
	}
	if want := time.Date(2024, 2, 20, 11, 0, 0, 0, time.UTC); !c.Created.Equal(want) || c.Created.Location() != time.UTC || c.Created.Nanosecond() != 0 {
		t.Errorf("Created: got %v, want %v", c.Created, want)
	}
	_, err = pihu.NewCandidate(creator, "Ada", "nope", now)
	assertError(t, err, pihu.EParameterInvalid, "email")
}
