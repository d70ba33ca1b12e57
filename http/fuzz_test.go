package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/sqlite"
)

// fuzzRoutes are every route of the API with a request body or query
// parameters, as the fuzz target sends them; {id} is replaced by an id of
// the right kind that exists, or by the fuzzer's own.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/auth/api-keys"},
	{"GET", "/v1/auth/api-keys"},
	{"GET", "/v1/auth/api-keys/{key}"},
	{"DELETE", "/v1/auth/api-keys/{key}"},
	{"POST", "/v1/auth/api-keys/{key}/rotate"},
	{"GET", "/v1/auth/api-keys/{key}/usage"},
	{"POST", "/v1/auth/leaked-keys"},
	{"GET", "/v1/auth/audit-events"},
	{"GET", "/v1/auth/whoami"},
	{"POST", "/v1/auth/verify"},
	{"POST", "/v1/auth/tokens"},
	{"POST", "/v1/oauth/token"},
	{"POST", "/v1/candidates"},
	{"GET", "/v1/candidates"},
	{"GET", "/v1/candidates/{cand}"},
	{"DELETE", "/v1/candidates/{cand}"},
	{"POST", "/v1/interviews"},
	{"GET", "/v1/interviews"},
	{"GET", "/v1/interviews/{intv}"},
	{"DELETE", "/v1/interviews/{intv}"},
	{"GET", "/healthz"},
	{"GET", "/readyz"},
	{"GET", "/metrics"},
	{"GET", "/v1/openapi.json"},
	{"GET", "/.well-known/jwks.json"},
}

// FuzzAPI sends fuzzed bodies, query strings, Idempotency-Key headers and
// ids to every route, with the owner key, with a narrow key, or with
// none, and checks the API's promise: never a 5xx, and every error is the
// SPEC's error body with its type, code, message and request id. It
// covers every JSON body the API decodes and every query parameter it
// parses.
func FuzzAPI(f *testing.F) {
	f.Add(uint8(0), `{"name":"k","permissions":["candidate:read"],"expiration":"30d"}`, "", "", uint8(0))
	f.Add(uint8(0), `{"name":"k","permissions":["*"],"allowed_ips":["10.0.0.0/8"],"rate_limit":"5/s","environment":"test"}`, "", "idem-1", uint8(0))
	f.Add(uint8(1), "", "limit=5&starting_after=key_x", "", uint8(0))
	f.Add(uint8(3), "", "cascade=true", "", uint8(0))
	f.Add(uint8(4), `{"expire_old_in":"24h"}`, "", "", uint8(0))
	f.Add(uint8(5), "", "granularity=day", "", uint8(1))
	f.Add(uint8(6), `{"keys":["ph_live_x"]}`, "", "", uint8(2))
	f.Add(uint8(9), `{"key":"ph_live_x","permissions":["candidate:read"],"ip":"::1"}`, "", "", uint8(0))
	f.Add(uint8(10), `{"permissions":["candidate:read"],"expires_in":"5m","audience":"svc"}`, "", "", uint8(0))
	f.Add(uint8(11), `grant_type=client_credentials&scope=candidate:read`, "", "", uint8(2))
	f.Add(uint8(12), `{"name":"Ada","email":"ada@example.com"}`, "", "", uint8(1))
	f.Add(uint8(16), `{"candidate_id":"{cand}","position":"eng","scheduled_at":"2024-03-01T14:30:00Z"}`, "", "", uint8(0))
	f.Add(uint8(2), "", "%zz", "", uint8(0))
	f.Add(uint8(0), `{"name":"k","permissions":["candidate:read"],"name":"j"}`, "", "", uint8(0))
	f.Add(uint8(0), "{\"name\":\"\x00\"}", "", "\n", uint8(0))

	ts := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, body, rawQuery, idem string, who uint8) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := ts.ids.Replace(rt.path)
		target := path
		if rawQuery != "" {
			target += "?" + rawQuery
		}
		req, err := http.NewRequest(rt.method, "http://pihu.test"+target, strings.NewReader(ts.ids.Replace(body)))
		if err != nil {
			return // not a request a client can send
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
			if strings.HasPrefix(rt.path, "/v1/oauth/") {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		}
		switch who % 3 {
		case 0:
			req.Header.Set("Authorization", "Bearer "+ts.owner)
		case 1:
			req.Header.Set("Authorization", "Bearer "+ts.narrow)
		}
		if idem != "" {
			req.Header["Idempotency-Key"] = []string{idem}
		}
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		ts.handler.ServeHTTP(rec, req)
		res := rec.Result()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s %q: got %d %s", rt.method, target, body, res.StatusCode, b)
		}
		if res.StatusCode < 400 {
			return
		}
		if strings.HasPrefix(rt.path, "/v1/oauth/") {
			// OAuth 2.0's own error body (RFC 6749 §5.2).
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
				t.Fatalf("%s %q: %d with a body that is not OAuth's error body: %s", target, body, res.StatusCode, b)
			}
			return
		}
		var e pihuhttp.ErrorBody
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s %s %q: %d with a body that is not the error body: %s", rt.method, target, body, res.StatusCode, b)
		}
		// A replay (Idempotency-Key) is the first response, with the
		// first request's id.
		replayed := res.Header.Get(pihuhttp.ReplayedHeader) == "true"
		if e.Error.Type == "" || e.Error.Code == "" || e.Error.Message == "" || !strings.HasPrefix(e.Error.RequestID, "req_") || !replayed && e.Error.RequestID != res.Header.Get("Request-Id") {
			t.Fatalf("%s %s %q: incomplete error body %s", rt.method, target, body, b)
		}
	})
}

type fuzzServer struct {
	handler       http.Handler
	owner, narrow string
	ids           *strings.Replacer
}

// newFuzzServer is the real API on a temp SQLite file with an owner key, a
// narrow key, a candidate and an interview, called without a socket.
func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	now := time.Now()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Fuzz", Created: now}
	owner, ownerSecret, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, now)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.CreateAccount(ctx, a, owner); err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	tokens := auth.NewTokens(db, auth.TokenOptions{Issuer: "http://pihu.test", Logger: logger})
	s := pihuhttp.New(pihuhttp.Options{
		Store: db, Auth: auth.New(db, auth.Options{Logger: logger, Tokens: tokens}), Logger: logger,
		DefaultLimit: ratelimit.PerSecond(ratelimit.MaxRate), FailedAuthLimit: ratelimit.PerSecond(ratelimit.MaxRate), LeakedKeysLimit: ratelimit.PerSecond(ratelimit.MaxRate),
	})
	call := func(method, path, key, body string) map[string]any {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code != 200 {
			tb.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return out
	}
	narrow := call("POST", "/v1/auth/api-keys", ownerSecret, `{"name":"narrow","permissions":["candidate:read"]}`)
	cand := call("POST", "/v1/candidates", ownerSecret, `{"name":"Ada","email":"ada@example.com"}`)
	intv := call("POST", "/v1/interviews", ownerSecret, `{"candidate_id":"`+cand["id"].(string)+`","position":"eng"}`)
	return &fuzzServer{
		handler: s, owner: ownerSecret, narrow: narrow["key"].(string),
		ids: strings.NewReplacer("{key}", narrow["id"].(string), "{cand}", cand["id"].(string), "{intv}", intv["id"].(string)),
	}
}

// FuzzQuery sends fuzzed query strings to a list endpoint: a query it
// accepts is answered 200 with a list of at most 100 items, and one it
// refuses is a 400 naming the parameter.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"limit=5", "limit=0", "limit=101", "limit=abc", "starting_after=key_x", "foo=1", "limit=1&limit=2", "limit=5;x=1", "%", "starting_after=", "limit=+5", "limit=05"} {
		f.Add(q)
	}
	ts := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, q string) {
		req, err := http.NewRequest("GET", "http://pihu.test/v1/auth/api-keys?"+q, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+ts.owner)
		rec := httptest.NewRecorder()
		ts.handler.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
			var list struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Data) > 100 {
				t.Fatalf("%q: 200 with %s", q, rec.Body)
			}
		case 400:
			var e pihuhttp.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
				t.Fatalf("%q: 400 with %s", q, rec.Body)
			}
		default:
			t.Fatalf("%q: got %d %s, want 200 or 400", q, rec.Code, rec.Body)
		}
	})
}
