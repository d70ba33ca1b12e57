package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
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
		return &refusedError{ip: ip, loopback: ip.Unmap().IsLoopback()}
	}
}

// refusedError is the dialer's refusal of an address a delivery may not
// reach. Its Error names the address, for the operator's logs; Reason
// does not, for the account that owns the endpoint.
type refusedError struct {
	ip       netip.Addr
	loopback bool
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("webhook: refusing to connect to %s: %s", e.ip, e.what())
}

// Reason is why the delivery was refused, without the address: the name
// of an endpoint may resolve to an address of pihu's own network, which
// its owner must not learn.
func (e *refusedError) Reason() string {
	return "refused: the host resolves to " + e.what()
}

func (e *refusedError) what() string {
	if e.loopback {
		return "a loopback address (serve --webhook-loopback allow permits it, for development)"
	}
	return "a private, link-local, multicast or reserved address"
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
