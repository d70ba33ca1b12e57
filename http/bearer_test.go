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
		{"Basic abc", "", pihu.EInvalidAPIKey},
		{"Bearerabc", "", pihu.EInvalidAPIKey},
		{"Bearer a b", "", pihu.EInvalidAPIKey},
		{"Bearer a\tb", "", pihu.EInvalidAPIKey},
		{"abc", "", pihu.EInvalidAPIKey},
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
// fails with EMissingAPIKey or EInvalidAPIKey (or EParameterInvalid for a
// header with a comma: two credentials), or returns a non-empty token
// without blanks or commas that the header ends with, after the Bearer
// scheme (in any case) and spaces.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer " + pihu.NewSecret(pihu.Live), "bearer x", "Bearer", "Basic a", "", "Bearer  a b", "Bearer \x00", "Bearer a, Bearer b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, err := pihuhttp.BearerToken(header)
		if err != nil {
			c := pihu.ErrorCode(err)
			if c == pihu.EParameterInvalid && !strings.Contains(header, ",") || c != pihu.EParameterInvalid && c != pihu.EMissingAPIKey && c != pihu.EInvalidAPIKey {
				t.Fatalf("BearerToken(%q): code %q", header, c)
			}
			if token != "" {
				t.Fatalf("BearerToken(%q): token %q with an error", header, token)
			}
			return
		}
		if token == "" || strings.ContainsAny(token, " \t,") {
			t.Fatalf("BearerToken(%q) = %q", header, token)
		}
		rest, ok := strings.CutSuffix(header, token)
		if !ok || len(rest) < len("Bearer ") || !strings.EqualFold(rest[:6], "Bearer") || strings.Trim(rest[6:], " ") != "" {
			t.Fatalf("BearerToken(%q) = %q: not the header's Bearer token", header, token)
		}
	})
}
