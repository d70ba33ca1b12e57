package webhook

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/pihu-ai/pihu"
)

// Timeout bounds a whole delivery attempt: connecting, sending, and the
// receiver's answer.
const Timeout = 10 * time.Second

// control returns the dialer's hook that refuses, at the moment a
// connection is made, an address a delivery may not reach
// (pihu.ForbiddenWebhookAddress): after DNS has answered, so that a name
// that resolved to a public address when the endpoint was created, and to
// 169.254.169.254 or 127.0.0.1 now (DNS rebinding), still cannot reach it.
func control(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ip, err := pihu.SplitHostPortAddr(address)
		if err != nil {
			return fmt.Errorf("webhook: refusing to connect to %q: not an IP address", address)
		}
		if !pihu.ForbiddenWebhookAddress(ip, allowLoopback) {
			return nil
		}
		if ip.Unmap().IsLoopback() {
			return fmt.Errorf("webhook: refusing to connect to %s: a loopback address (serve --webhook-loopback allow permits it, for development)", ip)
		}
		return fmt.Errorf("webhook: refusing to connect to %s: a private, link-local, multicast or reserved address", ip)
	}
}

// NewClient returns the HTTP client deliveries are sent with: it connects
// only to allowed addresses (checked at dial time; loopback ones only if
// allowLoopback), uses no proxy (which would connect on its behalf,
// unchecked), never follows a redirect (a 3xx is a failed attempt), and
// gives up after Timeout.
func NewClient(allowLoopback bool) *http.Client { return newClient(allowLoopback, nil) }

// newClient is NewClient with names resolved by resolver (nil: the
// system's).
func newClient(allowLoopback bool, resolver *net.Resolver) *http.Client {
	dialer := &net.Dialer{Timeout: Timeout, Control: control(allowLoopback), Resolver: resolver}
	return &http.Client{
		Timeout: Timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   Timeout,
			ResponseHeaderTimeout: Timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
