package storetest

import (
	"context"
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

	benchBoth(b, "KeyByDigest", 1, func(ctx context.Context, i int) error {
		_, err := s.KeyByDigest(ctx, digests[i%keys])
		return err
	})
	create := func(ctx context.Context, account string, creator *pihu.Key) error {
		k, _, err := pihu.NewKey(account, readKey("Created"), creator, epoch)
		if err != nil {
			return err
		}
		return s.CreateKey(ctx, k, pihu.NewAuditEvent(pihu.ActionKeyCreated, creator.ID, "127.0.0.1", k, epoch))
	}
	benchBoth(b, "CreateKey", 1, func(ctx context.Context, _ int) error { return create(ctx, a.ID, owner) })
	// Another account, with an endpoint: CreateKey above stays without.
	hooked, hookedOwner := mustCreateAccount(b, s, "Bench webhooks")
	mustCreateEndpoint(b, s, hookedOwner, pihu.EventKeyCreated)
	benchBoth(b, "CreateKeyWithWebhook", 1, func(ctx context.Context, _ int) error { return create(ctx, hooked.ID, hookedOwner) })
	req := readKey("Metered")
	req.Credits = &pihu.Credits{Remaining: pihu.MaxCredits, Refill: &pihu.Refill{Interval: pihu.RefillMonthly, Amount: pihu.MaxCredits, Day: 1}}
	metered := newKey(b, a.ID, req, epoch)
	mustCreateKey(b, s, metered)
	// 8 goroutines a core: requests waiting on the disk, all on one key.
	benchBoth(b, "SpendCredits", 8, func(ctx context.Context, _ int) error {
		sp, err := s.SpendCredits(ctx, metered.ID, 1, epoch)
		if err == nil && !sp.OK {
			err = fmt.Errorf("SpendCredits: %+v", sp)
		}
		return err
	})
}

// benchBoth runs op as the benchmark name, in a loop, and as
// name+"Parallel", from parallelism goroutines a GOMAXPROCS; i counts the
// calls of each goroutine (stepping by 7 in parallel, so that goroutines
// spread over what i picks).
func benchBoth(b *testing.B, name string, parallelism int, op func(ctx context.Context, i int) error) {
	b.Run(name, func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := op(b.Context(), i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run(name+"Parallel", func(b *testing.B) {
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i += 7 {
				if err := op(b.Context(), i); err != nil {
					b.Error(err) // not Fatal: this is not the benchmark's goroutine
					return
				}
			}
		})
	})
}

// BenchFilters measures a page of an account's keys (ListKeys, 10 keys)
// among 10,000, whole and filtered, the same way for every backend: open
// must return a new, empty store; BenchFilters closes it. One key in 100
// holds the role that gives candidate:write, the others interview:read;
// every key is named "svc-…" and has the metadata {"team":"core"}.
//
//   - All: the first page, unfiltered.
//   - Permission: candidate:read, found through the role (1 key in 100:
//     about 1,000 rows read for a page).
//   - PermissionNone, MetadataNone, NamePrefixNone: filters no key
//     matches, the worst case (every row of the account read).
func BenchFilters(b *testing.B, open func(b *testing.B) pihu.Store) {
	s := open(b)
	b.Cleanup(func() { s.Close() })
	a, owner := mustCreateAccount(b, s, "Bench")
	role := mustRole(b, s, owner, "writer", "candidate:write")
	roles := []*pihu.KeyRole{role}
	for i := range 10_000 {
		req := pihu.KeyRequest{Name: fmt.Sprint("svc-", i), Permissions: pihu.Permissions{"interview:read"},
			Metadata: []byte(`{"team":"core"}`), AccountRoles: roles}
		if i%100 == 0 {
			req.Roles = []string{role.ID}
		}
		mustCreateKey(b, s, childKey(b, owner, req, epoch))
	}
	for _, bc := range []struct {
		name string
		f    pihu.KeyFilter
	}{
		{"All", pihu.KeyFilter{}},
		{"Permission", pihu.KeyFilter{Permission: "candidate:read", NamePrefix: "svc-"}},
		{"PermissionNone", pihu.KeyFilter{Permission: "webhook:read"}},
		{"MetadataNone", pihu.KeyFilter{Metadata: map[string]string{"team": "web"}}},
		{"NamePrefixNone", pihu.KeyFilter{NamePrefix: "web-"}},
	} {
		f := bc.f
		f.AccountID, f.Limit = a.ID, 10
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.ListKeys(b.Context(), f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
