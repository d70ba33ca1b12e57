package auth

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// BenchmarkTokens_Signature is the first check of a token on pihu, before
// it is cached: the Ed25519 signature and the claims, with the signing
// keys already read.
func BenchmarkTokens_Signature(b *testing.B) {
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tokens := NewTokens(db, TokenOptions{Issuer: "https://auth.example.com"})
	k := &pihu.Key{ID: "key_1", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
	at, err := pihu.NewAccessToken(k, pihu.TokenRequest{ExpiresIn: "1h"}, tokens.Issuer(), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := tokens.Sign(ctx, at)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.verify(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}
