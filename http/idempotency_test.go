package http_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// post sends a POST with key as bearer token and idem as Idempotency-Key
// ("" for none).
func (ts *testServer) post(tb testing.TB, path, key, body, idem string) response {
	tb.Helper()
	return ts.doWith(tb, "POST", path, body, map[string]string{
		"Authorization": bearer(key), "Content-Type": contentType(body), "Idempotency-Key": idem,
	})
}

// checkReplay checks that got replays first: the same status and body,
// marked as a replay, under a request id of its own.
func checkReplay(tb testing.TB, got, first response) {
	tb.Helper()
	if got.status != first.status || !bytes.Equal(got.body, first.body) {
		tb.Errorf("replay: got %d %s, want %d %s", got.status, got.body, first.status, first.body)
	}
	if v := got.header.Get("Idempotent-Replayed"); v != "true" {
		tb.Errorf("Idempotent-Replayed: got %q, want true", v)
	}
	if got.header.Get("Request-Id") == first.header.Get("Request-Id") {
		tb.Errorf("Request-Id: the replay has the first request's, %s", got.header.Get("Request-Id"))
	}
	if got.header.Get("Content-Type") != "application/json" {
		tb.Errorf("Content-Type: got %q, want application/json", got.header.Get("Content-Type"))
	}
}

// checkActed checks that r is a response of its own, not a replay.
func checkActed(tb testing.TB, r response, status int) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status: got %d %s, want %d", r.status, r.body, status)
	}
	if v := r.header.Get("Idempotent-Replayed"); v != "" {
		tb.Errorf("Idempotent-Replayed: got %q on a response that is not a replay", v)
	}
}

func checkCode(tb testing.TB, r response, status int, code, param string) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status: got %d %s, want %d %s", r.status, r.body, status, code)
	}
	if e := r.errorBody(tb); e.Code != code || e.Param != param {
		tb.Errorf("error: got %q (param %q), want %q (param %q): %s", e.Code, e.Param, code, param, e.Message)
	}
}

// count returns how many items a list path shows to key (up to 100).
func (ts *testServer) count(tb testing.TB, key, path string) int {
	tb.Helper()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	ts.do(tb, "GET", path+"?limit=100", key, "").decode(tb, &page)
	return len(page.Data)
}

// TestIdempotency_Replay sends every POST twice with one Idempotency-Key:
// the retry gets the first response, status and body, and creates,
// revokes, spends and records nothing; the same key with another body is
// a 400, and the same request without the header acts each time.
func TestIdempotency_Replay(t *testing.T) {
	ts := newTestServer(t)
	rotating := ts.newKey(t, ts.Owner, `{"name":"rotating","permissions":["candidate:read"]}`)
	verified := ts.newKey(t, ts.Owner, `{"name":"verified","permissions":["candidate:read"],"rate_limit":"100/m"}`)
	leaked := ts.newKey(t, ts.Owner, `{"name":"leaked","permissions":["candidate:read"]}`)
	cand := ts.newCandidate(t, ts.Owner, "Ada")

	// counts are what each endpoint changes, and the audit log.
	counts := func(t *testing.T) string {
		return fmt.Sprintf("keys %d, events %d, candidates %d, interviews %d",
			len(ts.listAll(t, ts.Owner)), len(ts.events(t, ts.Owner)),
			ts.count(t, ts.Owner, "/v1/candidates"), ts.count(t, ts.Owner, "/v1/interviews"))
	}
	for _, tt := range []struct {
		name, path, key, body, other string
		check                        func(t *testing.T, first response)
	}{
		{name: "CreateKey", path: "/v1/auth/api-keys", key: ts.Owner,
			body:  `{"name":"Deploy","permissions":["candidate:read"]}`,
			other: `{"name":"Deploy 2","permissions":["candidate:read"]}`,
			check: func(t *testing.T, first response) {
				var k pihuhttp.KeyCreated
				first.decode(t, &k)
				ts.works(t, k.Key, 200, "") // the replayed secret is the key's
			}},
		{name: "Rotate", path: "/v1/auth/api-keys/" + rotating.ID + "/rotate", key: ts.Owner,
			body: `{"expire_old_in":"1h"}`, other: `{"expire_old_in":"2h"}`,
			check: func(t *testing.T, first response) {
				ts.works(t, rotated(t, first).Key, 200, "")
			}},
		{name: "Candidate", path: "/v1/candidates", key: ts.Owner,
			body:  `{"name":"Grace","email":"grace@example.com"}`,
			other: `{"name":"Grace","email":"grace@example.org"}`},
		{name: "Interview", path: "/v1/interviews", key: ts.Owner,
			body:  `{"candidate_id":"` + cand.ID + `","position":"Engineer"}`,
			other: `{"candidate_id":"` + cand.ID + `","position":"Manager"}`},
		{name: "Verify", path: "/v1/auth/verify", key: ts.Owner,
			body: `{"key":"` + verified.Key + `"}`, other: `{"key":"` + verified.Key + `","permissions":["candidate:read"]}`,
			check: func(t *testing.T, first response) {
				// A replay spends none of the verified key's limit.
				var a, b pihuhttp.VerifyResult
				ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+verified.Key+`"}`).decode(t, &a)
				checkReplay(t, ts.post(t, "/v1/auth/verify", ts.Owner, `{"key":"`+verified.Key+`"}`, "retry-Verify"), first)
				ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+verified.Key+`"}`).decode(t, &b)
				if a.RateLimit == nil || b.RateLimit == nil || b.RateLimit.Remaining != a.RateLimit.Remaining-1 {
					t.Errorf("remaining after a replay and a verification: got %+v, want %+v less 1", b.RateLimit, a.RateLimit)
				}
			}},
		{name: "LeakedKeys", path: "/v1/auth/leaked-keys",
			body: `{"keys":["` + leaked.Key + `"]}`, other: `{"keys":["` + leaked.Key + `","x"]}`,
			check: func(t *testing.T, first response) {
				// A second report would revoke nothing: the replay
				// says what the first one did.
				if string(first.body) != "{\"revoked\":1}\n" {
					t.Errorf("first report: got %s, want {\"revoked\":1}", first.body)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			idem := "retry-" + tt.name
			first := ts.post(t, tt.path, tt.key, tt.body, idem)
			checkActed(t, first, 200)
			before := counts(t)

			ts.Clock.Add(time.Hour)
			for range 2 {
				checkReplay(t, ts.post(t, tt.path, tt.key, tt.body, idem), first)
			}
			if after := counts(t); after != before {
				t.Errorf("after the replays: got %s, want %s", after, before)
			}
			checkCode(t, ts.post(t, tt.path, tt.key, tt.other, idem), 400, "idempotency_key_reused", "Idempotency-Key")
			if after := counts(t); after != before {
				t.Errorf("after the reuse: got %s, want %s", after, before)
			}
			if tt.check != nil {
				tt.check(t, first)
			}
		})
	}

	// Another method or path with a key already used is a reuse too.
	t.Run("ReuseOnAnotherPath", func(t *testing.T) {
		checkCode(t, ts.post(t, "/v1/candidates", ts.Owner, `{"name":"Deploy","permissions":["candidate:read"]}`, "retry-CreateKey"),
			400, "idempotency_key_reused", "Idempotency-Key")
		checkCode(t, ts.post(t, "/v1/auth/api-keys?x=1", ts.Owner, `{"name":"Deploy","permissions":["candidate:read"]}`, "retry-CreateKey"),
			400, "idempotency_key_reused", "Idempotency-Key")
	})

	t.Run("WithoutTheHeaderActsEachTime", func(t *testing.T) {
		before := len(ts.listAll(t, ts.Owner))
		body := `{"name":"Twice","permissions":["candidate:read"]}`
		a, b := ts.post(t, "/v1/auth/api-keys", ts.Owner, body, ""), ts.post(t, "/v1/auth/api-keys", ts.Owner, body, "")
		checkActed(t, a, 200)
		checkActed(t, b, 200)
		if bytes.Equal(a.body, b.body) || len(ts.listAll(t, ts.Owner)) != before+2 {
			t.Errorf("two creations without the header: got %d keys more, want 2", len(ts.listAll(t, ts.Owner))-before)
		}
	})

	// A replay spends the calling key's rate limit like any request.
	t.Run("ReplayCountsAsARequest", func(t *testing.T) {
		first := ts.post(t, "/v1/candidates", ts.Owner, `{"name":"Limits","email":"l@example.com"}`, "retry-limits")
		r := ts.post(t, "/v1/candidates", ts.Owner, `{"name":"Limits","email":"l@example.com"}`, "retry-limits")
		checkReplay(t, r, first)
		if r.header.Get("Ratelimit-Remaining") == "" || r.header.Get("Ratelimit-Remaining") == first.header.Get("Ratelimit-Remaining") {
			t.Errorf("Ratelimit-Remaining: got %q after %q, want the replay's own", r.header.Get("Ratelimit-Remaining"), first.header.Get("Ratelimit-Remaining"))
		}
	})
}

// TestIdempotency_Errors checks which responses are kept: a refusal of
// the request (4xx) is replayed; a failed authentication or rate limit is
// not, so that the retry that passes them acts.
func TestIdempotency_Errors(t *testing.T) {
	ts := newTestServer(t)
	t.Run("RefusalReplayed", func(t *testing.T) {
		first := ts.post(t, "/v1/auth/api-keys", ts.Owner, `{"permissions":["candidate:read"]}`, "bad-1")
		checkCode(t, first, 400, "parameter_missing", "name")
		r := ts.post(t, "/v1/auth/api-keys", ts.Owner, `{"permissions":["candidate:read"]}`, "bad-1")
		checkReplay(t, r, first)
		// The body is the first request's, its request_id included.
		if r.errorBody(t).RequestID != first.header.Get("Request-Id") {
			t.Errorf("request_id: got %s, want the first request's", r.errorBody(t).RequestID)
		}
	})
	t.Run("ForbiddenReplayedWithItsChallenge", func(t *testing.T) {
		narrow := ts.newKey(t, ts.Owner, `{"name":"narrow","permissions":["api_key:write"]}`).Key
		body := `{"name":"wide","permissions":["*"]}`
		first := ts.post(t, "/v1/auth/api-keys", narrow, body, "escalate")
		checkCode(t, first, 403, "insufficient_permissions", "permissions")
		r := ts.post(t, "/v1/auth/api-keys", narrow, body, "escalate")
		checkReplay(t, r, first)
		if got, want := r.header.Get("WWW-Authenticate"), first.header.Get("WWW-Authenticate"); got == "" || got != want {
			t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
		}
	})
	t.Run("UnauthenticatedNotStored", func(t *testing.T) {
		body := `{"name":"Ada","email":"ada@example.com"}`
		checkCode(t, ts.post(t, "/v1/candidates", "ph_live_wrong", body, "auth-1"), 401, "invalid_api_key", "")
		checkActed(t, ts.post(t, "/v1/candidates", ts.Owner, body, "auth-1"), 200)
	})
	t.Run("RateLimitedNotStored", func(t *testing.T) {
		limited := ts.newKey(t, ts.Owner, `{"name":"slow","permissions":["candidate:write"],"rate_limit":"1/m"}`).Key
		body := `{"name":"Ada","email":"ada@example.com"}`
		ts.works(t, limited, 200, "")
		checkCode(t, ts.post(t, "/v1/candidates", limited, body, "limit-1"), 429, "rate_limited", "")
		ts.Clock.Add(time.Minute)
		checkActed(t, ts.post(t, "/v1/candidates", limited, body, "limit-1"), 200)
	})
}

// failingStore fails the next CreateCandidate, as a database fault would.
type failingStore struct {
	pihu.Store
	fail atomic.Bool
}

func (s *failingStore) CreateCandidate(ctx context.Context, c *pihu.Candidate) error {
	if s.fail.Swap(false) {
		return errors.New("disk I/O error")
	}
	return s.Store.CreateCandidate(ctx, c)
}

// TestIdempotency_FaultNotStored checks that after a 500 the key is free:
// the retry acts, and the retry after that replays it.
func TestIdempotency_FaultNotStored(t *testing.T) {
	var store *failingStore
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		store = &failingStore{Store: o.Store}
		o.Store = store
	})
	body := `{"name":"Ada","email":"ada@example.com"}`
	store.fail.Store(true)
	checkCode(t, ts.post(t, "/v1/candidates", ts.Owner, body, "fault-1"), 500, "internal", "")
	first := ts.post(t, "/v1/candidates", ts.Owner, body, "fault-1")
	checkActed(t, first, 200)
	checkReplay(t, ts.post(t, "/v1/candidates", ts.Owner, body, "fault-1"), first)
	if n := ts.count(t, ts.Owner, "/v1/candidates"); n != 1 {
		t.Errorf("candidates: got %d, want 1", n)
	}
}

// TestIdempotency_Concurrent sends one creation many times at once with
// one key: exactly one key is created, and every answer is its response or
// a 409.
func TestIdempotency_Concurrent(t *testing.T) {
	ts := newTestServer(t)
	before := len(ts.listAll(t, ts.Owner))
	body := `{"name":"Once","permissions":["candidate:read"]}`
	const workers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		responses []response
	)
	for range workers {
		wg.Go(func() {
			r := ts.post(t, "/v1/auth/api-keys", ts.Owner, body, "at-once")
			mu.Lock()
			responses = append(responses, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	var created []byte
	for _, r := range responses {
		switch r.status {
		case 200:
			if created != nil && !bytes.Equal(r.body, created) {
				t.Errorf("two different keys: %s and %s", created, r.body)
			}
			created = r.body
		case 409:
			checkCode(t, r, 409, "idempotency_key_in_use", "")
		default:
			t.Errorf("got %d %s, want 200 or 409", r.status, r.body)
		}
	}
	if created == nil {
		t.Fatal("no request got the key")
	}
	if n := len(ts.listAll(t, ts.Owner)); n != before+1 {
		t.Errorf("keys: got %d more, want 1", n-before)
	}
}

// TestIdempotency_InProgress holds a key's record as a running request
// would: a retry is a 409, until the record's lock goes stale (its
// request died with its process) and the retry acts.
func TestIdempotency_InProgress(t *testing.T) {
	ts := newTestServer(t)
	const path, body, idem = "/v1/candidates", `{"name":"Ada","email":"ada@example.com"}`, "running-1"
	ik, err := pihu.NewIdempotencyKey("key:"+ts.ownerID(t), idem)
	if err != nil {
		t.Fatal(err)
	}
	held := &pihu.IdempotencyRecord{
		Lookup: ik.Lookup(), Fingerprint: ik.Fingerprint("POST", path, []byte(body)),
		Token: pihu.NewID(pihu.PrefixRequest), Created: ts.Clock.Now(),
	}
	if existing, err := ts.Store.ReserveIdempotency(t.Context(), held); err != nil || existing != nil {
		t.Fatalf("ReserveIdempotency: %v %v", existing, err)
	}

	r := ts.post(t, path, ts.Owner, body, idem)
	checkCode(t, r, 409, "idempotency_key_in_use", "")
	if !strings.Contains(r.errorBody(t).Message, "still running") {
		t.Errorf("message: got %q, want it to say the request is still running", r.errorBody(t).Message)
	}
	// Another body is a reuse even while the first runs.
	checkCode(t, ts.post(t, path, ts.Owner, `{"name":"Grace","email":"g@example.com"}`, idem), 400, "idempotency_key_reused", "Idempotency-Key")

	ts.Clock.Add(pihu.IdempotencyLockTimeout - time.Second)
	checkCode(t, ts.post(t, path, ts.Owner, body, idem), 409, "idempotency_key_in_use", "")
	ts.Clock.Add(time.Second)
	first := ts.post(t, path, ts.Owner, body, idem)
	checkActed(t, first, 200)
	checkReplay(t, ts.post(t, path, ts.Owner, body, idem), first)
	if n := ts.count(t, ts.Owner, "/v1/candidates"); n != 1 {
		t.Errorf("candidates: got %d, want 1", n)
	}
}

// TestIdempotency_Expiry checks that a response is replayed for 24 hours,
// and that after them the key acts again.
func TestIdempotency_Expiry(t *testing.T) {
	ts := newTestServer(t)
	body := `{"name":"Daily","permissions":["candidate:read"]}`
	first := ts.post(t, "/v1/auth/api-keys", ts.Owner, body, "daily")
	checkActed(t, first, 200)
	ts.Clock.Add(pihu.IdempotencyTTL - time.Second)
	checkReplay(t, ts.post(t, "/v1/auth/api-keys", ts.Owner, body, "daily"), first)
	ts.Clock.Add(time.Second)
	again := ts.post(t, "/v1/auth/api-keys", ts.Owner, body, "daily")
	checkActed(t, again, 200)
	if bytes.Equal(again.body, first.body) {
		t.Error("after 24 hours: got the first response again, want a new key")
	}
	// And another body may use the key now.
	checkActed(t, ts.post(t, "/v1/candidates", ts.Owner, `{"name":"Ada","email":"ada@example.com"}`, "daily-2"), 200)
}

// TestIdempotency_Scopes checks that a record belongs to the key that made
// it: another key of the same account, or of another account, or a
// request without a key, with the same Idempotency-Key acts on its own and
// never sees the record.
func TestIdempotency_Scopes(t *testing.T) {
	ts := newTestServer(t)
	second := ts.newKey(t, ts.Owner, `{"name":"second","permissions":["*"]}`).Key
	_, otherOwner := ts.newAccount(t, "Other")
	body := `{"name":"Deploy","permissions":["candidate:read"]}`
	const idem = "shared-value"
	first := ts.post(t, "/v1/auth/api-keys", ts.Owner, body, idem)
	checkActed(t, first, 200)
	for name, key := range map[string]string{"SameAccount": second, "OtherAccount": otherOwner} {
		t.Run(name, func(t *testing.T) {
			r := ts.post(t, "/v1/auth/api-keys", key, body, idem)
			checkActed(t, r, 200)
			if bytes.Equal(r.body, first.body) {
				t.Error("another key got the first key's response")
			}
		})
	}
	t.Run("NoKey", func(t *testing.T) {
		checkActed(t, ts.post(t, "/v1/auth/leaked-keys", "", `{"keys":[]}`, idem), 200)
	})
}

// TestIdempotency_NoSecretAtRest checks that the stored response of a key
// creation holds the secret only sealed under the Idempotency-Key.
func TestIdempotency_NoSecretAtRest(t *testing.T) {
	ts := newTestServer(t)
	const idem = "3f1d2c4b-5a69-4788-9aab-bccdde0f1011"
	r := ts.post(t, "/v1/auth/api-keys", ts.Owner, `{"name":"Deploy","permissions":["*"]}`, idem)
	var k pihuhttp.KeyCreated
	r.decode(t, &k)
	ik, err := pihu.NewIdempotencyKey("key:"+ts.ownerID(t), idem)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ts.Store.IdempotencyRecord(t.Context(), ik.Lookup(), ts.Clock.Now())
	if err != nil {
		t.Fatalf("IdempotencyRecord: %v", err)
	}
	for _, clear := range []string{k.Key, k.Key[8:28], k.ID, idem} {
		for _, stored := range [][]byte{rec.Lookup, rec.Fingerprint, rec.Response, []byte(rec.Token)} {
			if bytes.Contains(stored, []byte(clear)) {
				t.Errorf("the stored record holds %q in clear", clear)
			}
		}
	}
	resp, err := ik.Open(rec.Status, rec.Response)
	if err != nil || !bytes.Equal(resp.Body, r.body) {
		t.Errorf("Open: got %s (%v), want the response", resp.Body, err)
	}
}

// TestIdempotency_EndedKey is the lockout the header exists for: a key
// rotates itself with expire_old_in "now" and the response is lost. The
// old key no longer works, but its retry of that very request gets the
// response, and the new key in it; nothing else.
func TestIdempotency_EndedKey(t *testing.T) {
	ts := newTestServer(t)
	self := ts.newKey(t, ts.Owner, `{"name":"self","permissions":["api_key:write","api_key:read"]}`)
	path := "/v1/auth/api-keys/" + self.ID + "/rotate"
	const idem, body = "rotate-self", `{"expire_old_in":"now"}`
	first := ts.post(t, path, self.Key, body, idem)
	checkActed(t, first, 200)
	ts.works(t, self.Key, 401, "revoked_api_key")
	keys := len(ts.listAll(t, ts.Owner))

	ts.Clock.Add(time.Hour)
	r := ts.post(t, path, self.Key, body, idem)
	checkReplay(t, r, first)
	next := rotated(t, r)
	ts.works(t, next.Key, 200, "")
	if n := len(ts.listAll(t, ts.Owner)); n != keys {
		t.Errorf("keys after the replay: got %d, want %d", n, keys)
	}

	for _, tt := range []struct{ name, path, body, idem string }{
		{"OtherBody", path, `{"expire_old_in":"1h"}`, idem},
		{"OtherIdempotencyKey", path, body, "rotate-self-2"},
		{"NoIdempotencyKey", path, body, ""},
		{"OtherPath", "/v1/auth/api-keys", body, idem},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkCode(t, ts.post(t, tt.path, self.Key, tt.body, tt.idem), 401, "revoked_api_key", "")
		})
	}
	t.Run("NotAfter24Hours", func(t *testing.T) {
		ts.Clock.Add(pihu.IdempotencyTTL)
		checkCode(t, ts.post(t, path, self.Key, body, idem), 401, "revoked_api_key", "")
	})

	// A grace period that ran out is an end too.
	t.Run("Expired", func(t *testing.T) {
		graced := ts.newKey(t, ts.Owner, `{"name":"graced","permissions":["api_key:write"]}`)
		path := "/v1/auth/api-keys/" + graced.ID + "/rotate"
		first := ts.post(t, path, graced.Key, `{"expire_old_in":"1h"}`, "rotate-graced")
		checkActed(t, first, 200)
		ts.Clock.Add(time.Hour)
		ts.works(t, graced.Key, 401, "expired_api_key")
		checkReplay(t, ts.post(t, path, graced.Key, `{"expire_old_in":"1h"}`, "rotate-graced"), first)
	})

	// A key revoked by someone else gets no replay of its records: the
	// holder of a leaked and revoked key learns nothing more with it.
	t.Run("RevokedByAnother", func(t *testing.T) {
		other := ts.newKey(t, ts.Owner, `{"name":"other","permissions":["api_key:write"]}`)
		body := `{"name":"child","permissions":["api_key:write"]}`
		checkActed(t, ts.post(t, "/v1/auth/api-keys", other.Key, body, "create-child"), 200)
		if r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+other.ID, ts.Owner, ""); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		checkCode(t, ts.post(t, "/v1/auth/api-keys", other.Key, body, "create-child"), 401, "revoked_api_key", "")
	})
}

// TestIdempotency_EndedKeyChangedElsewhere checks that the replay of a
// request that ended its own key is served only while that key is as the
// request left it and could still make the request: a key that rotated
// itself with a grace period and is then revoked by someone else, or
// given another expiry, or loses the permission, gets no replay; the
// usual 401.
func TestIdempotency_EndedKeyChangedElsewhere(t *testing.T) {
	ts := newTestServer(t)
	const body = `{"expire_old_in":"1h"}`
	rotate := func(t *testing.T, name string) (pihuhttp.KeyCreated, string) {
		t.Helper()
		k := ts.newKey(t, ts.Owner, `{"name":"`+name+`","permissions":["api_key:write","api_key:read"]}`)
		path := "/v1/auth/api-keys/" + k.ID + "/rotate"
		checkActed(t, ts.post(t, path, k.Key, body, "rotate-"+name), 200)
		return k, path
	}

	t.Run("RevokedByAnother", func(t *testing.T) {
		k, path := rotate(t, "revoked")
		if r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+k.ID, ts.Owner, ""); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		checkCode(t, ts.post(t, path, k.Key, body, "rotate-revoked"), 401, "revoked_api_key", "")
	})
	t.Run("RevokedByAnotherAfterExpiring", func(t *testing.T) {
		k, path := rotate(t, "expired")
		ts.Clock.Add(2 * time.Hour)
		if _, err := ts.Store.RevokeKey(t.Context(), ts.Account.ID, k.ID, ts.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		ts.Auth.Invalidate(k.ID)
		checkCode(t, ts.post(t, path, k.Key, body, "rotate-expired"), 401, "revoked_api_key", "")
	})
	t.Run("ExpiryChangedByAnother", func(t *testing.T) {
		k, path := rotate(t, "shortened")
		soon := ts.Clock.Now().Add(time.Minute).Format(time.RFC3339)
		if r := ts.do(t, "PATCH", "/v1/auth/api-keys/"+k.ID, ts.Owner, `{"expires":"`+soon+`"}`); r.status != 200 {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		ts.Clock.Add(2 * time.Minute)
		checkCode(t, ts.post(t, path, k.Key, body, "rotate-shortened"), 401, "expired_api_key", "")
	})
	t.Run("PermissionTaken", func(t *testing.T) {
		k, path := rotate(t, "narrowed")
		if r := ts.do(t, "PATCH", "/v1/auth/api-keys/"+k.ID, ts.Owner, `{"permissions":["api_key:read"]}`); r.status != 200 {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		ts.Clock.Add(2 * time.Hour)
		checkCode(t, ts.post(t, path, k.Key, body, "rotate-narrowed"), 401, "expired_api_key", "")
	})
	t.Run("AsItLeftIt", func(t *testing.T) {
		k, path := rotate(t, "kept")
		ts.Clock.Add(2 * time.Hour)
		ts.works(t, k.Key, 401, "expired_api_key")
		r := ts.post(t, path, k.Key, body, "rotate-kept")
		if r.status != 200 || r.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry of the rotation that ended the key: got %d %s, want its replay", r.status, r.body)
		}
	})
}

// TestIdempotency_Header checks the header's value and where it applies.
func TestIdempotency_Header(t *testing.T) {
	ts := newTestServer(t)
	body := `{"name":"Ada","email":"ada@example.com"}`
	for _, tt := range []struct{ name, value string }{
		{"TooLong", strings.Repeat("k", 256)},
		{"NotASCII", "clé"},
		{"Tab", "a\tb"},
	} {
		t.Run("Err"+tt.name, func(t *testing.T) {
			checkCode(t, ts.post(t, "/v1/candidates", ts.Owner, body, tt.value), 400, "parameter_invalid", "Idempotency-Key")
		})
	}
	t.Run("LongestAccepted", func(t *testing.T) {
		checkActed(t, ts.post(t, "/v1/candidates", ts.Owner, body, strings.Repeat("k", 255)), 200)
	})
	t.Run("ErrEmpty", func(t *testing.T) {
		checkCode(t, ts.raw(t, "POST", "/v1/candidates", body, http.Header{"Idempotency-Key": {""}}), 400, "parameter_invalid", "Idempotency-Key")
	})
	t.Run("ErrTwice", func(t *testing.T) {
		checkCode(t, ts.raw(t, "POST", "/v1/candidates", body, http.Header{"Idempotency-Key": {"a", "a"}}), 400, "parameter_invalid", "Idempotency-Key")
	})
	if n := ts.count(t, ts.Owner, "/v1/candidates"); n != 1 {
		t.Errorf("candidates: got %d, want 1 (the refused requests created none)", n)
	}
	// GET and DELETE ignore the header, whatever it holds.
	t.Run("IgnoredOnGet", func(t *testing.T) {
		for range 2 {
			r := ts.raw(t, "GET", "/v1/auth/whoami", "", http.Header{"Idempotency-Key": {strings.Repeat("k", 300)}})
			checkActed(t, r, 200)
		}
	})
	t.Run("IgnoredOnDelete", func(t *testing.T) {
		c := ts.newCandidate(t, ts.Owner, "Grace")
		h := http.Header{"Idempotency-Key": {"delete-1"}}
		checkActed(t, ts.raw(t, "DELETE", "/v1/candidates/"+c.ID, "", h), 200)
		checkCode(t, ts.raw(t, "DELETE", "/v1/candidates/"+c.ID, "", h), 404, "not_found", "")
	})
}

// raw sends a request with the owner key and the headers given as they
// are, several values included.
func (ts *testServer) raw(tb testing.TB, method, path, body string, h http.Header) response {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header = h.Clone()
	req.Header.Set("Authorization", bearer(ts.Owner))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	checkContract(tb, req, body, res.StatusCode, res.Header, b)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestIdempotency_Documented checks that the OpenAPI document gives every
// POST the Idempotency-Key parameter, the 409 and the replay header. The
// forward-auth endpoint's POST is a gateway's question about another
// request, not a write: an Idempotency-Key there is that request's, for
// the service behind the gateway (TestForwardAuth_Methods).
func TestIdempotency_Documented(t *testing.T) {
	for _, o := range operations(t) {
		if o.method != "POST" || slices.Contains(o.op.Tags, "Gateways") {
			continue
		}
		if o.op.Parameters.GetByInAndName("header", "Idempotency-Key") == nil {
			t.Errorf("POST %s: no Idempotency-Key parameter", o.path)
		}
		if r := o.op.Responses.Status(409); r == nil || r.Value.Description == nil || !strings.Contains(*r.Value.Description, "idempotency_key_in_use") {
			t.Errorf("POST %s: no 409 idempotency_key_in_use", o.path)
		}
		if r := o.op.Responses.Status(200); r == nil || r.Value.Headers["Idempotent-Replayed"] == nil {
			t.Errorf("POST %s: the 200 response has no Idempotent-Replayed header", o.path)
		}
	}
}
