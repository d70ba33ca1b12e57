package http_test

import (
	"fmt"
	"net/netip"
	"strings"
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
