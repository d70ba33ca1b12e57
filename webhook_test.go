package pihu_test

import (
	"net/url"
	"strings"
	"testing"

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
