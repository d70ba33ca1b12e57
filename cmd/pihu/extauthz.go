package main

import (
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/pihu-ai/pihu/extauthz"
)

// serveExtAuthz answers Envoy's ext_authz Check on addr (--ext-authz-addr)
// over gRPC, deciding as opts says, until stop is called: stop lets the
// checks in flight finish, for at most 5 s. With no addr it does nothing.
func serveExtAuthz(addr string, opts extauthz.Options) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--ext-authz-addr: %w", err)
	}
	g := grpc.NewServer()
	extauthz.New(opts).Register(g)
	go g.Serve(ln)
	opts.Logger.Info("serving Envoy's ext_authz Check", "ext_authz_addr", ln.Addr().String())
	return func() {
		done := make(chan struct{})
		go func() { g.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			g.Stop()
		}
	}, nil
}
