package pihu_test

import (
	"testing"

	"github.com/pihu-ai/pihu"
)

// Every request draws an id; every authentication parses and digests a
// secret.
func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		pihu.NewID(pihu.PrefixRequest)
	}
}

func BenchmarkParseSecret(b *testing.B) {
	secret := pihu.NewSecret(pihu.Live)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := pihu.ParseSecret(secret); !ok {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkDigest(b *testing.B) {
	secret := pihu.NewSecret(pihu.Live)
	b.ReportAllocs()
	for b.Loop() {
		pihu.Digest(secret)
	}
}
