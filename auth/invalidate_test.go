package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// pausingStore holds a key read back after it has read it, so that a test
// can change the key in between: a slow read racing a revocation.
type pausingStore struct {
	*countingStore
	read    chan struct{} // receives once the read is done
	release chan struct{} // closed to let the read return
}

func (s *pausingStore) KeyByDigest(ctx context.Context, d []byte) (*pihu.Key, error) {
	k, err := s.countingStore.KeyByDigest(ctx, d)
	s.read <- struct{}{}
	<-s.release
	return k, err
}

// TestInvalidate_RacingRead revokes a key while a request is reading it:
// that request may still see the key as it was, but the next one must see
// the revocation, not a copy cached by the slow read.
func TestInvalidate_RacingRead(t *testing.T) {
	ctx := context.Background()
	cs, k, secret, now := setup(t)
	store := &pausingStore{countingStore: cs, read: make(chan struct{}, 1), release: make(chan struct{})}
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour})

	done := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(ctx, secret)
		done <- err
	}()
	<-store.read // the key is read, unrevoked, and not yet cached
	if _, err := cs.RevokeKey(ctx, k.AccountID, k.ID, *now); err != nil {
		t.Fatal(err)
	}
	a.Invalidate(k.ID)
	close(store.release)
	if err := <-done; err != nil {
		t.Fatalf("the request that raced the revocation: got %v, want the key as it was read", err)
	}

	go func() { <-store.read }() // later reads do not pause
	_, err := a.Authenticate(ctx, secret)
	if got := pihu.ErrorCode(err); got != pihu.ERevokedAPIKey {
		t.Errorf("the next request: got %q, want %q", got, pihu.ERevokedAPIKey)
	}
}
