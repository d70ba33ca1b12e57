package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// childKey builds (but does not store) a key that creator creates at now.
func childKey(tb testing.TB, creator *pihu.Key, req pihu.KeyRequest, now time.Time) *pihu.Key {
	tb.Helper()
	k, _, err := pihu.NewKey(creator.AccountID, req, creator, now)
	if err != nil {
		tb.Fatalf("NewKey: %v", err)
	}
	return k
}

// testKeysCreatedBy checks that a key records the key that created it,
// and an owner key none.
func testKeysCreatedBy(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	child := childKey(t, owner, pihu.KeyRequest{Name: "Child", Permissions: pihu.Permissions{"api_key:*", "candidate:read"}}, epoch)
	mustCreateKey(t, s, child)
	grandchild := childKey(t, child, readKey("Grandchild"), epoch)
	mustCreateKey(t, s, grandchild)

	for _, tt := range []struct {
		key  *pihu.Key
		want string
	}{{owner, ""}, {child, owner.ID}, {grandchild, child.ID}} {
		got, err := s.Key(t.Context(), a.ID, tt.key.ID)
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		if got.CreatedBy != tt.want {
			t.Errorf("%s: CreatedBy: got %q, want %q", tt.key.Name, got.CreatedBy, tt.want)
		}
	}
}

// testLifecycleCreatorMustBeActive checks that creating or rotating a key
// re-checks, in the transaction that stores it, that the creating key is
// still active, and stores nothing if it is not.
func testLifecycleCreatorMustBeActive(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	writer := pihu.KeyRequest{Name: "Writer", Permissions: pihu.Permissions{"api_key:*", "candidate:read"}, Expiration: "1h"}
	now := epoch.Add(time.Minute)

	revoked := childKey(t, owner, writer, epoch)
	mustCreateKey(t, s, revoked)
	expired := childKey(t, owner, writer, epoch)
	mustCreateKey(t, s, expired)
	target := childKey(t, owner, readKey("Target"), epoch)
	target.Expires = nil
	mustCreateKey(t, s, target)
	if _, err := s.RevokeKey(t.Context(), a.ID, revoked.ID, now); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	foreign := &pihu.Key{ID: pihu.NewID(pihu.PrefixKey), AccountID: a.ID, Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}

	for _, tt := range []struct {
		name    string
		creator *pihu.Key
		at      time.Time
		code    string
	}{
		{"Revoked", revoked, now, pihu.ERevokedAPIKey},
		{"Expired", expired, epoch.Add(time.Hour), pihu.EExpiredAPIKey},
		{"NotStored", foreign, now, pihu.ERevokedAPIKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := childKey(t, &pihu.Key{ID: tt.creator.ID, AccountID: a.ID, Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}, readKey("Child"), tt.at)
			err := s.CreateKey(t.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, tt.creator.ID, "", k, tt.at))
			checkError(t, err, tt.code, "")
			_, err = s.Key(t.Context(), a.ID, k.ID)
			checkError(t, err, pihu.ENotFound, "")

			creator := &pihu.Key{ID: tt.creator.ID, AccountID: a.ID, Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
			next, _, err := target.Successor(creator, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.RotateKey(t.Context(), next, tt.at, rotationEvents(next, target, tt.creator.ID)...)
			checkError(t, err, tt.code, "")
			stored, err := s.Key(t.Context(), a.ID, target.ID)
			if err != nil {
				t.Fatalf("Key(target): %v", err)
			}
			checkKey(t, stored, target)
		})
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	checkEvents(t, events, nil)

	// A key that rotates itself at once is active when the rotation
	// starts: the rotation revokes it, and goes through.
	self := childKey(t, owner, pihu.KeyRequest{Name: "Self", Permissions: writer.Permissions}, epoch)
	mustCreateKey(t, s, self)
	next, _, err := self.Successor(self, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), next, now, rotationEvents(next, self, self.ID)...); err != nil {
		t.Fatalf("RotateKey(itself, now): %v", err)
	}
}

// testLifecycleCreateRacesRevocation checks that keys created by a key
// while it is being revoked either commit before the revocation or are
// refused: no key is created by a key after its revocation.
func testLifecycleCreateRacesRevocation(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	parent := childKey(t, owner, pihu.KeyRequest{Name: "Parent", Permissions: pihu.Permissions{"api_key:*", "candidate:read"}}, epoch)
	mustCreateKey(t, s, parent)

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
			k := childKey(t, parent, readKey("Child"), epoch)
			err := s.CreateKey(t.Context(), k, pihu.NewAuditEvent(pihu.ActionKeyCreated, parent.ID, "", k, epoch))
			mu.Lock()
			defer mu.Unlock()
			switch pihu.ErrorCode(err) {
			case "":
				created++
			case pihu.ERevokedAPIKey:
				refused++
			default:
				t.Errorf("CreateKey: %v", err)
			}
		})
		if i == workers/2 {
			wg.Go(func() {
				<-start
				ev := pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "", parent, epoch)
				if _, err := s.RevokeKey(t.Context(), a.ID, parent.ID, epoch, ev); err != nil {
					t.Errorf("RevokeKey: %v", err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if created+refused != workers {
		t.Fatalf("creates: got %d created and %d refused, want %d in all", created, refused, workers)
	}
	// The log is in commit order: the revocation is newer than every key
	// the parent created.
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(events) != created+1 {
		t.Fatalf("events: got %d, want %d", len(events), created+1)
	}
	if events[0].Action != pihu.ActionKeyRevoked {
		t.Errorf("newest event: got %s, want %s: a key was created after its creator's revocation", events[0].Action, pihu.ActionKeyRevoked)
	}
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
	if len(keys) != created+1 { // and the owner
		t.Errorf("keys: got %d, want %d", len(keys), created+1)
	}
}

// testLifecycleRotateTwice checks that a key rotated once (and in its
// grace period) cannot be rotated again.
func testLifecycleRotateTwice(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	old := childKey(t, owner, readKey("Old"), epoch)
	mustCreateKey(t, s, old)
	now := epoch.Add(time.Hour)
	first, _, err := old.Successor(owner, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), first, now.Add(24*time.Hour), rotationEvents(first, old, owner.ID)...); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	graced, err := s.Key(t.Context(), a.ID, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := old.Successor(owner, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateKey(t.Context(), second, now.Add(time.Minute), rotationEvents(second, old, owner.ID)...)
	checkError(t, err, pihu.EAlreadyRotated, "")
	_, err = s.Key(t.Context(), a.ID, second.ID)
	checkError(t, err, pihu.ENotFound, "")
	stored, err := s.Key(t.Context(), a.ID, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, stored, graced)
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(events) != 2 {
		t.Errorf("events: got %d, want the first rotation's 2", len(events))
	}
}

// revokeEvent is the Event of a Revocation by actor.
func revokeEvent(actor string, at time.Time) func(*pihu.Key) *pihu.AuditEvent {
	return func(k *pihu.Key) *pihu.AuditEvent {
		return pihu.NewAuditEvent(pihu.ActionKeyRevoked, actor, "127.0.0.1", k, at)
	}
}

// testLifecycleRevokeCascade checks that a cascading revocation revokes
// every key created by the key, at any depth and in any environment,
// through keys revoked before, and nothing else; and that without
// cascade only the key is revoked.
func testLifecycleRevokeCascade(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, otherOwner := mustCreateAccount(t, s, "Other")
	writer := pihu.KeyRequest{Name: "Writer", Permissions: pihu.Permissions{"api_key:*", "candidate:read"}}
	root := childKey(t, owner, writer, epoch)
	mustCreateKey(t, s, root)
	child := childKey(t, root, writer, epoch)
	mustCreateKey(t, s, child)
	testChild := childKey(t, root, pihu.KeyRequest{Name: "Test", Permissions: pihu.Permissions{"api_key:*"}, Environment: pihu.Test}, epoch)
	mustCreateKey(t, s, testChild)
	grandchild := childKey(t, child, readKey("Grandchild"), epoch)
	mustCreateKey(t, s, grandchild)
	sibling := childKey(t, owner, readKey("Sibling"), epoch)
	mustCreateKey(t, s, sibling)
	otherChild := childKey(t, otherOwner, readKey("Other account"), epoch)
	mustCreateKey(t, s, otherChild)
	// child was revoked before: its own child is still revoked by the
	// cascade, child itself is not revoked twice.
	if _, err := s.RevokeKey(t.Context(), a.ID, child.ID, epoch); err != nil {
		t.Fatal(err)
	}

	at := epoch.Add(time.Hour)
	var checked []string
	got, err := s.RevokeKeys(t.Context(), pihu.Revocation{
		AccountID: a.ID, ID: root.ID, At: at, Cascade: true,
		Check: func(k *pihu.Key) error { checked = append(checked, k.ID); return nil },
		Event: revokeEvent(owner.ID, at),
	})
	if err != nil {
		t.Fatalf("RevokeKeys: %v", err)
	}
	want := []string{root.ID, testChild.ID, grandchild.ID}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("revoked: got %v, want %v", ids(got), want)
	}
	if !slices.Equal(checked, want) {
		t.Errorf("checked: got %v, want %v", checked, want)
	}
	for _, k := range got {
		if k.Revoked == nil || !k.Revoked.Equal(at) {
			t.Errorf("%s: Revoked: got %v, want %v", k.Name, k.Revoked, at)
		}
	}
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
	checkKeys(t, keys, []*pihu.Key{sibling, owner})
	if k, err := s.Key(t.Context(), otherChild.AccountID, otherChild.ID); err != nil || k.Revoked != nil {
		t.Errorf("another account's key: got %v, %v; want it unrevoked", k, err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(events) != 3 {
		t.Errorf("events: got %d, want one per key revoked (3)", len(events))
	}

	// Without cascade, only the key.
	parent := childKey(t, owner, writer, epoch)
	mustCreateKey(t, s, parent)
	kept := childKey(t, parent, readKey("Kept"), epoch)
	mustCreateKey(t, s, kept)
	got, err = s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: a.ID, ID: parent.ID, At: at})
	if err != nil {
		t.Fatalf("RevokeKeys: %v", err)
	}
	if !slices.Equal(ids(got), []string{parent.ID}) {
		t.Errorf("revoked without cascade: got %v, want only %v", ids(got), parent.ID)
	}
	if k, err := s.Key(t.Context(), a.ID, kept.ID); err != nil || k.Revoked != nil {
		t.Errorf("child without cascade: got %v, %v; want it unrevoked", k, err)
	}
}

// testLifecycleRevokeCheckRefuses checks that a Check refusing any key of
// a cascade changes nothing, and that a key already revoked or of another
// account is ENotFound.
func testLifecycleRevokeCheckRefuses(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	writer := pihu.KeyRequest{Name: "Writer", Permissions: pihu.Permissions{"api_key:*", "candidate:read"}}
	root := childKey(t, owner, writer, epoch)
	mustCreateKey(t, s, root)
	child := childKey(t, root, readKey("Child"), epoch)
	mustCreateKey(t, s, child)

	refusal := pihu.Errorf(pihu.EInsufficientPermissions, "no")
	_, err := s.RevokeKeys(t.Context(), pihu.Revocation{
		AccountID: a.ID, ID: root.ID, At: epoch, Cascade: true,
		Check: func(k *pihu.Key) error {
			if k.ID == child.ID {
				return refusal
			}
			return nil
		},
		Event: revokeEvent(owner.ID, epoch),
	})
	if err != refusal {
		t.Fatalf("RevokeKeys: got %v, want the Check's error", err)
	}
	for _, k := range []*pihu.Key{root, child} {
		stored, err := s.Key(t.Context(), a.ID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkKey(t, stored, k)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	checkEvents(t, events, nil)

	for _, tt := range []struct{ name, account, id string }{
		{"OtherAccount", b.ID, root.ID},
		{"Unknown", a.ID, pihu.NewID(pihu.PrefixKey)},
	} {
		_, err := s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: tt.account, ID: tt.id, At: epoch, Cascade: true})
		checkError(t, err, pihu.ENotFound, "")
	}
	if _, err := s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: a.ID, ID: root.ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	_, err = s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: a.ID, ID: root.ID, At: epoch, Cascade: true})
	checkError(t, err, pihu.ENotFound, "")
}

// testKeysListStartingAfterOtherEnvironment checks that, in a list of one
// environment, the id of a key of the other is as unknown a cursor as an
// id that never existed: the same error, the same message.
func testKeysListStartingAfterOtherEnvironment(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	unknown := pihu.NewID(pihu.PrefixKey)
	_, _, errUnknown := s.ListKeys(t.Context(), pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Test, StartingAfter: unknown})
	_, _, errLive := s.ListKeys(t.Context(), pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Test, StartingAfter: owner.ID})
	checkError(t, errLive, pihu.EParameterInvalid, "starting_after")
	if got, want := pihu.ErrorMessage(errLive), strings.ReplaceAll(pihu.ErrorMessage(errUnknown), unknown, owner.ID); got != want {
		t.Errorf("message: got %q, want the unknown id's %q", got, want)
	}
	if _, _, err := s.ListKeys(t.Context(), pihu.KeyFilter{AccountID: a.ID, StartingAfter: owner.ID}); err != nil {
		t.Errorf("ListKeys of both environments after a live key: %v", err)
	}
}

// testAuditListStartingAfterOtherEnvironment is
// testKeysListStartingAfterOtherEnvironment for audit events.
func testAuditListStartingAfterOtherEnvironment(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := childKey(t, owner, readKey("Live"), epoch)
	ev := pihu.NewAuditEvent(pihu.ActionKeyCreated, owner.ID, "", k, epoch)
	if err := s.CreateKey(t.Context(), k, ev); err != nil {
		t.Fatal(err)
	}
	unknown := pihu.NewID(pihu.PrefixEvent)
	_, _, errUnknown := s.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Environment: pihu.Test, StartingAfter: unknown})
	_, _, errLive := s.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Environment: pihu.Test, StartingAfter: ev.ID})
	checkError(t, errLive, pihu.EParameterInvalid, "starting_after")
	if got, want := pihu.ErrorMessage(errLive), strings.ReplaceAll(pihu.ErrorMessage(errUnknown), unknown, ev.ID); got != want {
		t.Errorf("message: got %q, want the unknown id's %q", got, want)
	}
}

// testLifecycleCascadeRacesCreate checks that keys created by a descendant
// of a key while a cascading revocation of it runs are either revoked by
// the cascade or refused: none outlives the revocation of its ancestor.
func testLifecycleCascadeRacesCreate(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	writer := pihu.KeyRequest{Name: "Writer", Permissions: pihu.Permissions{"api_key:*", "candidate:read"}}
	root := childKey(t, owner, writer, epoch)
	mustCreateKey(t, s, root)
	child := childKey(t, root, writer, epoch)
	mustCreateKey(t, s, child)

	const workers = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []*pihu.Key
	)
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			k := childKey(t, child, readKey("Grandchild"), epoch)
			err := s.CreateKey(t.Context(), k)
			switch pihu.ErrorCode(err) {
			case "":
				mu.Lock()
				created = append(created, k)
				mu.Unlock()
			case pihu.ERevokedAPIKey:
			default:
				t.Errorf("CreateKey: %v", err)
			}
		})
		if i == workers/2 {
			wg.Go(func() {
				<-start
				if _, err := s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: a.ID, ID: root.ID, At: epoch, Cascade: true}); err != nil {
					t.Errorf("RevokeKeys: %v", err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for _, k := range created {
		got, err := s.Key(t.Context(), a.ID, k.ID)
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		if got.Revoked == nil {
			t.Errorf("%s, created by a key under the cascade, outlived it", k.ID)
		}
	}
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
	checkKeys(t, keys, []*pihu.Key{owner})
}
