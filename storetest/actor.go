package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// Every write a key makes re-checks it (pihu.Actor): a write made with a
// context carrying an actor that is revoked, expired or not a key of the
// account changes nothing and answers ERevokedAPIKey or EExpiredAPIKey;
// the same write for an active actor goes through.

func runActors(t *testing.T, run runFunc) {
	for _, c := range actorWrites {
		run(t, c.name, func(t *testing.T, s pihu.Store) { testActorWrite(t, s, c) })
	}
	run(t, "CascadeFindsNothingAfterRevocation", testActorCascadeAfterRevocation)
	run(t, "WritesRaceRevocation", testActorWritesRaceRevocation)
	run(t, "ConcurrentSelfSpends", testActorConcurrentSelfSpends)
}

// actorFixture is an account with what the writes of actorWrites act on,
// and keys to act as.
type actorFixture struct {
	s        pihu.Store
	account  *pihu.Account
	owner    *pihu.Key
	scope    pihu.Scope
	target   *pihu.Key // a key the writes on keys change
	metered  *pihu.Key // a key with 10 credits
	cand     *pihu.Candidate
	iv       *pihu.Interview
	endpoint *pihu.WebhookEndpoint
	now      time.Time // when the writes are made
}

func newActorFixture(t *testing.T, s pihu.Store) *actorFixture {
	t.Helper()
	a, owner := mustCreateAccount(t, s, "Acme")
	f := &actorFixture{s: s, account: a, owner: owner, scope: pihu.ScopeOf(owner), now: epoch.Add(2 * time.Minute)}
	f.target = childKey(t, owner, readKey("Target"), epoch)
	mustCreateKey(t, s, f.target)
	metered := readKey("Metered")
	metered.Credits = &pihu.Credits{Remaining: 10}
	f.metered = childKey(t, owner, metered, epoch)
	mustCreateKey(t, s, f.metered)
	f.cand = newCandidate(t, s, f.scope, "Ada Lovelace", epoch)
	f.iv = newInterview(t, s, f.scope, f.cand.ID, "Engineer", epoch)
	f.endpoint = mustCreateEndpoint(t, s, owner, pihu.EventKeyCreated)
	return f
}

// key returns the key id of the fixture's account as stored, or nil.
func (f *actorFixture) key(t *testing.T, id string) *pihu.Key {
	t.Helper()
	k, err := f.s.Key(t.Context(), f.account.ID, id)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	return k
}

// found reports whether a read found its item, failing on other errors.
func found(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && pihu.ErrorCode(err) != pihu.ENotFound {
		t.Fatalf("read: %v", err)
	}
	return err == nil
}

// actorWrite is one write of a store: prepare builds it for f, returning
// the write and a check of whether it was made.
type actorWrite struct {
	name    string
	prepare func(t *testing.T, f *actorFixture) (write func(ctx context.Context) error, check func(t *testing.T, wrote bool))
}

// checkWrote fails t if a write was made and should not have been, or the
// other way round.
func checkWrote(t *testing.T, what string, got, want bool) {
	t.Helper()
	if got != want {
		t.Errorf("%s: made %v, want %v", what, got, want)
	}
}

var actorWrites = []actorWrite{
	{"CreateKey", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		k := newKey(t, f.account.ID, readKey("New"), f.now)
		return func(ctx context.Context) error {
				return f.s.CreateKey(ctx, k, pihu.NewAuditEvent(pihu.ActionKeyCreated, f.owner.ID, "", k, f.now))
			}, func(t *testing.T, wrote bool) {
				checkWrote(t, "key", f.key(t, k.ID) != nil, wrote)
			}
	}},
	{"RotateKey", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		next, _, err := f.target.Successor(f.owner, f.now)
		if err != nil {
			t.Fatal(err)
		}
		return func(ctx context.Context) error {
				_, err := f.s.RotateKey(ctx, next, f.now.Add(time.Hour), rotationEvents(next, f.target, f.owner.ID)...)
				return err
			}, func(t *testing.T, wrote bool) {
				checkWrote(t, "successor", f.key(t, next.ID) != nil, wrote)
				checkWrote(t, "grace period", f.key(t, f.target.ID).Expires != nil, wrote)
			}
	}},
	{"RevokeKeys", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		return func(ctx context.Context) error {
				_, err := f.s.RevokeKeys(ctx, pihu.Revocation{AccountID: f.account.ID, ID: f.target.ID, At: f.now, Cascade: true, Event: revokeEvent(f.owner.ID, f.now)})
				return err
			}, func(t *testing.T, wrote bool) {
				checkWrote(t, "revocation", f.key(t, f.target.ID).Revoked != nil, wrote)
			}
	}},
	{"RevokeKey", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		return func(ctx context.Context) error {
				_, err := f.s.RevokeKey(ctx, f.account.ID, f.target.ID, f.now)
				return err
			}, func(t *testing.T, wrote bool) {
				checkWrote(t, "revocation", f.key(t, f.target.ID).Revoked != nil, wrote)
			}
	}},
	{"UpdateKey", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		return func(ctx context.Context) error {
				_, err := f.s.UpdateKey(ctx, pihu.KeyUpdate{AccountID: f.account.ID, ID: f.target.ID, Apply: func(k *pihu.Key) error {
					k.Name = "Changed"
					return nil
				}})
				return err
			}, func(t *testing.T, wrote bool) {
				checkWrote(t, "change", f.key(t, f.target.ID).Name == "Changed", wrote)
			}
	}},
	{"ImportKeys", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		k := importedKey(f.account.ID, pihu.NewID("legacy_"))
		return func(ctx context.Context) error {
				return f.s.ImportKeys(ctx, []*pihu.Key{k}, pihu.NewAuditEvent(pihu.ActionKeyCreated, f.owner.ID, "", k, f.now))
			}, func(t *testing.T, wrote bool) {
				checkWrote(t, "imported key", f.key(t, k.ID) != nil, wrote)
			}
	}},
	{"SpendCredits", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		return func(ctx context.Context) error {
				_, err := f.s.SpendCredits(ctx, f.metered.ID, 1, f.now)
				return err
			}, func(t *testing.T, wrote bool) {
				checkWrote(t, "spend", f.key(t, f.metered.ID).Credits.Remaining == 9, wrote)
			}
	}},
	{"RecordToken", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		ev := pihu.NewAuditEvent(pihu.ActionTokenCreated, f.owner.ID, "", f.owner, f.now)
		return func(ctx context.Context) error {
				return f.s.RecordToken(ctx, ev)
			}, func(t *testing.T, wrote bool) {
				events, _ := mustListEvents(t, f.s, pihu.AuditFilter{AccountID: f.account.ID, Limit: 100})
				minted := false
				for _, e := range events {
					minted = minted || e.ID == ev.ID
				}
				checkWrote(t, "token event", minted, wrote)
			}
	}},
	{"CreateCandidate", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		c, err := pihu.NewCandidate(f.owner, "Grace Hopper", "grace@example.com", f.now)
		if err != nil {
			t.Fatal(err)
		}
		return func(ctx context.Context) error {
				return f.s.CreateCandidate(ctx, c)
			}, func(t *testing.T, wrote bool) {
				_, err := f.s.Candidate(t.Context(), f.scope, c.ID)
				checkWrote(t, "candidate", found(t, err), wrote)
			}
	}},
	{"DeleteCandidate", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		return func(ctx context.Context) error {
				return f.s.DeleteCandidate(ctx, f.scope, f.cand.ID)
			}, func(t *testing.T, wrote bool) {
				_, err := f.s.Candidate(t.Context(), f.scope, f.cand.ID)
				checkWrote(t, "deletion", !found(t, err), wrote)
				_, err = f.s.Interview(t.Context(), f.scope, f.iv.ID)
				checkWrote(t, "deletion of its interview", !found(t, err), wrote)
			}
	}},
	{"CreateInterview", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		iv, err := pihu.NewInterview(f.owner, f.cand.ID, "Manager", nil, f.now)
		if err != nil {
			t.Fatal(err)
		}
		return func(ctx context.Context) error {
				return f.s.CreateInterview(ctx, iv)
			}, func(t *testing.T, wrote bool) {
				_, err := f.s.Interview(t.Context(), f.scope, iv.ID)
				checkWrote(t, "interview", found(t, err), wrote)
			}
	}},
	{"DeleteInterview", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		return func(ctx context.Context) error {
				return f.s.DeleteInterview(ctx, f.scope, f.iv.ID)
			}, func(t *testing.T, wrote bool) {
				_, err := f.s.Interview(t.Context(), f.scope, f.iv.ID)
				checkWrote(t, "deletion", !found(t, err), wrote)
			}
	}},
	{"CreateWebhookEndpoint", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		e, err := pihu.NewWebhookEndpoint(f.owner, "https://example.com/other", []string{pihu.EventKeyCreated}, "", true, f.now)
		if err != nil {
			t.Fatal(err)
		}
		return func(ctx context.Context) error {
				return f.s.CreateWebhookEndpoint(ctx, e, pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointCreated, f.owner.ID, "", e, f.now))
			}, func(t *testing.T, wrote bool) {
				_, err := f.s.WebhookEndpoint(t.Context(), f.scope, e.ID)
				checkWrote(t, "endpoint", found(t, err), wrote)
			}
	}},
	{"UpdateWebhookEndpoint", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		changed := *f.endpoint
		changed.Description = "changed"
		return func(ctx context.Context) error {
				return f.s.UpdateWebhookEndpoint(ctx, &changed, pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointUpdated, f.owner.ID, "", &changed, f.now))
			}, func(t *testing.T, wrote bool) {
				e, err := f.s.WebhookEndpoint(t.Context(), f.scope, f.endpoint.ID)
				if err != nil {
					t.Fatal(err)
				}
				checkWrote(t, "change", e.Description == "changed", wrote)
			}
	}},
	{"DeleteWebhookEndpoint", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		return func(ctx context.Context) error {
				return f.s.DeleteWebhookEndpoint(ctx, f.scope, f.endpoint.ID, pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointDeleted, f.owner.ID, "", f.endpoint, f.now))
			}, func(t *testing.T, wrote bool) {
				_, err := f.s.WebhookEndpoint(t.Context(), f.scope, f.endpoint.ID)
				checkWrote(t, "deletion", !found(t, err), wrote)
			}
	}},
	{"ReserveIdempotency", func(t *testing.T, f *actorFixture) (func(context.Context) error, func(*testing.T, bool)) {
		rec := idemRecord(idemKey(t, "key:"+f.owner.ID, pihu.NewID("idem_")), `{}`, f.now)
		return func(ctx context.Context) error {
				_, err := f.s.ReserveIdempotency(ctx, rec)
				return err
			}, func(t *testing.T, wrote bool) {
				_, err := f.s.IdempotencyRecord(t.Context(), rec.Lookup, f.now)
				checkWrote(t, "record", found(t, err), wrote)
			}
	}},
}

// testActorWrite makes write c as actors that may not act (revoked,
// expired, disabled, of another account, unknown), each of which changes nothing,
// records no audit event and answers why; then as an active actor, which
// makes it.
func testActorWrite(t *testing.T, s pihu.Store, c actorWrite) {
	f := newActorFixture(t, s)
	writer := pihu.KeyRequest{Name: "Writer", Permissions: pihu.Permissions{"*"}}
	revoked := childKey(t, f.owner, writer, epoch)
	mustCreateKey(t, s, revoked)
	if _, err := s.RevokeKey(t.Context(), f.account.ID, revoked.ID, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	expiring := writer
	expiring.Expiration = "1m"
	expired := childKey(t, f.owner, expiring, epoch)
	mustCreateKey(t, s, expired)
	disabled := childKey(t, f.owner, writer, epoch)
	disabled.Disabled = true
	mustCreateKey(t, s, disabled)
	active := childKey(t, f.owner, writer, epoch)
	mustCreateKey(t, s, active)
	_, foreign := mustCreateAccount(t, s, "Other")
	before, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: f.account.ID, Limit: 100})

	for _, tt := range []struct {
		name, key, code string
	}{
		{"Revoked", revoked.ID, pihu.ERevokedAPIKey},
		{"Expired", expired.ID, pihu.EExpiredAPIKey},
		{"Disabled", disabled.ID, pihu.EDisabledAPIKey},
		{"OtherAccount", foreign.ID, pihu.ERevokedAPIKey},
		{"Unknown", pihu.NewID(pihu.PrefixKey), pihu.ERevokedAPIKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			write, check := c.prepare(t, f)
			ctx := pihu.NewContextWithActor(t.Context(), pihu.Actor{AccountID: f.account.ID, KeyID: tt.key, At: f.now})
			checkError(t, write(ctx), tt.code, "")
			check(t, false)
		})
	}
	after, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: f.account.ID, Limit: 100})
	checkEvents(t, after, before)

	write, check := c.prepare(t, f)
	ctx := pihu.NewContextWithActor(t.Context(), pihu.Actor{AccountID: f.account.ID, KeyID: active.ID, At: f.now})
	if err := write(ctx); err != nil {
		t.Fatalf("%s as an active key: %v", c.name, err)
	}
	check(t, true)
}

// testActorCascadeAfterRevocation checks that a key revoked while it
// writes leaves nothing behind for a cascading revocation to find: the
// keys it creates or imports after its revocation are refused, so when
// its creator is revoked with cascade=true, only the creator is left to
// revoke, and no key made by the revoked key works.
func testActorCascadeAfterRevocation(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	writer := pihu.KeyRequest{Name: "Writer", Permissions: pihu.Permissions{"api_key:*", "candidate:read"}}
	provisioner := childKey(t, owner, writer, epoch)
	mustCreateKey(t, s, provisioner)
	stolen := childKey(t, provisioner, writer, epoch)
	mustCreateKey(t, s, stolen)
	revokedAt := epoch.Add(time.Minute)
	if _, err := s.RevokeKey(t.Context(), a.ID, stolen.ID, revokedAt); err != nil {
		t.Fatal(err)
	}

	now := revokedAt.Add(time.Second)
	ctx := pihu.NewContextWithActor(t.Context(), pihu.Actor{AccountID: a.ID, KeyID: stolen.ID, At: now})
	child := childKey(t, stolen, readKey("Child"), now)
	checkError(t, s.CreateKey(ctx, child), pihu.ERevokedAPIKey, "")
	imported := importedKey(a.ID, pihu.NewID("legacy_"))
	imported.CreatedBy = stolen.ID
	checkError(t, s.ImportKeys(ctx, []*pihu.Key{imported}), pihu.ERevokedAPIKey, "")
	patched := childKey(t, owner, readKey("Patched"), epoch)
	mustCreateKey(t, s, patched)
	_, err := s.UpdateKey(ctx, pihu.KeyUpdate{AccountID: a.ID, ID: patched.ID, Apply: func(k *pihu.Key) error {
		k.Permissions = pihu.Permissions{"*"}
		return nil
	}})
	checkError(t, err, pihu.ERevokedAPIKey, "")

	revoked, err := s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: a.ID, ID: provisioner.ID, At: now, Cascade: true})
	if err != nil {
		t.Fatalf("RevokeKeys: %v", err)
	}
	if got := ids(revoked); !slices.Equal(got, []string{provisioner.ID}) {
		t.Errorf("revoked with cascade: got %v, want only the provisioner %s: a key the revoked key made was left", got, provisioner.ID)
	}
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
	checkKeys(t, keys, []*pihu.Key{patched, owner})
	if got := keys[0].Permissions; len(got) != 1 || got[0] != "candidate:read" {
		t.Errorf("permissions of the key the revoked key changed: got %v, want unchanged", got)
	}
}

// testActorWritesRaceRevocation checks that writes made by a key while it
// is being revoked either commit before the revocation or are refused:
// in the audit log, which is in commit order, the revocation is newer than
// every endpoint the key created.
func testActorWritesRaceRevocation(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := childKey(t, owner, pihu.KeyRequest{Name: "Writer", Permissions: pihu.Permissions{"webhook:write"}}, epoch)
	mustCreateKey(t, s, k)
	ctx := pihu.NewContextWithActor(t.Context(), pihu.Actor{AccountID: a.ID, KeyID: k.ID, At: epoch})

	const workers = 16
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		created, refused int
	)
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			e, err := pihu.NewWebhookEndpoint(k, "https://example.com/hooks", []string{pihu.EventKeyCreated}, "", true, epoch)
			if err != nil {
				t.Error(err)
				return
			}
			err = s.CreateWebhookEndpoint(ctx, e, pihu.NewWebhookAuditEvent(pihu.ActionWebhookEndpointCreated, k.ID, "", e, epoch))
			mu.Lock()
			defer mu.Unlock()
			switch pihu.ErrorCode(err) {
			case "":
				created++
			case pihu.ERevokedAPIKey:
				refused++
			default:
				t.Errorf("CreateWebhookEndpoint: %v", err)
			}
		})
		if i == workers/2 {
			wg.Go(func() {
				<-start
				ev := pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "", k, epoch)
				if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch, ev); err != nil {
					t.Errorf("RevokeKey: %v", err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if created+refused != workers {
		t.Fatalf("writes: got %d made and %d refused, want %d in all", created, refused, workers)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(events) != created+1 {
		t.Fatalf("events: got %d, want %d", len(events), created+1)
	}
	if events[0].Action != pihu.ActionKeyRevoked {
		t.Errorf("newest event: got %s, want %s: the key wrote after its revocation", events[0].Action, pihu.ActionKeyRevoked)
	}
}

// testActorConcurrentSelfSpends checks that a key spending its own
// credits from many requests at once, each checking it as its actor,
// spends exactly its credits, without an error (no two checks deadlock).
func testActorConcurrentSelfSpends(t *testing.T, s pihu.Store) {
	k := creditKey(t, s, 10, nil, epoch)
	ctx := pihu.NewContextWithActor(t.Context(), pihu.Actor{AccountID: k.AccountID, KeyID: k.ID, At: epoch})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		spent int
	)
	for range 20 {
		wg.Go(func() {
			sp, err := s.SpendCredits(ctx, k.ID, 1, epoch)
			if err != nil {
				t.Errorf("SpendCredits: %v", err)
				return
			}
			if sp.OK {
				mu.Lock()
				spent++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if spent != 10 {
		t.Errorf("spends: got %d, want the 10 credits", spent)
	}
}
