package storetest

import (
	"fmt"
	"testing"

	"github.com/pihu-ai/pihu"
)

// Bench measures the store calls on the paths users wait on, the same way
// for every backend: open must return a new, empty store; Bench closes it.
//
//   - KeyByDigest: a cold key lookup (what an authentication costs when
//     the key is not in the server's cache), among 1,000 keys.
//
//   - CreateKey: a key created by another key, with its audit event (what
//     POST /v1/auth/api-keys writes): the creator re-checked, the key and
//     the event stored, in one transaction.
//
//   - CreateKeyWithWebhook: CreateKey in an account with an endpoint
//     subscribed to api_key.created, so that the transaction also writes
//     the webhook event and its delivery (the outbox).
//
//   - SpendCredits: one credit of a key with credits spent (what each
//     request made with such a key writes), with the refill check, in one
//     transaction.
//
// Each has a Parallel form, with as many goroutines as GOMAXPROCS
// (SpendCredits's from 8 times as many, spending one key from all of
// them, the worst case).
func Bench(b *testing.B, open func(b *testing.B) pihu.Store) {
	s := open(b)
	b.Cleanup(func() { s.Close() })
	a, owner := mustCreateAccount(b, s, "Bench")
	const keys = 1000
	digests := make([][]byte, keys)
	for i := range digests {
		k := childKey(b, owner, readKey(fmt.Sprint("Key ", i)), epoch)
		mustCreateKey(b, s, k)
		digests[i] = k.Digest
	}

	b.Run("KeyByDigest", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.KeyByDigest(b.Context(), digests[i%keys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("KeyByDigestParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.KeyByDigest(b.Context(), digests[i%keys]); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
	create := func(b testing.TB) {
		k, _, err := pihu.NewKey(a.ID, readKey("Created"), owner, epoch)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.CreateKey(b.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "127.0.0.1", k, epoch)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("CreateKey", func(b *testing.B) {
		for b.Loop() {
			create(b)
		}
	})
	b.Run("CreateKeyParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				create(b)
			}
		})
	})
	// Another account, with an endpoint: CreateKey above stays without.
	hooked, hookedOwner := mustCreateAccount(b, s, "Bench webhooks")
	mustCreateEndpoint(b, s, hookedOwner, pihu.EventKeyCreated)
	b.Run("CreateKeyWithWebhook", func(b *testing.B) {
		for b.Loop() {
			k, _, err := pihu.NewKey(hooked.ID, readKey("Created"), hookedOwner, epoch)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.CreateKey(b.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, hookedOwner.ID, "127.0.0.1", k, epoch)); err != nil {
				b.Fatal(err)
			}
		}
	})
	req := readKey("Metered")
	req.Credits = &pihu.Credits{Remaining: pihu.MaxCredits, Refill: &pihu.Refill{Interval: pihu.RefillMonthly, Amount: pihu.MaxCredits, Day: 1}}
	metered := newKey(b, a.ID, req, epoch)
	mustCreateKey(b, s, metered)
	spend := func(b testing.TB) {
		sp, err := s.SpendCredits(b.Context(), metered.ID, 1, epoch)
		if err != nil || !sp.OK {
			b.Fatalf("SpendCredits: %+v, %v", sp, err)
		}
	}
	b.Run("SpendCredits", func(b *testing.B) {
		for b.Loop() {
			spend(b)
		}
	})
	b.Run("SpendCreditsParallel", func(b *testing.B) {
		b.SetParallelism(8) // 16 goroutines on 2 cores: requests waiting on the disk
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				spend(b)
			}
		})
	})
}
