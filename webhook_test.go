package pihu_test

import (
	"errors"
	"net/netip"
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

// TestForbiddenWebhookAddress is the table of the addresses a delivery
// may and may not connect to, IPv6 forms that carry an IPv4 address
// (NAT64, 6to4, Teredo, IPv4-compatible, IPv4-mapped) judged by the IPv4
// address they lead to.
func TestForbiddenWebhookAddress(t *testing.T) {
	for _, tt := range []struct {
		ip                  string
		forbidden, loopback bool // loopback: the verdict with loopback allowed
	}{
		{"8.8.8.8", false, false},
		{"2606:4700::1111", false, false},
		{"10.0.0.1", true, true},
		{"169.254.169.254", true, true},
		{"127.0.0.1", true, false},
		{"::1", true, false},
		{"::", true, true},
		{"fd00::1", true, true},
		// IPv4-mapped: the IPv4 address itself.
		{"::ffff:10.0.0.1", true, true},
		{"::ffff:127.0.0.1", true, false},
		{"::ffff:8.8.8.8", false, false},
		// NAT64, well-known prefix: the last 32 bits.
		{"64:ff9b::10.0.0.1", true, true},
		{"64:ff9b::a9fe:a9fe", true, true}, // 169.254.169.254
		{"64:ff9b::127.0.0.1", true, true}, // a gateway's loopback, never ours
		{"64:ff9b::192.168.1.1", true, true},
		{"64:ff9b::8.8.8.8", false, false},
		// NAT64, local-use prefix: forbidden whole.
		{"64:ff9b:1::8.8.8.8", true, true},
		{"64:ff9b:1:abcd::a00:1", true, true},
		// 6to4: bits 16 to 47.
		{"2002:a00:1::1", true, true},    // 10.0.0.1
		{"2002:c0a8:101::", true, true},  // 192.168.1.1
		{"2002:7f00:1::1", true, true},   // 127.0.0.1
		{"2002:a9fe:a9fe::", true, true}, // 169.254.169.254
		{"2002:808:808::1", false, false},
		// IPv4-compatible (deprecated): the last 32 bits.
		{"::10.0.0.1", true, true},
		{"::127.0.0.1", true, true},
		{"::169.254.169.254", true, true},
		{"::8.8.8.8", false, false},
		// Teredo: server in bits 32 to 63, client in the last 32, inverted.
		{"2001:0:808:404::f5ff:fffe", true, true},   // client 10.0.0.1
		{"2001:0:808:404::80ff:fffe", true, true},   // client 127.0.0.1
		{"2001:0:808:404::5601:5601", true, true},   // client 169.254.169.254
		{"2001:0:a00:1::f7f7:f7f7", true, true},     // server 10.0.0.1
		{"2001:0:808:404::f7f7:f7f7", false, false}, // server 8.8.4.4, client 8.8.8.8
	} {
		ip := netip.MustParseAddr(tt.ip)
		if got := pihu.ForbiddenWebhookAddress(ip, false); got != tt.forbidden {
			t.Errorf("%s: forbidden %v, want %v", tt.ip, got, tt.forbidden)
		}
		if got := pihu.ForbiddenWebhookAddress(ip, true); got != tt.loopback {
			t.Errorf("%s with loopback allowed: forbidden %v, want %v", tt.ip, got, tt.loopback)
		}
	}
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

// TestParseWebhookSecretOverlap: "now" (and nothing) ends the old secret
// at once; a duration keeps it, up to 7 days; anything else is
// EParameterInvalid on "expire_old_in".
func TestParseWebhookSecretOverlap(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "now": 0, "30m": 30 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "1w": 7 * 24 * time.Hour} {
		if got, err := pihu.ParseWebhookSecretOverlap(in); err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"8d", "169h", "2w", "soon", "0h", "-1h", "Now", "24"} {
		_, err := pihu.ParseWebhookSecretOverlap(in)
		var e *pihu.Error
		if !errors.As(err, &e) || e.Code != pihu.EParameterInvalid || e.Param != "expire_old_in" {
			t.Errorf("%q: got %v, want EParameterInvalid on expire_old_in", in, err)
		}
	}
}

// TestDelivery_Describe: where a delivery stands, in words.
func TestDelivery_Describe(t *testing.T) {
	attempts := func(n int) []pihu.DeliveryAttempt { return make([]pihu.DeliveryAttempt, n) }
	for _, tt := range []struct {
		d    pihu.Delivery
		want string
	}{
		{pihu.Delivery{Status: pihu.DeliveryPending}, "pending"},
		{pihu.Delivery{Status: pihu.DeliveryPending, Attempts: attempts(3)}, "retrying (attempt 3 of 20)"},
		{pihu.Delivery{Status: pihu.DeliveryDelivered, Attempts: attempts(2)}, "delivered"},
		{pihu.Delivery{Status: pihu.DeliveryFailed, Attempts: attempts(20)}, "failed after 20 attempts"},
		{pihu.Delivery{Status: pihu.DeliveryFailed, Attempts: attempts(1)}, "failed after 1 attempt"},
		{pihu.Delivery{Status: pihu.DeliveryFailed}, "failed"},
	} {
		if got := tt.d.Describe(pihu.WebhookMaxAttempts); got != tt.want {
			t.Errorf("%s after %d attempts: got %q, want %q", tt.d.Status, len(tt.d.Attempts), got, tt.want)
		}
	}
}
