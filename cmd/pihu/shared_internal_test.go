package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/ratelimit"
)

// A key invalidated by any instance (revoked, rotated, its limit changed)
// gives back this instance's lease of its rate limit at once, through the
// same subscription that drops it from the cache: another instance then
// finds its whole budget but what was spent.
func TestShared_InvalidationGivesTheLeaseBack(t *testing.T) {
	url := redistest.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.DiscardHandler)
	shared, err := connectRedis(ctx, url, false, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.close()
	b := make([]byte, 8)
	rand.Read(b)
	id := "key_" + hex.EncodeToString(b)
	limit := ratelimit.PerMinute(1000) // leases of 20
	if r, err := shared.limiter.Allow(ctx, id, limit); err != nil || !r.Allowed {
		t.Fatalf("first request: got %+v, %v", r, err)
	}
	if shared.rl.Len() != 1 {
		t.Fatalf("Len after a request: got %d, want 1", shared.rl.Len())
	}

	inv := shared.invalidations()
	heard := make(chan string, 1)
	up := make(chan bool, 1)
	go inv.Subscribe(ctx, func(id string) { heard <- id }, func(ok bool) {
		if ok {
			up <- ok
		}
	})
	select {
	case <-up:
	case <-time.After(5 * time.Second):
		t.Fatal("not subscribed after 5 s")
	}
	if err := inv.Publish(ctx, id); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-heard:
		if got != id {
			t.Fatalf("heard %q, want %q", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the invalidation did not arrive within 5 s")
	}
	for deadline := time.Now().Add(5 * time.Second); shared.rl.Len() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Len 5 s after the key was invalidated: got %d, want 0 (its lease dropped)", shared.rl.Len())
		}
	}

	other, err := connectRedis(ctx, url, false, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := other.limiter.Peek(ctx, id, limit)
		if err != nil {
			t.Fatal(err)
		}
		if p.Remaining == 999 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after the invalidation, another instance's Peek: got %+v, want 999 remaining (the lease given back)", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
