package pihu_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// FuzzValidateWebhookURL: a URL it accepts is absolute, at most 2,048
// characters, without user information, and https unless its host is
// loopback; a rejection is EParameterInvalid on "url".
func FuzzValidateWebhookURL(f *testing.F) {
	for _, s := range []string{"https://example.com/hooks", "http://localhost:9/x", "http://127.0.0.5/x", "http://[::1]:8/x",
		"http://example.com/x", "http://10.0.0.1/", "https://u:p@example.com/", "ftp://x/", "/rel", "https://x/#f",
		"http://localhost.evil.com/", "http://127.0.0.1.nip.io/", "http://[::ffff:127.0.0.1]/", "HTTP://LOCALHOST/", "https:///x", "https://ex ample.com/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := pihu.ValidateWebhookURL(raw)
		if err != nil {
			rejected(t, raw, err, pihu.EParameterInvalid, "url")
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || !u.IsAbs() || u.Host == "" || u.User != nil || len(raw) > pihu.MaxWebhookURL || strings.ContainsAny(raw, " \t\n#") {
			t.Fatalf("%q accepted: %+v %v", raw, u, perr)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && pihu.LoopbackHost(u.Hostname())) {
			t.Fatalf("%q accepted with scheme %q and host %q", raw, u.Scheme, u.Hostname())
		}
	})
}

// TestWebhookEndpoint_Description: a description is text a person reads,
// checked as names are: no control character, no bidirectional control.
func TestWebhookEndpoint_Description(t *testing.T) {
	owner := &pihu.Key{AccountID: "acct_1", Environment: pihu.Live}
	for _, tt := range []struct {
		name, description string
		ok                bool
	}{
		{"Plain", "Security alerts", true},
		{"Empty", "", true},
		{"ErrNewline", "alerts\nfor ops", false},
		{"ErrEscape", "alerts\x1b[2J", false},
		{"ErrBidiOverride", "alerts \u202estrela", false},
		{"ErrIsolate", "\u2067alerts\u2069", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pihu.NewWebhookEndpoint(owner, "https://example.com/hooks", []string{"api_key.created"}, tt.description, true, time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC))
			if tt.ok {
				if err != nil {
					t.Errorf("NewWebhookEndpoint: %v", err)
				}
				return
			}
			rejected(t, tt.description, err, pihu.EParameterInvalid, "description")
		})
	}
}
