package redisbus_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/redisbus"
	"github.com/pihu-ai/pihu/sqlite"
)

// openStore returns a store on a temp file, with one account.
func openStore(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "A", Created: time.Now()}
	k, _, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(context.Background(), a, k); err != nil {
		t.Fatal(err)
	}
	return db, a.ID
}

// newKey stores a new key of account and returns it with its secret.
func newKey(t *testing.T, db *sqlite.DB, account string) (*pihu.Key, string) {
	t.Helper()
	req := pihu.OwnerKeyRequest()
	req.Name = "k"
	k, secret, err := pihu.NewKey(account, req, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, secret
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// instance is one pihu instance's Authenticator on the shared store,
// listening on its own Redis connection.
type instance struct {
	*auth.Authenticator
	bus *redisbus.Bus
}

func newInstance(t *testing.T, db *sqlite.DB, url, channel string, logs *logBuffer) *instance {
	t.Helper()
	c, err := ratelimit.DialRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	logger := slog.New(slog.NewTextHandler(logs, nil))
	bus := redisbus.New(c, redisbus.Options{Channel: channel, Logger: logger, PingInterval: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	a := auth.New(db, auth.Options{TTL: time.Hour, Invalidations: bus, Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Listen(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &instance{Authenticator: a, bus: bus}
}

// waitFor polls cond every millisecond for up to limit, and returns how
// long it took to hold, or false if it did not.
func waitFor(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > limit {
			return time.Since(start), false
		}
		time.Sleep(time.Millisecond)
	}
}

func refused(a *auth.Authenticator, secret string) func() bool {
	return func() bool {
		_, err := a.Authenticate(context.Background(), secret)
		return pihu.ErrorCode(err) == pihu.ERevokedAPIKey
	}
}

// A key warm in B's cache (trusted for an hour) is refused by B within a
// second of its revocation through A, and an instance without the bus
// still accepts it: the bus is what carries the change.
func TestBus_InvalidatesAcrossInstances(t *testing.T) {
	url := redistest.URL(t)
	channel := redistest.Prefix(t) + "invalidate"
	db, account := openStore(t)
	var logs logBuffer
	a := newInstance(t, db, url, channel, &logs)
	b := newInstance(t, db, url, channel, &logs)
	if _, ok := waitFor(5*time.Second, func() bool { return a.Subscribed() && b.Subscribed() }); !ok {
		t.Fatal("the instances did not subscribe within 5 s")
	}
	alone := auth.New(db, auth.Options{TTL: time.Hour})

	ctx := context.Background()
	k, secret := newKey(t, db, account)
	for _, x := range []*auth.Authenticator{a.Authenticator, b.Authenticator, alone} {
		if _, err := x.Authenticate(ctx, secret); err != nil {
			t.Fatalf("warming the cache: %v", err)
		}
	}
	if _, err := db.RevokeKey(ctx, account, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	a.Invalidate(k.ID)
	took, ok := waitFor(time.Second, refused(b.Authenticator, secret))
	t.Logf("a key warm in B was refused by B %s after its revocation on A", took)
	if !ok {
		t.Fatalf("B still accepted the key %s after its revocation on A; want refused within 1 s", took)
	}
	if _, err := alone.Authenticate(ctx, secret); err != nil {
		t.Errorf("an instance without the bus: got %v, want the cached key accepted (the control)", err)
	}
	if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
		t.Errorf("A itself: got %v, want revoked", err)
	}
	if s := logs.String(); strings.Contains(s, "level=ERROR") || strings.Contains(s, "level=WARN") {
		t.Errorf("errors logged with Redis up:\n%s", s)
	}
}

// When the subscription is lost (Redis stops), the bus says so, cached
// keys are trusted for a second only, so a change that cannot be
// published is still seen within about a second; when Redis is back the
// bus subscribes again, empties the cache, and invalidations flow again.
func TestBus_Reconnects(t *testing.T) {
	srv := redistest.Start(t)
	channel := redistest.Prefix(t) + "invalidate"
	db, account := openStore(t)
	var logs logBuffer
	a := newInstance(t, db, srv.URL(), channel, &logs)
	b := newInstance(t, db, srv.URL(), channel, &logs)
	if _, ok := waitFor(5*time.Second, func() bool { return a.Subscribed() && b.Subscribed() }); !ok {
		t.Fatal("the instances did not subscribe within 5 s")
	}
	ctx := context.Background()
	k, secret := newKey(t, db, account)
	if _, err := b.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if _, ok := waitFor(2*time.Second, func() bool { return !b.Subscribed() && !b.bus.Connected() }); !ok {
		t.Fatal("B still reports a subscription 2 s after Redis stopped")
	}
	if _, err := db.RevokeKey(ctx, account, k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := waitFor(2*time.Second, func() bool { return !a.Subscribed() }); !ok {
		t.Fatal("A still reports a subscription 2 s after Redis stopped")
	}
	// Publishing does not wait for a Redis known to be down: a cascade
	// of many keys is not slowed down, and is logged once.
	start := time.Now()
	for range 100 {
		a.Invalidate(k.ID)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("100 invalidations with Redis down took %s; they should not wait for it", d)
	}
	if n := strings.Count(logs.String(), "could not tell the other instances"); n != 1 {
		t.Errorf("got %d log lines about failed publications, want 1", n)
	}
	took, ok := waitFor(1500*time.Millisecond, refused(b.Authenticator, secret))
	t.Logf("with Redis down, a revoked key warm in B was refused by B %s after the revocation", took)
	if !ok {
		t.Fatalf("with Redis down, B accepted a revoked key for %s; want refused within the 1 s TTL", took)
	}

	srv.Restart()
	if _, ok := waitFor(5*time.Second, func() bool { return a.Subscribed() && b.Subscribed() }); !ok {
		t.Fatal("the instances did not subscribe again within 5 s of Redis coming back")
	}
	k2, secret2 := newKey(t, db, account)
	if _, err := b.Authenticate(ctx, secret2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeKey(ctx, account, k2.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	a.Invalidate(k2.ID)
	took, ok = waitFor(time.Second, refused(b.Authenticator, secret2))
	t.Logf("after Redis came back, a key warm in B was refused by B %s after its revocation on A", took)
	if !ok {
		t.Fatalf("after reconnecting, B accepted a revoked key for %s", took)
	}
	logged := logs.String()
	if n := strings.Count(logged, "Redis subscription lost"); n != 2 { // once per instance
		t.Errorf("got %d lines about a lost subscription, want 2 (one per instance):\n%s", n, logged)
	}
	if n := strings.Count(logged, "Redis subscription is back"); n != 2 {
		t.Errorf("got %d lines about the subscription being back, want 2:\n%s", n, logged)
	}
}

// TestFleet records primaries in the shared Redis: the first is taken, a
// later timeline of the same system raises the record, an earlier one or
// another system leaves it as it is, and each call returns the record as
// it then stands.
func TestFleet(t *testing.T) {
	client, err := ratelimit.DialRedis(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	key := redistest.Prefix(t) + "primary"
	defer client.Del(context.Background(), key)
	f := redisbus.NewFleet(client, key)
	p := func(sys, tl int64) pihu.Primary { return pihu.Primary{SystemID: sys, Timeline: tl} }
	for _, tc := range []struct{ give, want pihu.Primary }{
		{p(7312345678901234567, 1), p(7312345678901234567, 1)},
		{p(7312345678901234567, 2), p(7312345678901234567, 2)},
		{p(7312345678901234567, 1), p(7312345678901234567, 2)},
		{p(42, 9), p(7312345678901234567, 2)},
		{p(7312345678901234567, 2), p(7312345678901234567, 2)},
	} {
		got, err := f.RaisePrimary(t.Context(), tc.give)
		if err != nil || got != tc.want {
			t.Errorf("RaisePrimary(%v): got %v, %v; want %v", tc.give, got, err, tc.want)
		}
	}
	if ttl := client.PTTL(t.Context(), key).Val(); ttl <= 0 || ttl > redisbus.FleetTTL {
		t.Errorf("the record's TTL: got %v, want up to %v", ttl, redisbus.FleetTTL)
	}
}

// A key warm in B's cache is refused by B, disabled_api_key, within a
// second of being disabled through A, and works again on B within a
// second of being enabled through A: the change is carried as a
// revocation is.
func TestBus_DisableAcrossInstances(t *testing.T) {
	url := redistest.URL(t)
	channel := redistest.Prefix(t) + "invalidate"
	db, account := openStore(t)
	var logs logBuffer
	a := newInstance(t, db, url, channel, &logs)
	b := newInstance(t, db, url, channel, &logs)
	if _, ok := waitFor(5*time.Second, func() bool { return a.Subscribed() && b.Subscribed() }); !ok {
		t.Fatal("the instances did not subscribe within 5 s")
	}
	ctx := context.Background()
	k, secret := newKey(t, db, account)
	if _, err := b.Authenticate(ctx, secret); err != nil {
		t.Fatalf("warming B's cache: %v", err)
	}
	for _, disabled := range []bool{true, false} {
		if _, err := db.UpdateKey(ctx, pihu.KeyUpdate{AccountID: account, ID: k.ID,
			Apply: func(k *pihu.Key) error { k.Disabled = disabled; return nil }}); err != nil {
			t.Fatal(err)
		}
		a.Invalidate(k.ID)
		took, ok := waitFor(time.Second, func() bool {
			_, err := b.Authenticate(ctx, secret)
			if disabled {
				return pihu.ErrorCode(err) == pihu.EDisabledAPIKey
			}
			return err == nil
		})
		t.Logf("disabled=%t through A was seen by B after %s", disabled, took)
		if !ok {
			t.Fatalf("disabled=%t through A: B did not see it within 1 s", disabled)
		}
	}
	if s := logs.String(); strings.Contains(s, "level=ERROR") || strings.Contains(s, "level=WARN") {
		t.Errorf("errors logged with Redis up:\n%s", s)
	}
}
