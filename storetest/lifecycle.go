package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func testLifecycleRevoke(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	k := newKey(t, a.ID, readKey("Doomed"), epoch)
	mustCreateKey(t, s, k)
	kept := newKey(t, a.ID, readKey("Kept"), epoch)
	mustCreateKey(t, s, kept)

	at := epoch.Add(time.Hour)
	ev := pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "127.0.0.1", k, at)
	got, err := s.RevokeKey(t.Context(), a.ID, k.ID, at.Add(500*time.Millisecond), ev)
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	want := *k
	want.Revoked = &at // stored to the second
	checkKey(t, got, &want)
	stored, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatalf("KeyByDigest: %v", err)
	}
	checkKey(t, stored, &want)
	if ok, code := stored.Active(at); ok || code != pihu.ERevokedAPIKey {
		t.Errorf("Active after revocation: got (%v, %q), want (false, %q)", ok, code, pihu.ERevokedAPIKey)
	}
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10})
	checkKeys(t, keys, []*pihu.Key{kept, owner})
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{ev})
}

// testLifecycleRevokeNotFound checks that revoking a key twice, another
// account's key or an unknown one is ENotFound and changes nothing.
func testLifecycleRevokeNotFound(t *testing.T, s pihu.Store) {
	a, ownerA := mustCreateAccount(t, s, "Acme")
	b, ownerB := mustCreateAccount(t, s, "Other")
	k := newKey(t, a.ID, readKey("Once"), epoch)
	mustCreateKey(t, s, k)
	first := pihu.NewAuditEvent(pihu.ActionKeyRevoked, ownerA.ID, "127.0.0.1", k, epoch)
	if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch, first); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}

	for _, tt := range []struct {
		name, account, id string
	}{
		{"Twice", a.ID, k.ID},
		{"OtherAccount", b.ID, ownerA.ID},
		{"OtherAccountsRevoked", b.ID, k.ID},
		{"Unknown", a.ID, pihu.NewID(pihu.PrefixKey)},
	} {
		target := &pihu.Key{ID: tt.id, AccountID: tt.account, Environment: pihu.Live}
		ev := pihu.NewAuditEvent(pihu.ActionKeyRevoked, ownerB.ID, "127.0.0.1", target, epoch.Add(time.Hour))
		got, err := s.RevokeKey(t.Context(), tt.account, tt.id, epoch.Add(time.Hour), ev)
		checkError(t, err, pihu.ENotFound, "")
		if got != nil {
			t.Errorf("%s: got key %v with the error, want nil", tt.name, got.ID)
		}
	}
	// Nothing changed: the first revocation time stands, the other owner
	// is active, and the only event is the first.
	stored, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkTime(t, "Revoked", stored.Revoked, &epoch)
	owner, err := s.Key(t.Context(), a.ID, ownerA.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, owner, ownerA)
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{first})
	events, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: b.ID, Limit: 10})
	checkEvents(t, events, nil)
}

// testLifecycleRevokeConcurrent revokes one key from several goroutines:
// exactly one wins, and one event is recorded.
func testLifecycleRevokeConcurrent(t *testing.T, s pihu.Store) {
	const workers = 8
	a, owner := mustCreateAccount(t, s, "Acme")
	k := newKey(t, a.ID, readKey("Contested"), epoch)
	mustCreateKey(t, s, k)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		won      int
		notFound int
	)
	for range workers {
		wg.Go(func() {
			ev := pihu.NewAuditEvent(pihu.ActionKeyRevoked, owner.ID, "127.0.0.1", k, epoch)
			_, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch, ev)
			mu.Lock()
			defer mu.Unlock()
			switch pihu.ErrorCode(err) {
			case "":
				won++
			case pihu.ENotFound:
				notFound++
			default:
				t.Errorf("RevokeKey: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || notFound != workers-1 {
		t.Errorf("revocations: got %d won and %d not found, want 1 and %d", won, notFound, workers-1)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(events) != 1 {
		t.Errorf("events: got %d, want 1", len(events))
	}
}

// successor builds the key that replaces old, created at now.
func successor(tb testing.TB, old *pihu.Key, now time.Time) *pihu.Key {
	tb.Helper()
	// An operator's rotation (no creating key, so no CreatedBy to check);
	// testLifecycleCreatorMustBeActive covers rotations by a key.
	creator := &pihu.Key{AccountID: old.AccountID, Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
	next, _, err := old.Successor(creator, now)
	if err != nil {
		tb.Fatalf("Successor: %v", err)
	}
	return next
}

func rotationEvents(next, old *pihu.Key, actor string) []*pihu.AuditEvent {
	return []*pihu.AuditEvent{
		pihu.NewAuditEvent(pihu.ActionKeyCreated, actor, "127.0.0.1", next, next.Created),
		pihu.NewAuditEvent(pihu.ActionKeyRotated, actor, "127.0.0.1", old, next.Created),
	}
}

func testLifecycleRotateNow(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	old := newKey(t, a.ID, pihu.KeyRequest{Name: "Deploy", Permissions: pihu.Permissions{"candidate:read"}, Expiration: "30d"}, epoch)
	old.RateLimit = pihu.StoredRateLimit("100/m")
	old.AllowedIPs = pihu.StoredAllowedIPs([]string{"10.0.0.0/8"})
	mustCreateKey(t, s, old)

	now := epoch.Add(24 * time.Hour)
	next := successor(t, old, now)
	events := rotationEvents(next, old, owner.ID)
	got, err := s.RotateKey(t.Context(), next, now, events...)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	wantOld := *old
	wantOld.Revoked = &now
	checkKey(t, got, &wantOld)
	stored, err := s.Key(t.Context(), a.ID, old.ID)
	if err != nil {
		t.Fatalf("Key(old): %v", err)
	}
	checkKey(t, stored, &wantOld)
	stored, err = s.KeyByDigest(t.Context(), next.Digest)
	if err != nil {
		t.Fatalf("KeyByDigest(new): %v", err)
	}
	checkKey(t, stored, next)
	if stored.RotatedFrom != old.ID || stored.RateLimit.String() != "100/m" || stored.AllowedIPs.Len() != 1 {
		t.Errorf("new key: got %+v, want the old key's settings", stored)
	}
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10})
	checkKeys(t, keys, []*pihu.Key{next, owner})
	recorded, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, recorded, []*pihu.AuditEvent{events[1], events[0]})
}

// testLifecycleRotateGrace checks that a grace period lowers the old key's
// expiry to the end of the grace, and never raises it.
func testLifecycleRotateGrace(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	now := epoch.Add(time.Hour)
	for _, tt := range []struct {
		name       string
		expiration string // of the old key, created at epoch
		grace      time.Duration
		want       time.Time // the old key's expiry after
	}{
		{"NeverExpired", "", 24 * time.Hour, now.Add(24 * time.Hour)},
		{"ExpiresLater", "30d", 24 * time.Hour, now.Add(24 * time.Hour)},
		{"ExpiresSooner", "2h", 24 * time.Hour, epoch.Add(2 * time.Hour)},
		{"AlreadyExpired", "1h", time.Hour, now},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old := newKey(t, a.ID, pihu.KeyRequest{Name: tt.name, Permissions: pihu.Permissions{"candidate:read"}, Expiration: tt.expiration}, epoch)
			mustCreateKey(t, s, old)
			next := successor(t, old, now)
			got, err := s.RotateKey(t.Context(), next, now.Add(tt.grace), rotationEvents(next, old, "key_x")...)
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			want := *old
			want.Expires = &tt.want
			checkKey(t, got, &want)
			stored, err := s.Key(t.Context(), a.ID, old.ID)
			if err != nil {
				t.Fatalf("Key(old): %v", err)
			}
			checkKey(t, stored, &want)
			if _, err := s.Key(t.Context(), a.ID, next.ID); err != nil {
				t.Errorf("Key(new): %v", err)
			}
		})
	}
}

// testLifecycleRotateNotFound checks that rotating a revoked key, another
// account's or an unknown one is ENotFound and stores nothing.
func testLifecycleRotateNotFound(t *testing.T, s pihu.Store) {
	a, ownerA := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	revoked := newKey(t, a.ID, readKey("Revoked"), epoch)
	revoked.Revoked = &epoch
	mustCreateKey(t, s, revoked)
	unknown := newKey(t, a.ID, readKey("Never stored"), epoch)

	now := epoch.Add(time.Hour)
	stolen := successor(t, ownerA, now)
	stolen.AccountID = b.ID
	for _, next := range []*pihu.Key{successor(t, revoked, now), stolen, successor(t, unknown, now)} {
		old, err := s.RotateKey(t.Context(), next, now, rotationEvents(next, &pihu.Key{ID: next.RotatedFrom, AccountID: next.AccountID, Environment: pihu.Live}, "key_x")...)
		checkError(t, err, pihu.ENotFound, "")
		if old != nil {
			t.Errorf("got key %v with the error, want nil", old.ID)
		}
		_, err = s.KeyByDigest(t.Context(), next.Digest)
		checkError(t, err, pihu.ENotFound, "")
	}
	owner, err := s.Key(t.Context(), a.ID, ownerA.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	checkKey(t, owner, ownerA)
	for _, acct := range []string{a.ID, b.ID} {
		events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: acct, Limit: 10})
		checkEvents(t, events, nil)
	}
}

// testLifecycleRotateIsAtomic checks that a successor that cannot be
// stored leaves the old key as it was and records nothing.
func testLifecycleRotateIsAtomic(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	old := newKey(t, a.ID, readKey("Old"), epoch)
	mustCreateKey(t, s, old)
	now := epoch.Add(time.Hour)
	for _, retire := range []time.Time{now, now.Add(time.Hour)} {
		next := successor(t, old, now)
		next.Digest = owner.Digest
		if _, err := s.RotateKey(t.Context(), next, retire, rotationEvents(next, old, owner.ID)...); err == nil {
			t.Fatal("RotateKey with a duplicate digest: got nil error, want one")
		}
		stored, err := s.Key(t.Context(), a.ID, old.ID)
		if err != nil {
			t.Fatalf("Key(old): %v", err)
		}
		checkKey(t, stored, old)
		_, err = s.Key(t.Context(), a.ID, next.ID)
		checkError(t, err, pihu.ENotFound, "")
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, nil)
}
