package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/metrics"
	"github.com/pihu-ai/pihu/sqlite"
)

// clock is a settable time source shared by the store, the authenticator
// and the server, so that tests move time instead of sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testServer is the real API on a temp SQLite file, served over httptest.
type testServer struct {
	*httptest.Server
	Store  *sqlite.DB
	Auth   *auth.Authenticator
	Tokens *auth.Tokens
	Clock  *clock
	// Owner is the secret of the first account's owner key ("*", live).
	Owner   string
	Account *pihu.Account
	logs    *bytes.Buffer
	// dbPath is the SQLite file, for tests that read it whole.
	dbPath string
	// GitHub signs secret scanning reports with the key the server
	// reads from its --github-keys-file (unless an option changed it).
	GitHub *githubSigner
	// metrics are the server's metrics (nil if an option removed them),
	// shared with its Check service, as serve shares them.
	metrics *metrics.Metrics
}

// newTestServer starts the real API on a fresh database. Each option, if
// any, may change the server's Options before it is built (a limit, a
// limiter, a trusted proxy header).
func newTestServer(tb testing.TB, options ...func(*pihuhttp.Options)) *testServer {
	tb.Helper()
	ctx := context.Background()
	dbPath := sqlitetest.Path(tb)
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)}
	db.Now = clk.Now
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	// The issuer is the server's own URL, known once it listens.
	srv := httptest.NewUnstartedServer(nil)
	tokens := auth.NewTokens(db, auth.TokenOptions{Issuer: "http://" + srv.Listener.Addr().String(), Now: clk.Now, Logger: logger})
	authn := auth.New(db, auth.Options{Now: clk.Now, Logger: logger, Tokens: tokens})
	opts := pihuhttp.Options{Store: db, Auth: authn, Logger: logger, Now: clk.Now}
	withMetrics(&opts) // served on the API's address, as serve does by default
	signer := newGitHubSigner(tb, "default")
	opts.GitHubKeys = githubKeysFile(tb, clk.Now, signer)
	for _, o := range options {
		o(&opts)
	}
	srv.Config.Handler = pihuhttp.New(opts)
	srv.Start()
	tb.Cleanup(srv.Close)
	ts := &testServer{Server: srv, Store: db, Auth: authn, Tokens: tokens, Clock: clk, logs: logs, dbPath: dbPath, GitHub: signer, metrics: opts.Metrics}
	ts.Account, ts.Owner = ts.newAccount(tb, "Default")
	return ts
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// newAccount creates an account with an owner key straight in the store.
func (ts *testServer) newAccount(tb testing.TB, name string) (*pihu.Account, string) {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: name, Created: ts.Clock.Now()}
	k, secret, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, ts.Clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := ts.Store.CreateAccount(context.Background(), a, k); err != nil {
		tb.Fatal(err)
	}
	return a, secret
}

// newKey creates a key through the API with the owner key and returns the
// response.
func (ts *testServer) newKey(tb testing.TB, owner string, body string) pihuhttp.KeyCreated {
	tb.Helper()
	res := ts.do(tb, "POST", "/v1/auth/api-keys", owner, body)
	if res.status != 200 {
		tb.Fatalf("creating key %s: got %d %s", body, res.status, res.body)
	}
	var k pihuhttp.KeyCreated
	res.decode(tb, &k)
	return k
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r response) errorBody(tb testing.TB) pihuhttp.ErrorObject {
	tb.Helper()
	var e pihuhttp.ErrorBody
	r.decode(tb, &e)
	return e.Error
}

// do sends a request with key as bearer token ("" for none) and a JSON
// body ("" for none).
func (ts *testServer) do(tb testing.TB, method, path, key, body string) response {
	tb.Helper()
	return ts.doWith(tb, method, path, body, map[string]string{"Authorization": bearer(key), "Content-Type": contentType(body)})
}

func bearer(key string) string {
	if key == "" {
		return ""
	}
	return "Bearer " + key
}

func contentType(body string) string {
	if body == "" {
		return ""
	}
	return "application/json"
}

func (ts *testServer) doWith(tb testing.TB, method, path, body string, headers map[string]string) response {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
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
	if res.Header.Get("Request-Id") == "" || !strings.HasPrefix(res.Header.Get("Request-Id"), "req_") {
		tb.Errorf("%s %s: Request-Id header = %q, want req_…", method, path, res.Header.Get("Request-Id"))
	}
	checkContract(tb, req, body, res.StatusCode, res.Header, b)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// scenario is one request and what must come back.
type scenario struct {
	name    string
	method  string
	path    string
	key     string // bearer secret; "" for none
	body    string
	headers map[string]string // extra headers, overriding the defaults
	status  int
	code    string // error.code for a failure
	param   string // error.param, if any
	check   func(t *testing.T, r response)
}

func (ts *testServer) run(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": bearer(sc.key), "Content-Type": contentType(sc.body)}
			for k, v := range sc.headers {
				h[k] = v
			}
			r := ts.doWith(t, sc.method, sc.path, sc.body, h)
			if r.status != sc.status {
				t.Fatalf("status: got %d, want %d; body %s", r.status, sc.status, r.body)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			if sc.status >= 400 {
				e := r.errorBody(t)
				if e.Code != sc.code {
					t.Errorf("error.code: got %q, want %q (message %q)", e.Code, sc.code, e.Message)
				}
				if e.Param != sc.param {
					t.Errorf("error.param: got %q, want %q", e.Param, sc.param)
				}
				if e.Message == "" || e.Type == "" || e.RequestID != r.header.Get("Request-Id") {
					t.Errorf("error body incomplete: %s", r.body)
				}
			} else if sc.code != "" {
				t.Fatalf("scenario %q expects success but names code %q", sc.name, sc.code)
			}
			if sc.check != nil {
				sc.check(t, r)
			}
		})
	}
}
