package webhook_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/webhook"
)

// TestDispatcher_ErrorsNameNoAddress delivers to endpoints that fail in
// each way a delivery can, and reads what their account sees of each
// attempt: the failure in words, and no address, neither of pihu's
// resolver nor the one an endpoint's name resolved to (which may be of
// pihu's own network: telling it would map that network for anyone who
// can create an endpoint).
func TestDispatcher_ErrorsNameNoAddress(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	acct := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Acme", Created: epoch}
	owner, _, err := pihu.NewKey(acct.ID, pihu.OwnerKeyRequest(), nil, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAccount(t.Context(), acct, owner); err != nil {
		t.Fatal(err)
	}

	dns := fakeDNSByName(t, func(name string) net.IP {
		if name == "internal.example.com." {
			return net.IPv4(10, 1, 2, 3)
		}
		return nil // every other name: no such host
	})
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns)
	}}
	closed := closedPort(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(plain.Close)
	selfSigned := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(selfSigned.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	t.Cleanup(failing.Close)

	want := map[string]string{ // URL: the error its account reads
		"https://internal.example.com/hook":                   "refused: the host resolves to a private, link-local, multicast or reserved address",
		"https://nowhere.example.com/hook":                    "could not resolve the host: no such host",
		"http://127.0.0.1:" + closed + "/hook":                "connection refused",
		"https://" + plain.Listener.Addr().String() + "/hook": "TLS error: the endpoint does not speak TLS (is it an http:// URL?)",
		selfSigned.URL + "/hook":                              "TLS error: the certificate is signed by an unknown authority",
		failing.URL + "/hook":                                 "the endpoint answered 502",
	}
	endpoints := map[string]*pihu.WebhookEndpoint{}
	for u := range want {
		e, err := pihu.NewWebhookEndpoint(owner, u, []string{pihu.EventKeyCreated}, "", true, epoch)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if err := store.CreateWebhookEndpoint(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		endpoints[u] = e
	}
	ev, err := pihu.NewKeyEvent("", pihu.EventKeyCreated, owner, false, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.EmitWebhookEvent(t.Context(), ev, ""); err != nil {
		t.Fatal(err)
	}
	d := &webhook.Dispatcher{Store: store, Now: func() time.Time { return epoch }, Client: webhook.NewClientWithResolver(true, resolver),
		Logger: slog.New(slog.DiscardHandler)}
	if n, err := d.RunOnce(t.Context()); err != nil || n != len(want) {
		t.Fatalf("RunOnce: sent %d, %v; want %d", n, err, len(want))
	}

	addresses := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|\[|::`)
	for u, e := range endpoints {
		ds, _, err := store.ListDeliveries(t.Context(), pihu.ScopeOf(owner), e.ID, pihu.Page{Limit: 10})
		if err != nil || len(ds) != 1 || len(ds[0].Attempts) != 1 {
			t.Fatalf("%s: deliveries %v, %v", u, ds, err)
		}
		got := ds[0].Attempts[0].Error
		if got != want[u] {
			t.Errorf("%s: error %q, want %q", u, got, want[u])
		}
		if a := addresses.FindString(got); a != "" || strings.Contains(got, dns) {
			t.Errorf("%s: the error %q tells an address (%q)", u, got, a)
		}
	}
}

// closedPort is a port of loopback that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

// TestDescribe: the failures TestDispatcher_ErrorsNameNoAddress cannot
// cause quickly (timeouts, resets, unreachable hosts, certificates for
// another host or expired), as the HTTP client reports them, in the
// words the account reads; none tells an address or the URL.
func TestDescribe(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://10.0.0.5/hook?token=secret", Err: &net.OpError{Op: "dial", Net: "tcp",
			Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 443}, Err: err}}
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&url.Error{Op: "Post", URL: "https://x.example/hook", Err: context.DeadlineExceeded}, "timed out: no answer within 10s"},
		{dial(os.NewSyscallError("connect", syscall.ECONNRESET)), "the connection was reset"},
		{dial(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "the host is unreachable"},
		{dial(os.NewSyscallError("connect", syscall.ENETUNREACH)), "the host is unreachable"},
		{dial(&net.DNSError{Err: "i/o timeout", Name: "x.example", Server: "10.0.0.53:53", IsTimeout: true}), "could not resolve the host: the DNS lookup timed out"},
		{dial(&net.DNSError{Err: "server misbehaving", Name: "x.example", Server: "10.0.0.53:53"}), "could not resolve the host"},
		{&url.Error{Err: &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "10.0.0.5", Certificate: &x509.Certificate{}}}}, "TLS error: the certificate is not valid for the host"},
		{&url.Error{Err: &tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired, Cert: &x509.Certificate{}}}}, "TLS error: the certificate has expired or is not valid yet"},
		{&url.Error{Err: tls.AlertError(40)}, "TLS error: the endpoint refused the handshake"},
		{&url.Error{Err: io.ErrUnexpectedEOF}, "the connection closed before an answer"},
		{&url.Error{URL: "https://10.0.0.5/", Err: errors.New("something at 10.0.0.5 went wrong")}, "the request failed"},
	} {
		if got := webhook.Describe(tt.err); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestDispatcher_MaxAttempts: a delivery that always fails is tried
// pihu.WebhookMaxAttempts times, however soon its retries come, then
// given up.
func TestDispatcher_MaxAttempts(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	acct := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Acme", Created: epoch}
	owner, _, err := pihu.NewKey(acct.ID, pihu.OwnerKeyRequest(), nil, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAccount(t.Context(), acct, owner); err != nil {
		t.Fatal(err)
	}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(failing.Close)
	e, err := pihu.NewWebhookEndpoint(owner, failing.URL, []string{pihu.EventKeyCreated}, "", true, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateWebhookEndpoint(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	ev, err := pihu.NewKeyEvent("", pihu.EventKeyCreated, owner, false, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.EmitWebhookEvent(t.Context(), ev, ""); err != nil {
		t.Fatal(err)
	}
	now := epoch
	d := &webhook.Dispatcher{Store: store, AllowLoopback: true, Now: func() time.Time { return now },
		Backoff: func(int) time.Duration { return time.Second }, Logger: slog.New(slog.DiscardHandler)}
	for i := 0; i < pihu.WebhookMaxAttempts+3; i++ {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	ds, _, err := store.ListDeliveries(t.Context(), pihu.ScopeOf(owner), e.ID, pihu.Page{Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %v, %v", ds, err)
	}
	if got := ds[0]; got.Status != pihu.DeliveryFailed || len(got.Attempts) != pihu.WebhookMaxAttempts {
		t.Errorf("status %s after %d attempts, want failed after %d", got.Status, len(got.Attempts), pihu.WebhookMaxAttempts)
	}
	if got, want := ds[0].Describe(pihu.WebhookMaxAttempts), "failed after 20 attempts"; got != want {
		t.Errorf("Describe: got %q, want %q", got, want)
	}
}
