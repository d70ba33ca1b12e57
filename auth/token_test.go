package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// tokenStore counts the reads a token's verification may make: the parent
// key by id, and the signing keys.
type tokenStore struct {
	*countingStore
	keyReads, signingKeyReads int
}

func (s *tokenStore) Key(ctx context.Context, accountID, id string) (*pihu.Key, error) {
	s.keyReads++
	return s.countingStore.Key(ctx, accountID, id)
}

func (s *tokenStore) SigningKeys(ctx context.Context) ([]*pihu.SigningKey, error) {
	s.signingKeyReads++
	return s.countingStore.SigningKeys(ctx)
}

// tokenSetup returns an authenticator taking tokens, and a token of the
// owner key k for permissions perms.
func tokenSetup(tb testing.TB, perms pihu.Permissions) (*tokenStore, *auth.Authenticator, *pihu.Key, string, *time.Time, string) {
	tb.Helper()
	cs, k, secret, now := setup(tb)
	store := &tokenStore{countingStore: cs}
	clock := func() time.Time { return *now }
	tokens := auth.NewTokens(store, auth.TokenOptions{Issuer: "https://auth.example.com", Now: clock})
	a := auth.New(store, auth.Options{Now: clock, TTL: time.Hour, Tokens: tokens})
	at, err := pihu.NewAccessToken(k, pihu.TokenRequest{Permissions: perms}, tokens.Issuer(), *now)
	if err != nil {
		tb.Fatal(err)
	}
	token, err := tokens.Sign(context.Background(), at)
	if err != nil {
		tb.Fatal(err)
	}
	return store, a, k, token, now, secret
}

func TestAuthenticate_Token(t *testing.T) {
	ctx := context.Background()
	store, a, k, token, now, secret := tokenSetup(t, pihu.Permissions{"candidate:read", "api_key:*"})

	t.Run("WarmCacheReadsNothing", func(t *testing.T) {
		for range 3 {
			got, err := a.Authenticate(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != k.ID || got.Token == nil || !slicesEqual(got.Permissions, pihu.Permissions{"candidate:read", "api_key:*"}) {
				t.Errorf("got key %s token %v permissions %v", got.ID, got.Token, got.Permissions)
			}
		}
		if store.keyReads != 1 || store.signingKeyReads != 1 || store.reads != 0 {
			t.Errorf("store reads: got %d parent, %d signing keys, %d by digest; want 1, 1, 0", store.keyReads, store.signingKeyReads, store.reads)
		}
	})
	t.Run("OneCacheForKeysAndTokens", func(t *testing.T) {
		// The parent read for a token is the entry its own secret finds.
		got, err := a.Authenticate(ctx, secret)
		if err != nil || got.Token != nil || store.reads != 0 {
			t.Errorf("the parent's secret after its token: got %v (%v), %d reads by digest; want the cached key", got, err, store.reads)
		}
	})
	t.Run("InvalidateReachesTokens", func(t *testing.T) {
		if _, err := store.RevokeKey(ctx, k.AccountID, k.ID, *now); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, token); err != nil {
			t.Fatalf("before Invalidate the cached parent is trusted (TTL): got %v", err)
		}
		a.Invalidate(k.ID)
		if _, err := a.Authenticate(ctx, token); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
			t.Errorf("after the parent's revocation: got %v, want %s", err, pihu.ERevokedAPIKey)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		*now = now.Add(pihu.DefaultTokenLifetime)
		if _, err := a.Authenticate(ctx, token); pihu.ErrorCode(err) != pihu.EExpiredAPIKey {
			t.Errorf("at exp: got %v, want %s", err, pihu.EExpiredAPIKey)
		}
	})
}

// TestAuthenticate_TokenNeverExceedsParent: the permissions a token acts
// with are those it and its parent both hold.
func TestAuthenticate_TokenNeverExceedsParent(t *testing.T) {
	parent := &pihu.Key{ID: "key_p", Permissions: pihu.Permissions{"candidate:read"}}
	at := &pihu.AccessToken{Permissions: pihu.Permissions{"*"}, Expires: time.Now().Add(time.Minute)}
	got := at.Restrict(parent)
	if !slicesEqual(got.Permissions, pihu.Permissions{"candidate:read"}) || got.Expires == nil || !got.Expires.Equal(at.Expires) {
		t.Errorf("Restrict: got %v until %v", got.Permissions, got.Expires)
	}
	if !slicesEqual(parent.Permissions, pihu.Permissions{"candidate:read"}) || parent.Expires != nil || parent.Token != nil {
		t.Error("Restrict changed the parent key")
	}
}

func slicesEqual(a, b pihu.Permissions) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkAuthenticateToken_Warm is BenchmarkAuthenticate_Warm for an
// access token: signature (Ed25519), claims, and the parent key from the
// cache by id.
func BenchmarkAuthenticateToken_Warm(b *testing.B) {
	_, a, _, token, _, _ := tokenSetup(b, nil)
	ctx := context.Background()
	a.Authenticate(ctx, token)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}
