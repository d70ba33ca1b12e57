package webhook_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/webhook"
)

// TestClient_RefusesForbiddenAddresses sends to addresses a delivery may
// not reach: the dialer refuses them before connecting, whatever the URL
// says, loopback allowed or not.
func TestClient_RefusesForbiddenAddresses(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("AllowLoopback=%v", allow), func(t *testing.T) { refusesForbidden(t, webhook.NewClient(allow)) })
	}
}

func refusesForbidden(t *testing.T, c *http.Client) {
	for _, u := range []string{
		"http://10.0.0.1/hook",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1]/hook",
		"http://192.168.1.1/hook",
		"http://172.16.0.1/hook",
		"http://100.64.0.1/hook",
		"http://0.0.0.0/hook",
		"http://[::]/hook",
		"http://224.0.0.1/hook",
		"http://[fd00::1]/hook",
		"http://[::ffff:10.0.0.1]/hook",
		// IPv6 forms that lead to a private IPv4 address.
		"http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", // NAT64
		"http://[2002:a00:1::1]/hook",                   // 6to4
		"http://[2001:0:808:404::f5ff:fffe]/hook",       // Teredo
		"http://[::10.0.0.1]/hook",                      // IPv4-compatible
		"http://[64:ff9b::7f00:1]/hook",                 // NAT64 to loopback, even with loopback allowed
	} {
		t.Run(u, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", u, nil)
			_, err := c.Do(req)
			if err == nil || !strings.Contains(err.Error(), "refusing to connect") {
				t.Errorf("got %v, want the dialer's refusal", err)
			}
		})
	}
}

// TestClient_RefusesLoopback: without AllowLoopback, a receiver listening
// on this machine is never reached, however its address is written; with
// it, it is.
func TestClient_RefusesLoopback(t *testing.T) {
	reached := make(chan string, 16)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached <- r.Host }))
	defer rc.Close()
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	urls := []string{
		rc.URL,
		"http://localhost:" + port + "/hook",
		"http://127.1:" + port + "/hook",
		"http://[::ffff:127.0.0.1]:" + port + "/hook",
		"http://2130706433:" + port + "/hook", // 127.0.0.1 as one number
	}
	deny := webhook.NewClient(false)
	for _, u := range urls {
		resp, err := deny.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: answered %d, want the dialer's refusal", u, resp.StatusCode)
		} else if !strings.Contains(err.Error(), "refusing to connect") && !strings.Contains(err.Error(), "no such host") {
			t.Errorf("%s: %v, want the dialer's refusal", u, err)
		}
	}
	if len(reached) != 0 {
		t.Fatalf("the receiver on loopback was reached %d times without AllowLoopback", len(reached))
	}
	resp, err := webhook.NewClient(true).Post(rc.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("AllowLoopback: %v", err)
	}
	resp.Body.Close()
	if len(reached) != 1 {
		t.Errorf("AllowLoopback: the receiver was reached %d times, want 1", len(reached))
	}
}

// TestClient_RefusesNameResolvingToPrivate resolves a name, through a DNS
// server of the test's, to a private address: the dial is refused, as it
// would be after a DNS rebinding.
func TestClient_RefusesNameResolvingToPrivate(t *testing.T) {
	dns := fakeDNS(t, net.IPv4(10, 1, 2, 3))
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns)
	}}
	c := webhook.NewClientWithResolver(true, resolver)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://rebind.example.com/hook", nil)
	_, err := c.Do(req)
	if err == nil || !strings.Contains(err.Error(), "refusing to connect to 10.1.2.3") {
		t.Errorf("got %v, want the dialer's refusal of 10.1.2.3", err)
	}
}

// TestClient_RefusesNameResolvingToLoopback: without AllowLoopback, a
// name that resolves to 127.0.0.1, where a receiver listens, is refused
// when the delivery connects (a URL checked at registration can be
// rebound later).
func TestClient_RefusesNameResolvingToLoopback(t *testing.T) {
	reached := false
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	defer rc.Close()
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	dns := fakeDNS(t, net.IPv4(127, 0, 0, 1))
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns)
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://rebind.example.com:"+port+"/hook", nil)
	_, err := webhook.NewClientWithResolver(false, resolver).Do(req)
	if err == nil || !strings.Contains(err.Error(), "refusing to connect to 127.0.0.1: a loopback address") {
		t.Errorf("got %v, want the dialer's refusal of 127.0.0.1", err)
	}
	if reached {
		t.Error("the receiver on loopback was reached")
	}
}

// TestClient_LoopbackAndNoRedirects reaches a receiver on loopback, and
// gets its redirect as the answer instead of following it.
func TestClient_LoopbackAndNoRedirects(t *testing.T) {
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed = true }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	resp, err := webhook.NewClient(true).Post(redirect.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || followed {
		t.Errorf("got %d, followed %v; want the 307 itself, not followed", resp.StatusCode, followed)
	}
}

// fakeDNS answers every A query with ip, and every other query with no
// answer, on a UDP port of loopback whose address it returns.
func fakeDNS(t *testing.T, ip net.IP) string {
	t.Helper()
	return fakeDNSByName(t, func(string) net.IP { return ip })
}

// fakeDNSByName answers an A query for a name with lookup(name) (the name
// with its final dot), no answer when that is nil, and every other query
// with no answer, on a UDP port of loopback whose address it returns.
func fakeDNSByName(t *testing.T, lookup func(name string) net.IP) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			q := buf[:n]
			// The question ends after the name's zero byte, type and class.
			end := 12
			var name strings.Builder
			for end < n && q[end] != 0 {
				if l := int(q[end]); end+1+l <= n {
					name.Write(q[end+1 : end+1+l])
					name.WriteByte('.')
				}
				end += int(q[end]) + 1
			}
			end += 5
			if end > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[end-4:])
			resp := append([]byte{}, q[:end]...)
			resp[2], resp[3] = 0x81, 0x80 // a response, recursion available, no error
			binary.BigEndian.PutUint16(resp[6:], 0)
			binary.BigEndian.PutUint16(resp[8:], 0)
			binary.BigEndian.PutUint16(resp[10:], 0)
			if ip := lookup(name.String()); qtype == 1 && ip != nil {
				binary.BigEndian.PutUint16(resp[6:], 1)
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, ip.To4()...)
			}
			pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}
