package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runSigningKeys(t *testing.T, run runFunc) {
	run(t, "CreatedOnFirstNeed", testSigningKeysCreatedOnFirstNeed)
	run(t, "ConcurrentFirstNeed", testSigningKeysConcurrentFirstNeed)
	run(t, "Rotate", testSigningKeysRotate)
	run(t, "RotateEmpty", testSigningKeysRotateEmpty)
	run(t, "RotateDropsOldKeys", testSigningKeysRotateDropsOldKeys)
	run(t, "RecordToken", testSigningKeysRecordToken)
	run(t, "RecordTokenInactiveKey", testSigningKeysRecordTokenInactiveKey)
}

func mustActiveSigningKey(tb testing.TB, s pihu.Store, candidate *pihu.SigningKey) *pihu.SigningKey {
	tb.Helper()
	k, err := s.ActiveSigningKey(tb.Context(), candidate)
	if err != nil {
		tb.Fatalf("ActiveSigningKey: %v", err)
	}
	return k
}

func mustSigningKeys(tb testing.TB, s pihu.Store) []*pihu.SigningKey {
	tb.Helper()
	keys, err := s.SigningKeys(tb.Context())
	if err != nil {
		tb.Fatalf("SigningKeys: %v", err)
	}
	return keys
}

func signingKeyIDs(keys []*pihu.SigningKey) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

func checkSigningKey(tb testing.TB, got, want *pihu.SigningKey) {
	tb.Helper()
	if got.ID != want.ID || got.Algorithm != want.Algorithm {
		tb.Errorf("signing key: got %s %s, want %s %s", got.ID, got.Algorithm, want.ID, want.Algorithm)
	}
	if !bytes.Equal(got.PublicKey, want.PublicKey) || !bytes.Equal(got.PrivateKey, want.PrivateKey) {
		tb.Errorf("signing key %s: the key material did not round-trip", want.ID)
	}
	checkTime(tb, want.ID+" Created", &got.Created, &want.Created)
	checkTime(tb, want.ID+" Retired", got.Retired, want.Retired)
}

// testSigningKeysCreatedOnFirstNeed checks that the first call stores the
// candidate and every later one returns it, whatever candidate it gets.
func testSigningKeysCreatedOnFirstNeed(t *testing.T, s pihu.Store) {
	if keys := mustSigningKeys(t, s); len(keys) != 0 {
		t.Fatalf("SigningKeys of a new store: got %v, want none", signingKeyIDs(keys))
	}
	first := pihu.NewSigningKey(epoch)
	checkSigningKey(t, mustActiveSigningKey(t, s, first), first)
	got := mustActiveSigningKey(t, s, pihu.NewSigningKey(epoch.Add(time.Minute)))
	checkSigningKey(t, got, first)
	keys := mustSigningKeys(t, s)
	if len(keys) != 1 {
		t.Fatalf("SigningKeys: got %v, want [%s]", signingKeyIDs(keys), first.ID)
	}
	checkSigningKey(t, keys[0], first)
}

// testSigningKeysConcurrentFirstNeed checks that instances racing to
// create the first key agree on one.
func testSigningKeysConcurrentFirstNeed(t *testing.T, s pihu.Store) {
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := s.ActiveSigningKey(t.Context(), pihu.NewSigningKey(epoch))
			if err != nil {
				t.Errorf("ActiveSigningKey: %v", err)
				return
			}
			ids[i] = k.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing ActiveSigningKey: got %v, want one key", ids)
		}
	}
	if keys := mustSigningKeys(t, s); len(keys) != 1 || keys[0].ID != ids[0] {
		t.Errorf("SigningKeys: got %v, want [%s]", signingKeyIDs(keys), ids[0])
	}
}

func testSigningKeysRotate(t *testing.T, s pihu.Store) {
	old := mustActiveSigningKey(t, s, pihu.NewSigningKey(epoch))
	next := pihu.NewSigningKey(epoch.Add(time.Hour))
	retired, err := s.RotateSigningKey(t.Context(), next)
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	if retired == nil {
		t.Fatalf("RotateSigningKey: retired nothing, want %s", old.ID)
	}
	wantOld := *old
	wantOld.Retired = timePtr(next.Created)
	checkSigningKey(t, retired, &wantOld)
	checkSigningKey(t, mustActiveSigningKey(t, s, pihu.NewSigningKey(epoch.Add(2*time.Hour))), next)
	keys := mustSigningKeys(t, s)
	if len(keys) != 2 {
		t.Fatalf("SigningKeys: got %v, want [%s %s]", signingKeyIDs(keys), next.ID, old.ID)
	}
	checkSigningKey(t, keys[0], next)
	checkSigningKey(t, keys[1], &wantOld)
	if !keys[1].Published(next.Created.Add(pihu.SigningKeyRetention-time.Second)) || keys[1].Published(next.Created.Add(pihu.SigningKeyRetention)) {
		t.Errorf("a retired key is published for SigningKeyRetention after it retired, then not")
	}
}

func testSigningKeysRotateEmpty(t *testing.T, s pihu.Store) {
	next := pihu.NewSigningKey(epoch)
	retired, err := s.RotateSigningKey(t.Context(), next)
	if err != nil || retired != nil {
		t.Fatalf("RotateSigningKey on an empty store: got %v, %v, want nil, nil", retired, err)
	}
	checkSigningKey(t, mustActiveSigningKey(t, s, pihu.NewSigningKey(epoch)), next)
}

// testSigningKeysRotateDropsOldKeys checks that a rotation deletes the keys
// retired longer ago than SigningKeyRetention, and only those.
func testSigningKeysRotateDropsOldKeys(t *testing.T, s pihu.Store) {
	first := mustActiveSigningKey(t, s, pihu.NewSigningKey(epoch))
	second := pihu.NewSigningKey(epoch.Add(time.Hour))
	third := pihu.NewSigningKey(second.Created.Add(pihu.SigningKeyRetention))
	fourth := pihu.NewSigningKey(third.Created.Add(time.Second))
	for _, k := range []*pihu.SigningKey{second, third} {
		if _, err := s.RotateSigningKey(t.Context(), k); err != nil {
			t.Fatalf("RotateSigningKey: %v", err)
		}
	}
	// first retired at second.Created, exactly SigningKeyRetention before
	// third: kept until a rotation after that.
	if got := signingKeyIDs(mustSigningKeys(t, s)); len(got) != 3 {
		t.Fatalf("SigningKeys: got %v, want [%s %s %s]", got, third.ID, second.ID, first.ID)
	}
	if _, err := s.RotateSigningKey(t.Context(), fourth); err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	got := signingKeyIDs(mustSigningKeys(t, s))
	if want := []string{fourth.ID, third.ID, second.ID}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("SigningKeys: got %v, want %v", got, want)
	}
}

func testSigningKeysRecordToken(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	ev := pihu.NewAuditEvent(pihu.ActionTokenCreated, owner.ID, "203.0.113.7", owner, epoch.Add(time.Minute))
	if err := s.RecordToken(t.Context(), ev); err != nil {
		t.Fatalf("RecordToken: %v", err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(events) == 0 || events[0].ID != ev.ID {
		t.Fatalf("events: got %d, want the token event first", len(events))
	}
	checkEvent(t, events[0], ev)
}

// testSigningKeysRecordTokenInactiveKey checks that a key revoked (or
// expired, or of another account) records no token: the mint fails.
func testSigningKeysRecordTokenInactiveKey(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	k := newKey(t, a.ID, readKey("Minter"), epoch)
	mustCreateKey(t, s, k)
	if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	before, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})

	revoked := pihu.NewAuditEvent(pihu.ActionTokenCreated, k.ID, "", k, epoch.Add(2*time.Minute))
	if err := s.RecordToken(t.Context(), revoked); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
		t.Errorf("RecordToken with a revoked key: got %v, want %s", err, pihu.ERevokedAPIKey)
	}
	foreign := pihu.NewAuditEvent(pihu.ActionTokenCreated, owner.ID, "", owner, epoch.Add(2*time.Minute))
	foreign.AccountID = b.ID
	if err := s.RecordToken(t.Context(), foreign); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
		t.Errorf("RecordToken with another account's key: got %v, want %s", err, pihu.ERevokedAPIKey)
	}
	after, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	if len(after) != len(before) {
		t.Errorf("events after refused RecordToken: got %d, want %d", len(after), len(before))
	}
}
