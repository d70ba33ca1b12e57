package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// ownerEvent is the audit event of an owner key made by the operator.
func ownerEvent(k *pihu.Key, at time.Time) *pihu.AuditEvent {
	return pihu.NewAuditEvent(pihu.ActionKeyCreated, pihu.ActorOperator, "", k, at)
}

// newAccount builds (but does not store) an account created at epoch and
// its owner key.
func newAccount(tb testing.TB, name string) (*pihu.Account, *pihu.Key) {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: name, Created: epoch}
	return a, newKey(tb, a.ID, pihu.OwnerKeyRequest(), epoch)
}

func testAccountsCreateRecordsEvents(t *testing.T, s pihu.Store) {
	a, owner := newAccount(t, "Acme")
	ev := ownerEvent(owner, epoch)
	if err := s.CreateAccount(t.Context(), a, owner, ev); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{ev})
	if ev.Actor != pihu.ActorOperator || ev.Target != owner.ID || ev.Environment != pihu.Live || ev.IP != "" {
		t.Errorf("event: got %+v, want the operator creating %s", ev, owner.ID)
	}
}

// testAccountsCreateEventIsAtomic checks that an account whose event cannot
// be stored is not stored, and neither is its key.
func testAccountsCreateEventIsAtomic(t *testing.T, s pihu.Store) {
	first, firstOwner := newAccount(t, "First")
	firstEvent := ownerEvent(firstOwner, epoch)
	if err := s.CreateAccount(t.Context(), first, firstOwner, firstEvent); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	a, owner := newAccount(t, "Second")
	ev := ownerEvent(owner, epoch)
	ev.ID = firstEvent.ID
	if err := s.CreateAccount(t.Context(), a, owner, ev); err == nil {
		t.Fatal("CreateAccount with a duplicate event id: got nil error, want one")
	}
	_, err := s.Account(t.Context(), a.ID)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.KeyByDigest(t.Context(), owner.Digest)
	checkError(t, err, pihu.ENotFound, "")
	checkCount(t, s, 1)
}

func testAccountsCreateFirst(t *testing.T, s pihu.Store) {
	a, owner := newAccount(t, "Default")
	ev := ownerEvent(owner, epoch)
	created, err := s.CreateFirstAccount(t.Context(), a, owner, ev)
	if err != nil || !created {
		t.Fatalf("CreateFirstAccount on an empty store: got %v, %v; want true, nil", created, err)
	}
	got, err := s.Account(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	if got.Name != "Default" || !got.Created.Equal(epoch) {
		t.Errorf("Account: got %+v, want %+v", got, a)
	}
	k, err := s.Key(t.Context(), a.ID, owner.ID)
	if err != nil {
		t.Fatalf("Key(owner): %v", err)
	}
	checkKey(t, k, owner)
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{ev})

	// A second first start stores nothing.
	b, other := newAccount(t, "Default")
	created, err = s.CreateFirstAccount(t.Context(), b, other, ownerEvent(other, epoch))
	if err != nil || created {
		t.Fatalf("CreateFirstAccount on a store with an account: got %v, %v; want false, nil", created, err)
	}
	_, err = s.Account(t.Context(), b.ID)
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.KeyByDigest(t.Context(), other.Digest)
	checkError(t, err, pihu.ENotFound, "")
	events, _ = mustListEvents(t, s, pihu.AuditFilter{AccountID: b.ID, Limit: 10})
	checkEvents(t, events, nil)
	checkCount(t, s, 1)
}

func testAccountsCreateFirstInvalid(t *testing.T, s pihu.Store) {
	a, owner := newAccount(t, "")
	created, err := s.CreateFirstAccount(t.Context(), a, owner)
	checkError(t, err, pihu.EParameterMissing, "name")
	if created {
		t.Errorf("created: got true for an invalid account")
	}
	checkCount(t, s, 0)
}

// testAccountsCreateFirstConcurrent races first starts on one empty store:
// exactly one may create its account.
func testAccountsCreateFirstConcurrent(t *testing.T, s pihu.Store) {
	const workers = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		start   = make(chan struct{})
	)
	for range workers {
		a, owner := newAccount(t, "Default")
		wg.Go(func() {
			<-start
			created, err := s.CreateFirstAccount(t.Context(), a, owner, ownerEvent(owner, epoch))
			if err != nil {
				t.Errorf("CreateFirstAccount: %v", err)
				return
			}
			if created {
				mu.Lock()
				winners = append(winners, a.ID)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("CreateFirstAccount returned true %d times, want once", len(winners))
	}
	checkCount(t, s, 1)
	list := mustListAccounts(t, s, epoch)
	if len(list) != 1 || list[0].ID != winners[0] || list[0].Keys != 1 {
		t.Errorf("ListAccounts: got %v, want the winner %s with 1 key", summaries(list), winners[0])
	}
}

func testAccountsCreateOwnerKey(t *testing.T, s pihu.Store) {
	a, lost := mustCreateAccount(t, s, "Acme")
	revoked := newKey(t, a.ID, pihu.OwnerKeyRequest(), epoch)
	revoked.Revoked = timePtr(epoch)
	mustCreateKey(t, s, revoked)

	at := epoch.Add(time.Hour)
	k := newKey(t, a.ID, pihu.OwnerKeyRequest(), at)
	ev := ownerEvent(k, at)
	if err := s.CreateOwnerKey(t.Context(), k, ev); err != nil {
		t.Fatalf("CreateOwnerKey: %v", err)
	}
	got, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatalf("KeyByDigest: %v", err)
	}
	checkKey(t, got, k)
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{ev})
	// The account's other keys are as they were.
	got, err = s.Key(t.Context(), a.ID, lost.ID)
	if err != nil {
		t.Fatalf("Key(owner): %v", err)
	}
	checkKey(t, got, lost)
	checkCount(t, s, 1)
}

func testAccountsCreateOwnerKeyNotFound(t *testing.T, s pihu.Store) {
	mustCreateAccount(t, s, "Acme")
	k := newKey(t, pihu.NewID(pihu.PrefixAccount), pihu.OwnerKeyRequest(), epoch)
	err := s.CreateOwnerKey(t.Context(), k, ownerEvent(k, epoch))
	checkError(t, err, pihu.ENotFound, "")
	_, err = s.KeyByDigest(t.Context(), k.Digest)
	checkError(t, err, pihu.ENotFound, "")
	checkCount(t, s, 1)
}

// testAccountsCreateOwnerKeyIsAtomic checks that a key whose event cannot be
// stored is not stored.
func testAccountsCreateOwnerKeyIsAtomic(t *testing.T, s pihu.Store) {
	a, owner := newAccount(t, "Acme")
	first := ownerEvent(owner, epoch)
	if err := s.CreateAccount(t.Context(), a, owner, first); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	k := newKey(t, a.ID, pihu.OwnerKeyRequest(), epoch)
	ev := ownerEvent(k, epoch)
	ev.ID = first.ID
	if err := s.CreateOwnerKey(t.Context(), k, ev); err == nil {
		t.Fatal("CreateOwnerKey with a duplicate event id: got nil error, want one")
	}
	_, err := s.KeyByDigest(t.Context(), k.Digest)
	checkError(t, err, pihu.ENotFound, "")
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 10})
	checkEvents(t, events, []*pihu.AuditEvent{first})
}

func testAccountsList(t *testing.T, s pihu.Store) {
	if list := mustListAccounts(t, s, epoch); list == nil || len(list) != 0 {
		t.Errorf("ListAccounts on an empty store: got %#v, want an empty list", list)
	}

	// Stored newest first, listed oldest first.
	later := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Later", Created: epoch.Add(time.Hour)}
	if err := s.CreateAccount(t.Context(), later, newKey(t, later.ID, pihu.OwnerKeyRequest(), later.Created)); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	a, _ := mustCreateAccount(t, s, "Acme")
	at := epoch.Add(2 * time.Hour)
	revoked := newKey(t, a.ID, readKey("Revoked"), epoch)
	revoked.Revoked = timePtr(epoch.Add(time.Minute))
	expired := newKey(t, a.ID, pihu.KeyRequest{Name: "Expired", Permissions: pihu.Permissions{"candidate:read"}, Expiration: "1h"}, epoch)
	expiresNow := newKey(t, a.ID, pihu.KeyRequest{Name: "Expires at the listing", Permissions: pihu.Permissions{"candidate:read"}, Expiration: "2h"}, epoch)
	expiresLater := newKey(t, a.ID, pihu.KeyRequest{Name: "Expires later", Permissions: pihu.Permissions{"candidate:read"}, Expiration: "1d"}, epoch)
	test := newKey(t, a.ID, pihu.KeyRequest{Name: "Test", Permissions: pihu.Permissions{"candidate:read"}, Environment: pihu.Test}, epoch)
	disabled := newKey(t, a.ID, readKey("Disabled"), epoch)
	disabled.Disabled = true
	for _, k := range []*pihu.Key{revoked, expired, expiresNow, expiresLater, test, disabled} {
		mustCreateKey(t, s, k)
	}

	list := mustListAccounts(t, s, at)
	want := []string{
		fmt.Sprintf("%s Acme %s 3", a.ID, epoch.Format(time.RFC3339)), // owner, expiresLater, test; not disabled
		fmt.Sprintf("%s Later %s 1", later.ID, later.Created.Format(time.RFC3339)),
	}
	if got := summaries(list); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListAccounts: got %v, want %v", got, want)
	}
	for _, acct := range list {
		if acct.Created.Location() != time.UTC {
			t.Errorf("account %s: Created %v is not in UTC", acct.ID, acct.Created)
		}
	}
	// Counted at another time, other keys work.
	list = mustListAccounts(t, s, epoch.Add(30*time.Second))
	if len(list) != 2 || list[0].Keys != 6 {
		t.Errorf("ListAccounts before the revocation and expiries: got %v, want 6 keys for %s", summaries(list), a.ID)
	}
}

func mustListAccounts(tb testing.TB, s pihu.Store, at time.Time) []*pihu.AccountSummary {
	tb.Helper()
	list, err := s.ListAccounts(tb.Context(), at)
	if err != nil {
		tb.Fatalf("ListAccounts: %v", err)
	}
	return list
}

// summaries formats each account of a list as "ID NAME CREATED KEYS".
func summaries(list []*pihu.AccountSummary) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = fmt.Sprintf("%s %s %s %d", a.ID, a.Name, a.Created.Format(time.RFC3339), a.Keys)
	}
	return out
}
