package http_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// loopback trusts the test client as a proxy: httptest's requests come
// from 127.0.0.1.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// TestProxies_TrustedByAddress: the trusted proxy header is believed only
// from a TCP peer in TrustedProxies. From any other peer it is the
// client's own writing: a forged X-Forwarded-For gets past neither
// allowed_ips nor the failed-authentication limit per address.
func TestProxies_TrustedByAddress(t *testing.T) {
	const forgedAddr = "203.0.113.7"
	proxied := func(proxies string) func(*pihuhttp.Options) {
		return func(o *pihuhttp.Options) {
			var err error
			o.TrustedProxyHeader = "X-Forwarded-For"
			if o.TrustedProxies, err = pihuhttp.ParseTrustedProxies(proxies); err != nil {
				t.Fatal(err)
			}
			o.FailedAuthLimit = ratelimit.PerMinute(3)
		}
	}
	xff := func(key, addr string) map[string]string {
		return map[string]string{"Authorization": bearer(key), "X-Forwarded-For": addr}
	}

	t.Run("UntrustedPeer", func(t *testing.T) {
		// The proxies are 10.0.0.0/8; the test client, 127.0.0.1, is not one.
		ts := newTestServer(t, proxied("10.0.0.0/8, 192.0.2.10"))
		there := ts.newKey(t, ts.Owner, `{"name":"there","permissions":["*"],"allowed_ips":["`+forgedAddr+`"]}`).Key
		here := ts.newKey(t, ts.Owner, `{"name":"here","permissions":["*"],"allowed_ips":["127.0.0.1"]}`).Key
		ts.run(t, []scenario{
			{name: "ErrForgedAllowedIP", method: "GET", path: "/v1/auth/whoami", headers: xff(there, forgedAddr), status: 403, code: "ip_not_allowed"},
			{name: "ErrForgedChain", method: "GET", path: "/v1/auth/whoami", headers: xff(there, forgedAddr+", 10.0.0.1"), status: 403, code: "ip_not_allowed"},
			{name: "PeerIsTheClient", method: "GET", path: "/v1/auth/whoami", headers: xff(here, forgedAddr), status: 200},
		})
		// Each guess claims a new address; all count against 127.0.0.1.
		for i, want := range []int{401, 401, 401, 429, 429} {
			r := ts.doWith(t, "GET", "/v1/auth/whoami", "", xff(forged(1)[0], fmt.Sprintf("198.51.100.%d", i+1)))
			if r.status != want {
				t.Errorf("wrong key %d from a new forged address: got %d, want %d", i+1, r.status, want)
			}
		}
		if logs := ts.logs.String(); strings.Contains(logs, "ip="+forgedAddr) || strings.Contains(logs, "ip=198.51.100.") {
			t.Errorf("the log shows a forged address:\n%s", logs)
		}
	})

	t.Run("TrustedPeer", func(t *testing.T) {
		ts := newTestServer(t, proxied("10.0.0.0/8, 127.0.0.1"))
		there := ts.newKey(t, ts.Owner, `{"name":"there","permissions":["*"],"allowed_ips":["`+forgedAddr+`"]}`).Key
		ts.run(t, []scenario{
			{name: "HeaderUsed", method: "GET", path: "/v1/auth/whoami", headers: xff(there, forgedAddr), status: 200},
			{name: "ChainOfTrustedProxies", method: "GET", path: "/v1/auth/whoami", headers: xff(there, "198.51.100.1, "+forgedAddr+", 10.0.0.1, 10.0.0.2"), status: 200},
			{name: "ErrLeftPartIsNotTheClient", method: "GET", path: "/v1/auth/whoami", headers: xff(there, forgedAddr+", 198.51.100.1"), status: 403, code: "ip_not_allowed"},
			{name: "ErrNoHeaderIsThePeer", method: "GET", path: "/v1/auth/whoami", key: there, status: 403, code: "ip_not_allowed"},
		})
		for i, want := range []int{401, 401, 401, 429} {
			if r := ts.doWith(t, "GET", "/v1/auth/whoami", "", xff(forged(1)[0], "198.51.100.1")); r.status != want {
				t.Errorf("wrong key %d from 198.51.100.1: got %d, want %d", i+1, r.status, want)
			}
		}
		if r := ts.doWith(t, "GET", "/v1/auth/whoami", "", xff(forged(1)[0], "198.51.100.2")); r.status != 401 {
			t.Errorf("wrong key from another client of the proxy: got %d, want 401", r.status)
		}
		if !strings.Contains(ts.logs.String(), "ip="+forgedAddr) {
			t.Error("the log does not show the address the trusted proxy gave")
		}
	})

	t.Run("HeaderWithoutProxiesPanics", func(t *testing.T) {
		defer func() {
			if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "TrustedProxies") {
				t.Errorf("New with a header and no proxies: got %v, want a panic naming TrustedProxies", v)
			}
		}()
		pihuhttp.New(pihuhttp.Options{TrustedProxyHeader: "X-Forwarded-For"})
	})
}

// warnings is a slog handler that keeps the messages of the records at
// Warn and above.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (h *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (h *warnings) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *warnings) WithGroup(string) slog.Handler            { return h }
func (h *warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		h.msgs = append(h.msgs, r.Message)
		h.mu.Unlock()
	}
	return nil
}

func (h *warnings) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.msgs)
}

// TestProxies_WarnWhenUntrusted: requests that came through a proxy (they
// carry X-Forwarded-For, Forwarded or X-Real-IP) while no proxy is
// trusted make the server warn, once, that every client behind the proxy
// shares one failed-authentication budget, and to set --trusted-proxies.
// With trusted proxies set, or without such headers, it says nothing.
func TestProxies_WarnWhenUntrusted(t *testing.T) {
	logged := func(options ...func(*pihuhttp.Options)) (*testServer, *warnings) {
		w := &warnings{}
		ts := newTestServer(t, append([]func(*pihuhttp.Options){func(o *pihuhttp.Options) { o.Logger = slog.New(w) }}, options...)...)
		return ts, w
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP"} {
		t.Run(h, func(t *testing.T) {
			ts, w := logged()
			value := "203.0.113.7"
			if h == "Forwarded" {
				value = "for=203.0.113.7"
			}
			ts.doWith(t, "GET", "/v1/auth/whoami", "", map[string]string{"Authorization": bearer(ts.Owner), h: value})
			ts.doWith(t, "GET", "/v1/candidates", "", map[string]string{"Authorization": bearer(ts.Owner), h: "198.51.100.9"})
			got := w.list()
			if len(got) != 1 {
				t.Fatalf("warnings for two proxied requests: got %d %q, want 1", len(got), got)
			}
			for _, want := range []string{h, "failed-authentication budget", "set --trusted-proxies"} {
				if !strings.Contains(got[0], want) {
					t.Errorf("warning %q: want it to say %q", got[0], want)
				}
			}
		})
	}
	t.Run("NoProxyHeader", func(t *testing.T) {
		ts, w := logged()
		ts.do(t, "GET", "/v1/auth/whoami", ts.Owner, "")
		if got := w.list(); len(got) != 0 {
			t.Errorf("warnings: got %q, want none", got)
		}
	})
	t.Run("TrustedProxiesSet", func(t *testing.T) {
		ts, w := logged(func(o *pihuhttp.Options) { o.TrustedProxyHeader, o.TrustedProxies = "X-Forwarded-For", loopback })
		ts.doWith(t, "GET", "/v1/auth/whoami", "", map[string]string{"Authorization": bearer(ts.Owner), "X-Forwarded-For": "203.0.113.7"})
		if got := w.list(); len(got) != 0 {
			t.Errorf("warnings: got %q, want none", got)
		}
	})
}
