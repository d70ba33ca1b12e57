package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// setDisabled disables or enables key k in store, as PATCH does.
func setDisabled(tb testing.TB, store pihu.KeyStore, k *pihu.Key, disabled bool) {
	tb.Helper()
	if _, err := store.UpdateKey(context.Background(), pihu.KeyUpdate{AccountID: k.AccountID, ID: k.ID,
		Apply: func(k *pihu.Key) error { k.Disabled = disabled; return nil }}); err != nil {
		tb.Fatal(err)
	}
}

// TestAuthenticate_Disabled checks a disabled key on the hot path: refused
// with EDisabledAPIKey once Invalidate drops the cached key (the change
// rides in the cache: until then the warm entry answers, reading
// nothing), refused from the cache too (the flag is kept in the slot),
// each refusal counted in the key's usage as refused and none as a use;
// and working again once enabled and invalidated.
func TestAuthenticate_Disabled(t *testing.T) {
	ctx := context.Background()
	store, k, secret, now := setup(t)
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, TTL: time.Hour})
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	setDisabled(t, store, k, true)
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatalf("before Invalidate, the warm entry: got %v, want the key as cached", err)
	}
	a.Invalidate(k.ID)
	reads := store.reads
	for i := range 3 {
		_, err := a.Authenticate(ctx, secret)
		if pihu.ErrorCode(err) != pihu.EDisabledAPIKey {
			t.Fatalf("request %d after disabling: got %v, want %s", i, err, pihu.EDisabledAPIKey)
		}
	}
	if n := store.reads - reads; n != 1 {
		t.Errorf("three requests with the disabled key read the store %d times, want 1 (then cached)", n)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	usage, err := store.Usage(ctx, k.AccountID, k.ID, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var allowed, refused int64
	for _, u := range usage {
		allowed, refused = allowed+u.Allowed, refused+u.Refused
	}
	if refused != 3 || allowed != 0 {
		t.Errorf("usage: allowed %d refused %d, want 0 and 3", allowed, refused)
	}
	if err := a.Active(k); err != nil {
		t.Errorf("Active of the key as read before: got %v, want nil", err)
	}
	disabled := *k
	disabled.Disabled = true
	if err := a.Active(&disabled); pihu.ErrorCode(err) != pihu.EDisabledAPIKey {
		t.Errorf("Active of the disabled key: got %v, want %s", err, pihu.EDisabledAPIKey)
	}

	setDisabled(t, store, k, false)
	a.Invalidate(k.ID)
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Errorf("after enabling: got %v, want the key", err)
	}
}
