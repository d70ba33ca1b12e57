package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// runIdempotency runs the subtests of pihu.IdempotencyStore.
func runIdempotency(t *testing.T, run func(*testing.T, string, func(*testing.T, pihu.Store))) {
	run(t, "ReserveCompleteReplay", testIdempotencyReserveCompleteReplay)
	run(t, "ReuseWithAnotherFingerprint", testIdempotencyReuseWithAnotherFingerprint)
	run(t, "ConcurrentReservations", testIdempotencyConcurrentReservations)
	run(t, "Expiry", testIdempotencyExpiry)
	run(t, "StaleLock", testIdempotencyStaleLock)
	run(t, "Release", testIdempotencyRelease)
	run(t, "Scopes", testIdempotencyScopes)
	run(t, "SecretSealed", testIdempotencySecretSealed)
}

// idemKey derives the Idempotency-Key value in scope.
func idemKey(tb testing.TB, scope, value string) *pihu.IdempotencyKey {
	tb.Helper()
	k, err := pihu.NewIdempotencyKey(scope, value)
	if err != nil {
		tb.Fatalf("NewIdempotencyKey(%q, %q): %v", scope, value, err)
	}
	return k
}

// idemRecord is the reservation of k for a POST of body at now.
func idemRecord(k *pihu.IdempotencyKey, body string, now time.Time) *pihu.IdempotencyRecord {
	return &pihu.IdempotencyRecord{
		Lookup:      k.Lookup(),
		Fingerprint: k.Fingerprint("POST", "/v1/candidates", []byte(body)),
		Token:       pihu.NewID(pihu.PrefixRequest),
		Created:     now,
	}
}

func mustReserve(tb testing.TB, s pihu.Store, rec *pihu.IdempotencyRecord) *pihu.IdempotencyRecord {
	tb.Helper()
	existing, err := s.ReserveIdempotency(tb.Context(), rec)
	if err != nil {
		tb.Fatalf("ReserveIdempotency: %v", err)
	}
	return existing
}

func mustComplete(tb testing.TB, s pihu.Store, rec *pihu.IdempotencyRecord, k *pihu.IdempotencyKey, status int, body string) {
	tb.Helper()
	sealed, err := k.Seal(status, pihu.IdempotentResponse{Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(body)})
	if err != nil {
		tb.Fatal(err)
	}
	rec.Status, rec.Response = status, sealed
	if err := s.CompleteIdempotency(tb.Context(), rec); err != nil {
		tb.Fatalf("CompleteIdempotency: %v", err)
	}
}

// checkReserved checks that reserving rec succeeded: no other record came
// back.
func checkReserved(tb testing.TB, s pihu.Store, rec *pihu.IdempotencyRecord) {
	tb.Helper()
	if existing := mustReserve(tb, s, rec); existing != nil {
		tb.Fatalf("ReserveIdempotency: got the record %+v, want the reservation stored (nil)", existing)
	}
}

// checkRecord checks the record the store gave back against want.
func checkRecord(tb testing.TB, got, want *pihu.IdempotencyRecord) {
	tb.Helper()
	if got == nil {
		tb.Fatalf("record: got nil, want %+v", want)
	}
	if !bytes.Equal(got.Lookup, want.Lookup) || !bytes.Equal(got.Fingerprint, want.Fingerprint) || got.Token != want.Token ||
		got.Status != want.Status || !bytes.Equal(got.Response, want.Response) || got.EndedKey != want.EndedKey {
		tb.Errorf("record: got %+v, want %+v", got, want)
	}
	checkTime(tb, "record Created", &got.Created, &want.Created)
}

func testIdempotencyReserveCompleteReplay(t *testing.T, s pihu.Store) {
	k := idemKey(t, "key:key_a", "retry-1")
	rec := idemRecord(k, `{"name":"Ada"}`, epoch)
	checkReserved(t, s, rec)

	// While the first request runs, a retry finds it unfinished.
	retry := idemRecord(k, `{"name":"Ada"}`, epoch.Add(time.Second))
	running := mustReserve(t, s, retry)
	checkRecord(t, running, rec)
	if running.Done() {
		t.Errorf("Done: got true, want false while the request runs")
	}

	rec.EndedKey = true
	mustComplete(t, s, rec, k, 200, `{"id":"cand_1"}`)
	done := mustReserve(t, s, retry)
	checkRecord(t, done, rec)
	got, err := k.Open(done.Status, done.Response)
	if err != nil || string(got.Body) != `{"id":"cand_1"}` || got.Header["Content-Type"] != "application/json" {
		t.Errorf("Open: got %+v (%v), want the response", got, err)
	}
	read, err := s.IdempotencyRecord(t.Context(), k.Lookup(), epoch.Add(time.Minute))
	if err != nil {
		t.Fatalf("IdempotencyRecord: %v", err)
	}
	checkRecord(t, read, rec)

	// A completed record is completed once.
	if err := s.CompleteIdempotency(t.Context(), rec); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("CompleteIdempotency again: got %v, want %v", err, pihu.ENotFound)
	}
	_, err = s.IdempotencyRecord(t.Context(), idemKey(t, "key:key_a", "retry-2").Lookup(), epoch)
	checkError(t, err, pihu.ENotFound, "")
}

func testIdempotencyReuseWithAnotherFingerprint(t *testing.T, s pihu.Store) {
	k := idemKey(t, "key:key_a", "retry-1")
	rec := idemRecord(k, `{"name":"Ada"}`, epoch)
	checkReserved(t, s, rec)
	mustComplete(t, s, rec, k, 200, `{"id":"cand_1"}`)

	other := idemRecord(k, `{"name":"Grace"}`, epoch.Add(time.Minute))
	if bytes.Equal(other.Fingerprint, rec.Fingerprint) {
		t.Fatal("two bodies have one fingerprint")
	}
	got := mustReserve(t, s, other)
	checkRecord(t, got, rec) // the first request's, unchanged
	read, err := s.IdempotencyRecord(t.Context(), k.Lookup(), epoch.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	checkRecord(t, read, rec)
}

func testIdempotencyConcurrentReservations(t *testing.T, s pihu.Store) {
	const workers = 16
	k := idemKey(t, "key:key_a", "retry-1")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []*pihu.IdempotencyRecord
		others  []*pihu.IdempotencyRecord
	)
	for range workers {
		wg.Go(func() {
			rec := idemRecord(k, `{"name":"Ada"}`, epoch)
			existing, err := s.ReserveIdempotency(t.Context(), rec)
			if err != nil {
				t.Errorf("ReserveIdempotency: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if existing == nil {
				winners = append(winners, rec)
			} else {
				others = append(others, existing)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("reservations stored: got %v, want exactly 1 of %v", len(winners), workers)
	}
	for _, o := range others {
		if o.Token != winners[0].Token || o.Done() {
			t.Errorf("a loser got %+v, want the winner's unfinished record (token %s)", o, winners[0].Token)
		}
	}
}

func testIdempotencyExpiry(t *testing.T, s pihu.Store) {
	k := idemKey(t, "key:key_a", "retry-1")
	rec := idemRecord(k, `{"name":"Ada"}`, epoch)
	checkReserved(t, s, rec)
	mustComplete(t, s, rec, k, 200, `{"id":"cand_1"}`)

	last := epoch.Add(pihu.IdempotencyTTL - time.Second)
	checkRecord(t, mustReserve(t, s, idemRecord(k, `{"name":"Ada"}`, last)), rec)
	if _, err := s.IdempotencyRecord(t.Context(), k.Lookup(), last); err != nil {
		t.Errorf("IdempotencyRecord a second before expiry: %v", err)
	}

	// 24 hours on, the record is neither returned nor kept.
	gone := epoch.Add(pihu.IdempotencyTTL)
	_, err := s.IdempotencyRecord(t.Context(), k.Lookup(), gone)
	checkError(t, err, pihu.ENotFound, "")

	// Writing a record purges the expired ones: the old record is not
	// found even by a reader whose clock is behind.
	k2 := idemKey(t, "key:key_a", "retry-2")
	checkReserved(t, s, idemRecord(k2, `{}`, gone))
	_, err = s.IdempotencyRecord(t.Context(), k.Lookup(), epoch.Add(time.Hour))
	checkError(t, err, pihu.ENotFound, "")

	// And the key acts again, with another request if it likes.
	checkReserved(t, s, idemRecord(k, `{"name":"Grace"}`, gone))
}

func testIdempotencyStaleLock(t *testing.T, s pihu.Store) {
	k := idemKey(t, "key:key_a", "retry-1")
	first := idemRecord(k, `{"name":"Ada"}`, epoch)
	checkReserved(t, s, first) // and never completed: its process died

	before := epoch.Add(pihu.IdempotencyLockTimeout - time.Second)
	checkRecord(t, mustReserve(t, s, idemRecord(k, `{"name":"Ada"}`, before)), first)

	after := epoch.Add(pihu.IdempotencyLockTimeout)
	// Another request still may not take the key.
	checkRecord(t, mustReserve(t, s, idemRecord(k, `{"name":"Grace"}`, after)), first)
	// The same request takes the stale reservation over.
	retry := idemRecord(k, `{"name":"Ada"}`, after)
	checkReserved(t, s, retry)
	if err := s.CompleteIdempotency(t.Context(), first); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("CompleteIdempotency by the first holder: got %v, want %v", err, pihu.ENotFound)
	}
	mustComplete(t, s, retry, k, 200, `{"id":"cand_2"}`)
	got, err := s.IdempotencyRecord(t.Context(), k.Lookup(), after)
	if err != nil {
		t.Fatal(err)
	}
	checkRecord(t, got, retry)
}

func testIdempotencyRelease(t *testing.T, s pihu.Store) {
	k := idemKey(t, "key:key_a", "retry-1")
	rec := idemRecord(k, `{"name":"Ada"}`, epoch)
	checkReserved(t, s, rec)

	// Another token releases nothing.
	stranger := *rec
	stranger.Token = pihu.NewID(pihu.PrefixRequest)
	if err := s.ReleaseIdempotency(t.Context(), &stranger); err != nil {
		t.Fatalf("ReleaseIdempotency: %v", err)
	}
	checkRecord(t, mustReserve(t, s, idemRecord(k, `{"name":"Ada"}`, epoch)), rec)

	if err := s.ReleaseIdempotency(t.Context(), rec); err != nil {
		t.Fatalf("ReleaseIdempotency: %v", err)
	}
	retry := idemRecord(k, `{"name":"Ada"}`, epoch.Add(time.Second))
	checkReserved(t, s, retry)

	// A completed record is not released.
	mustComplete(t, s, retry, k, 200, `{"id":"cand_1"}`)
	if err := s.ReleaseIdempotency(t.Context(), retry); err != nil {
		t.Fatalf("ReleaseIdempotency: %v", err)
	}
	got, err := s.IdempotencyRecord(t.Context(), k.Lookup(), epoch.Add(time.Second))
	if err != nil {
		t.Fatalf("IdempotencyRecord after releasing a completed record: %v", err)
	}
	checkRecord(t, got, retry)
}

// testIdempotencyScopes checks that one value in two scopes (two API keys,
// or a key and an address) names two records that never meet.
func testIdempotencyScopes(t *testing.T, s pihu.Store) {
	scopes := []string{"key:key_a", "key:key_b", "ip:203.0.113.7"}
	for i, scope := range scopes {
		k := idemKey(t, scope, "retry-1")
		rec := idemRecord(k, `{"name":"Ada"}`, epoch)
		checkReserved(t, s, rec)
		mustComplete(t, s, rec, k, 200, fmt.Sprintf(`{"scope":%d}`, i))
	}
	for i, scope := range scopes {
		k := idemKey(t, scope, "retry-1")
		got, err := s.IdempotencyRecord(t.Context(), k.Lookup(), epoch)
		if err != nil {
			t.Fatalf("IdempotencyRecord(%s): %v", scope, err)
		}
		resp, err := k.Open(got.Status, got.Response)
		if want := fmt.Sprintf(`{"scope":%d}`, i); err != nil || string(resp.Body) != want {
			t.Errorf("scope %s: got %s (%v), want %s", scope, resp.Body, err, want)
		}
		for _, other := range scopes {
			if other == scope {
				continue
			}
			if _, err := idemKey(t, other, "retry-1").Open(got.Status, got.Response); err == nil {
				t.Errorf("the response of scope %s opens in scope %s", scope, other)
			}
		}
	}
}

// testIdempotencySecretSealed checks that a replayable response showing a
// secret keeps no usable secret at rest: the stored bytes hold neither the
// secret nor the value, and only the value opens them.
func testIdempotencySecretSealed(t *testing.T, s pihu.Store) {
	secret := pihu.NewSecret(pihu.Live)
	const value = "5b0b9bc2-7c1e-4d2a-9f39-5d2f3ef1a001"
	k := idemKey(t, "key:key_a", value)
	rec := idemRecord(k, `{"name":"Deploy","permissions":["*"]}`, epoch)
	checkReserved(t, s, rec)
	mustComplete(t, s, rec, k, 200, `{"id":"key_1","key":"`+secret+`"}`)

	got, err := s.IdempotencyRecord(t.Context(), k.Lookup(), epoch)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{got.Lookup, got.Fingerprint, got.Response, []byte(got.Token)} {
		for _, clear := range []string{secret, secret[len(pihu.SecretPrefix(pihu.Live)):][:20], value, `"key"`} {
			if bytes.Contains(b, []byte(clear)) {
				t.Errorf("a stored field holds %q in clear", clear)
			}
		}
	}
	if _, err := idemKey(t, "key:key_a", value+"x").Open(got.Status, got.Response); err == nil {
		t.Error("the response opens under another value")
	}
	if _, err := k.Open(got.Status+1, got.Response); err == nil {
		t.Error("the response opens with another status")
	}
	resp, err := k.Open(got.Status, got.Response)
	if err != nil || !bytes.Contains(resp.Body, []byte(secret)) {
		t.Errorf("Open: got %s (%v), want the response with the secret", resp.Body, err)
	}
}
