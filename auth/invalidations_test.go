package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// localBus is an auth.Invalidations within one process, whose
// subscription the test connects and disconnects; the Redis one is tested
// in package redisbus.
type localBus struct {
	mu          sync.Mutex
	published   []string
	invalidated func(string)
	connected   func(bool)
	ready       chan struct{}
}

func newLocalBus() *localBus { return &localBus{ready: make(chan struct{})} }

func (b *localBus) Publish(_ context.Context, id string) error {
	b.mu.Lock()
	b.published = append(b.published, id)
	f := b.invalidated
	b.mu.Unlock()
	if f != nil {
		f(id)
	}
	return nil
}

func (b *localBus) Subscribe(ctx context.Context, invalidated func(string), connected func(bool)) {
	b.mu.Lock()
	b.invalidated, b.connected = invalidated, connected
	b.mu.Unlock()
	close(b.ready)
	<-ctx.Done()
}

func (b *localBus) setConnected(up bool) {
	b.mu.Lock()
	f := b.connected
	b.mu.Unlock()
	f(up)
}

func (b *localBus) publishedIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.published...)
}

func listen(t *testing.T, a *auth.Authenticator, b *localBus) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Listen(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-b.ready
}

func TestInvalidations(t *testing.T) {
	ctx := context.Background()

	t.Run("PublishesEveryInvalidate", func(t *testing.T) {
		store, k, _, now := setup(t)
		bus := newLocalBus()
		a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour, Invalidations: bus})
		a.Invalidate(k.ID)
		if got := bus.publishedIDs(); len(got) != 1 || got[0] != k.ID {
			t.Errorf("published: got %v, want [%s]", got, k.ID)
		}
	})

	t.Run("DropsWhatOthersPublishWithoutRepublishing", func(t *testing.T) {
		store, k, secret, now := setup(t)
		bus := newLocalBus()
		a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour, Invalidations: bus})
		listen(t, a, bus)
		bus.setConnected(true)
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := store.RevokeKey(ctx, k.AccountID, k.ID, *now); err != nil {
			t.Fatal(err)
		}
		bus.invalidated(k.ID) // as if another instance published it
		if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
			t.Errorf("after another instance's invalidation: got %v, want revoked", err)
		}
		if got := bus.publishedIDs(); len(got) != 0 {
			t.Errorf("an invalidation heard was published again: %v", got)
		}
	})

	t.Run("ShortTTLUntilSubscribed", func(t *testing.T) {
		store, _, secret, now := setup(t)
		bus := newLocalBus()
		a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour, Invalidations: bus})
		if a.Subscribed() {
			t.Error("Subscribed() before Listen")
		}
		a.Authenticate(ctx, secret)
		*now = now.Add(time.Second)
		a.Authenticate(ctx, secret)
		if store.reads != 2 {
			t.Errorf("store reads 1 s apart before subscribing: got %d, want 2 (entries live 1 s)", store.reads)
		}
	})

	t.Run("ShortTTLWhileDisconnected", func(t *testing.T) {
		store, _, secret, now := setup(t)
		bus := newLocalBus()
		a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour, Invalidations: bus})
		listen(t, a, bus)
		bus.setConnected(true)
		if !a.Subscribed() {
			t.Fatal("not Subscribed() once connected")
		}
		a.Authenticate(ctx, secret)
		*now = now.Add(10 * time.Minute)
		a.Authenticate(ctx, secret)
		if store.reads != 1 {
			t.Fatalf("store reads while subscribed: got %d, want 1 (TTL an hour)", store.reads)
		}
		bus.setConnected(false)
		*now = now.Add(999 * time.Millisecond)
		a.Authenticate(ctx, secret) // the entry is 10 min old: read again
		*now = now.Add(999 * time.Millisecond)
		a.Authenticate(ctx, secret) // 999 ms old: trusted
		*now = now.Add(time.Millisecond)
		a.Authenticate(ctx, secret) // 1 s old: read again
		if store.reads != 3 {
			t.Errorf("store reads while disconnected: got %d, want 3", store.reads)
		}
	})

	t.Run("ReconnectEmptiesTheCache", func(t *testing.T) {
		store, k, secret, now := setup(t)
		bus := newLocalBus()
		a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour, Invalidations: bus})
		listen(t, a, bus)
		bus.setConnected(true)
		bus.setConnected(false)
		a.Authenticate(ctx, secret)
		// Revoked elsewhere while the subscription is down: the message
		// is lost.
		if _, err := store.RevokeKey(ctx, k.AccountID, k.ID, *now); err != nil {
			t.Fatal(err)
		}
		bus.setConnected(true)
		if _, err := a.Authenticate(ctx, secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
			t.Errorf("after reconnecting: got %v, want revoked (the cache is emptied)", err)
		}
	})

	t.Run("WithoutInvalidationsNothingChanges", func(t *testing.T) {
		store, _, secret, now := setup(t)
		a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Minute})
		if !a.Subscribed() {
			t.Error("Subscribed() is false without Invalidations")
		}
		a.Listen(ctx) // returns at once
		a.Authenticate(ctx, secret)
		*now = now.Add(30 * time.Second)
		a.Authenticate(ctx, secret)
		if store.reads != 1 {
			t.Errorf("store reads 30 s apart without Invalidations: got %d, want 1", store.reads)
		}
	})
}
