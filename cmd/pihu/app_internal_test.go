package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServe_StartFailureClosesAll: when serve fails after it has opened
// its listeners (here --ext-authz-addr is taken), it closes what it had
// opened before returning the error: the API's address and
// --metrics-addr are free again.
func TestServe_StartFailureClosesAll(t *testing.T) {
	t.Setenv("GOGC", "100") // gcheadroom would tune this test process's collector
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	var stderr bytes.Buffer
	err = runServe(context.Background(), []string{
		"--addr", addr, "--metrics-addr", metricsAddr, "--ext-authz-addr", taken.Addr().String(),
		"--database", "sqlite:" + filepath.Join(t.TempDir(), "pihu.db"),
	}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--ext-authz-addr") {
		t.Fatalf("got %v, want the --ext-authz-addr error", err)
	}
	if !strings.Contains(stderr.String(), "serving metrics") {
		t.Fatalf("the metrics listener was not started, so its closing is not tested:\n%s", stderr.String())
	}
	for _, a := range []string{addr, metricsAddr} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s after serve failed: %v, want it closed", a, err)
			continue
		}
		ln.Close()
	}
}
