// Package redistest gives tests a Redis: the shared one named by
// PIHU_TEST_REDIS_URL, with a key prefix of their own, or a redis-server
// of their own that they may stop and start again.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns PIHU_TEST_REDIS_URL, and skips the test when it is unset.
func URL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("PIHU_TEST_REDIS_URL")
	if url == "" {
		tb.Skip("PIHU_TEST_REDIS_URL is not set: set it to a Redis (such as redis://127.0.0.1:6379/0) to run the Redis tests")
	}
	return url
}

// Prefix returns a key prefix no other test uses, so that tests sharing
// one Redis never see each other's keys.
func Prefix(tb testing.TB) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "pihutest:" + hex.EncodeToString(b) + ":"
}

// Server is a redis-server started by a test, without persistence.
type Server struct {
	tb   testing.TB
	Port int
	cmd  *exec.Cmd
}

// Start starts a redis-server on a free port of 127.0.0.1, stopped when
// the test ends; it skips the test if there is no redis-server binary.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Skip("no redis-server binary on PATH: the tests that stop and start Redis need one")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{tb: tb, Port: port}
	s.Restart()
	tb.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Stop kills the server, if it runs, and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server (again) on its port and waits until it
// answers.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("starting redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatal(fmt.Errorf("redis-server on port %d did not answer: %w", s.Port, err))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
