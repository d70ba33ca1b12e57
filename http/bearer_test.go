package http_test

import (
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, token, code string
	}{
		{"Bearer abc", "abc", ""},
		{"bearer abc", "abc", ""},
		{"BEARER   abc", "abc", ""},
		{"", "", pihu.EMissingAPIKey},
		{"Bearer", "", pihu.EMissingAPIKey},
		{"Bearer   ", "", pihu.EMissingAPIKey},
		{"Bearer eyJ.a-b_c~d+e/f==", "eyJ.a-b_c~d+e/f==", ""},
		{"Basic abc", "", pihu.EMissingAPIKey},
		{"Bearerabc", "", pihu.EMissingAPIKey},
		{"abc", "", pihu.EMissingAPIKey},
		{pihu.NewSecret(pihu.Live), "", pihu.EMissingAPIKey},
		{"Bearer a b", "", pihu.EParameterInvalid},
		{"Bearer a\tb", "", pihu.EParameterInvalid},
		{"Bearer a\"b", "", pihu.EParameterInvalid},
		{"Bearer ==", "", pihu.EParameterInvalid},
		{"Bearer é", "", pihu.EParameterInvalid},
		{"Bearer a, Bearer b", "", pihu.EParameterInvalid},
		{"Bearer a,b", "", pihu.EParameterInvalid},
		{"Bearer a,", "", pihu.EParameterInvalid},
	} {
		token, err := pihuhttp.BearerToken(tc.header)
		if token != tc.token || pihu.ErrorCode(err) != tc.code {
			t.Errorf("BearerToken(%q): got %q, %q; want %q, %q", tc.header, token, pihu.ErrorCode(err), tc.token, tc.code)
		}
	}
}

// FuzzBearerToken states the parser's property: for any header it either
// fails with EMissingAPIKey (no Bearer credentials: a plain challenge) or
// EParameterInvalid on Authorization (a malformed Bearer header: 400
// invalid_request), or returns a b64token that the header ends with,
// after the Bearer scheme (in any case) and spaces.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer " + pihu.NewSecret(pihu.Live), "bearer x", "Bearer", "Basic a", "", "Bearer  a b", "Bearer \x00", "Bearer a, Bearer b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, err := pihuhttp.BearerToken(header)
		if err != nil {
			c := pihu.ErrorCode(err)
			if c != pihu.EParameterInvalid && c != pihu.EMissingAPIKey {
				t.Fatalf("BearerToken(%q): code %q", header, c)
			}
			if token != "" {
				t.Fatalf("BearerToken(%q): token %q with an error", header, token)
			}
			return
		}
		if body := strings.TrimRight(token, "="); body == "" || strings.ContainsFunc(body, func(r rune) bool { return b64(r) < 0 }) {
			t.Fatalf("BearerToken(%q) = %q", header, token)
		}
		rest, ok := strings.CutSuffix(header, token)
		if !ok || len(rest) < len("Bearer ") || !strings.EqualFold(rest[:6], "Bearer") || strings.Trim(rest[6:], " ") != "" {
			t.Fatalf("BearerToken(%q) = %q: not the header's Bearer token", header, token)
		}
	})
}

// b64 maps the characters of a b64token's body to themselves, others to -1.
func b64(r rune) rune {
	if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~+/", r) {
		return r
	}
	return -1
}
