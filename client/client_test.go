package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/client"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// server is the real API on a temp SQLite file over httptest, with one
// account whose owner key is Owner.
type server struct {
	URL    string
	Owner  string
	store  *sqlite.DB
	tokens *auth.Tokens
	// auth flushes the request log (Flush).
	auth *auth.Authenticator
}

func newServer(tb testing.TB) *server {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	hs := httptest.NewUnstartedServer(nil)
	// The issuer is the server's own URL; the keys are read again on
	// every unknown kid, so that a rotation shows at once.
	tokens := auth.NewTokens(db, auth.TokenOptions{Issuer: "http://" + hs.Listener.Addr().String(), MinRefresh: time.Nanosecond})
	authn := auth.New(db, auth.Options{Tokens: tokens})
	hs.Config.Handler = pihuhttp.New(pihuhttp.Options{Store: db, Auth: authn, WebhookLoopback: true})
	hs.Start()
	tb.Cleanup(hs.Close)
	s := &server{URL: hs.URL, store: db, tokens: tokens, auth: authn}
	s.Owner = s.newAccount(tb, "Acme")
	return s
}

// newAccount creates an account straight in the store and returns its
// owner key.
func (s *server) newAccount(tb testing.TB, name string) string {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: name, Created: time.Now()}
	k, secret, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.store.CreateAccount(context.Background(), a, k); err != nil {
		tb.Fatal(err)
	}
	return secret
}

func (s *server) client(tb testing.TB, key string) *client.Client {
	tb.Helper()
	c, err := client.New(client.Config{BaseURL: s.URL + "/", APIKey: key})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// apiError returns err as a *client.Error, failing the test if it is not
// one with the status and code.
func apiError(tb testing.TB, err error, status int, code string) *client.Error {
	tb.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got %v (%T), want a *client.Error", err, err)
	}
	if e.StatusCode != status || e.Code != code {
		tb.Fatalf("got %d %s, want %d %s (%v)", e.StatusCode, e.Code, status, code, e)
	}
	if !strings.HasPrefix(e.RequestID, "req_") || e.Message == "" || e.Type == "" {
		tb.Errorf("incomplete error: %+v", e)
	}
	return e
}

func TestClient_Keys(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)

	created, err := c.CreateKey(ctx, client.KeyParams{
		Name: "My API Key", Expiration: "30d", Permissions: []string{"interview:write", "candidate:read"},
	})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if env, ok := pihu.ParseSecret(created.Key); !ok || env != pihu.Live || !strings.HasPrefix(created.ID, "key_") {
		t.Errorf("CreateKey: got id %q and a key that does not parse as live", created.ID)
	}
	if created.Expires == nil || !created.Expires.Equal(created.Created.Add(30*24*time.Hour)) || created.Environment != "live" {
		t.Errorf("CreateKey: got %+v", created)
	}
	if !strings.HasPrefix(created.RequestID(), "req_") || !strings.Contains(string(created.RawJSON()), created.Key) {
		t.Errorf("CreateKey: request id %q, raw %s", created.RequestID(), created.RawJSON())
	}

	got, err := c.GetKey(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetKey: %v", err)
	}
	if got.ID != created.ID || got.Name != "My API Key" || !got.Created.Equal(created.Created) ||
		!got.Expires.Equal(*created.Expires) || got.LastUsed != nil || got.Hint != pihu.Hint(created.Key) || got.Revoked {
		t.Errorf("GetKey: got %+v", got)
	}

	// Page through the list: the new key, then the owner key.
	first, err := c.ListKeys(ctx, client.ListParams{Limit: 1})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(first.Data) != 1 || first.Data[0].ID != created.ID || !first.HasMore {
		t.Fatalf("ListKeys page 1: got %+v", first)
	}
	second, err := c.ListKeys(ctx, client.ListParams{Limit: 1, StartingAfter: first.Data[0].ID})
	if err != nil {
		t.Fatalf("ListKeys page 2: %v", err)
	}
	if len(second.Data) != 1 || second.Data[0].Name != "Owner key" || second.HasMore {
		t.Errorf("ListKeys page 2: got %+v", second)
	}
	// And back: the page before the owner key is the new key.
	back, err := c.ListKeys(ctx, client.ListParams{Limit: 1, EndingBefore: second.Data[0].ID})
	if err != nil {
		t.Fatalf("ListKeys back: %v", err)
	}
	if len(back.Data) != 1 || back.Data[0].ID != created.ID || back.HasMore {
		t.Errorf("ListKeys back: got %+v", back)
	}

	// The new key works through the client too.
	who, err := s.client(t, created.Key).Whoami(ctx)
	if err != nil {
		t.Fatalf("Whoami: %v", err)
	}
	if who.Key.ID != created.ID || who.Account.Name != "Acme" || len(who.Key.Permissions) != 2 {
		t.Errorf("Whoami: got %+v", who)
	}
}

func TestClient_Errors(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	owner := s.client(t, s.Owner)
	reader, err := owner.CreateKey(ctx, client.KeyParams{Name: "reader", Permissions: []string{"api_key:read"}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("InvalidKey", func(t *testing.T) {
		bad := pihu.NewSecret(pihu.Live)
		_, err := s.client(t, bad).ListKeys(ctx, client.ListParams{})
		e := apiError(t, err, 401, "invalid_api_key")
		if e.Type != "authentication_error" {
			t.Errorf("type: got %q", e.Type)
		}
		if strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), bad[8:]) {
			t.Errorf("the error holds the key: %v", err)
		}
		if !strings.Contains(err.Error(), e.RequestID) {
			t.Errorf("the error does not name the request: %v", err)
		}
	})
	t.Run("MissingKey", func(t *testing.T) {
		_, err := s.client(t, "").Whoami(ctx)
		apiError(t, err, 401, "missing_api_key")
	})
	t.Run("InsufficientPermissions", func(t *testing.T) {
		_, err := s.client(t, reader.Key).CreateKey(ctx, client.KeyParams{Name: "x", Permissions: []string{"*"}})
		if e := apiError(t, err, 403, "insufficient_permissions"); e.Required != "api_key:write" {
			t.Errorf("required: got %q", e.Required)
		}
	})
	t.Run("Param", func(t *testing.T) {
		_, err := owner.CreateKey(ctx, client.KeyParams{Name: "x", Permissions: []string{"candidate:delete"}})
		if e := apiError(t, err, 400, "parameter_invalid"); e.Param != "permissions" || !strings.Contains(err.Error(), "permissions") {
			t.Errorf("param: got %q in %v", e.Param, err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := owner.GetKey(ctx, "key_nope")
		apiError(t, err, 404, "not_found")
	})
	t.Run("KeyInPathIsMasked", func(t *testing.T) {
		_, err := owner.GetKey(ctx, reader.Key)
		apiError(t, err, 404, "not_found")
		if strings.Contains(err.Error(), reader.Key[8:]) {
			t.Errorf("the error holds the key: %v", err)
		}
	})
	t.Run("DotSegmentsRefused", func(t *testing.T) {
		for _, id := range []string{"", ".", ".."} {
			if _, err := owner.GetKey(ctx, id); err == nil || errors.As(err, new(*client.Error)) {
				t.Errorf("GetKey(%q): got %v, want a client-side error", id, err)
			}
			if _, err := owner.RevokeKey(ctx, id); err == nil || errors.As(err, new(*client.Error)) {
				t.Errorf("RevokeKey(%q): got %v, want a client-side error", id, err)
			}
		}
	})
	t.Run("ServerDown", func(t *testing.T) {
		hs := httptest.NewServer(http.NotFoundHandler())
		url := hs.URL
		hs.Close()
		c, err := client.New(client.Config{BaseURL: url, APIKey: s.Owner})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Whoami(ctx)
		if err == nil || errors.As(err, new(*client.Error)) || !strings.Contains(err.Error(), "cannot reach") {
			t.Fatalf("got %v, want a cannot-reach error", err)
		}
		if strings.Contains(err.Error(), s.Owner[8:]) {
			t.Errorf("the error holds the key: %v", err)
		}
	})
	t.Run("NotTheAPI", func(t *testing.T) {
		// A proxy in front of the API answers with a page of its own.
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "<html>Bad gateway</html>", http.StatusBadGateway)
		}))
		defer proxy.Close()
		c, err := client.New(client.Config{BaseURL: proxy.URL, APIKey: s.Owner})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Whoami(ctx)
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != 502 || e.Code != "" || e.RetryAfter != 7*time.Second || !strings.Contains(e.Message, "502") {
			t.Errorf("got %#v, want a 502 *client.Error", err)
		}
	})
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"http://127.0.0.1:8080", true},
		{"https://api.pihu.ai/", true},
		{"https://example.com/pihu", true},
		{"127.0.0.1:8080", false},
		{"ftp://example.com", false},
		{"http://", false},
		{"http://example.com/?x=1", false},
		{"://", false},
	} {
		_, err := client.New(client.Config{BaseURL: tc.url, APIKey: "ph_live_secret"})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q): got %v, want ok %v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "ph_live_secret") {
			t.Errorf("New(%q): the error holds the key: %v", tc.url, err)
		}
	}
}

func TestClient_CandidatesAndInterviews(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	owner := s.client(t, s.Owner)
	testKey, err := owner.CreateKey(ctx, client.KeyParams{Name: "test", Permissions: []string{"*"}, Environment: "test"})
	if err != nil {
		t.Fatal(err)
	}
	other := s.client(t, s.newAccount(t, "Other"))

	cand, err := owner.CreateCandidate(ctx, client.CandidateParams{Name: "Ada Lovelace", Email: "ada@example.com"})
	if err != nil {
		t.Fatalf("CreateCandidate: %v", err)
	}
	if !strings.HasPrefix(cand.ID, "cand_") || cand.Name != "Ada Lovelace" || cand.Email != "ada@example.com" || cand.Environment != "live" || cand.Created.IsZero() {
		t.Errorf("CreateCandidate: got %+v", cand)
	}
	_, err = owner.CreateCandidate(ctx, client.CandidateParams{Name: "Ada", Email: "Ada <ada@example.com>"})
	if e := apiError(t, err, 400, "parameter_invalid"); e.Param != "email" {
		t.Errorf("param: got %q", e.Param)
	}

	at := time.Date(2030, 3, 1, 15, 30, 0, 0, time.FixedZone("CET", 3600))
	iv, err := owner.CreateInterview(ctx, client.InterviewParams{CandidateID: cand.ID, Position: "Backend engineer", ScheduledAt: &at})
	if err != nil {
		t.Fatalf("CreateInterview: %v", err)
	}
	if !strings.HasPrefix(iv.ID, "intv_") || iv.CandidateID != cand.ID || iv.Status != "scheduled" || iv.ScheduledAt == nil ||
		!iv.ScheduledAt.Equal(at) || iv.ScheduledAt.Location() != time.UTC {
		t.Errorf("CreateInterview: got %+v", iv)
	}
	_, err = s.client(t, testKey.Key).CreateInterview(ctx, client.InterviewParams{CandidateID: cand.ID, Position: "X"})
	if e := apiError(t, err, 400, "parameter_invalid"); e.Param != "candidate_id" {
		t.Errorf("param: got %q", e.Param)
	}

	if got, err := owner.GetCandidate(ctx, cand.ID); err != nil || got.ID != cand.ID || got.Email != cand.Email {
		t.Errorf("GetCandidate: got %+v, %v", got, err)
	}
	if got, err := owner.GetInterview(ctx, iv.ID); err != nil || got.Position != "Backend engineer" {
		t.Errorf("GetInterview: got %+v, %v", got, err)
	}
	cl, err := owner.ListCandidates(ctx, client.ListParams{})
	if err != nil || len(cl.Data) != 1 || cl.Data[0].ID != cand.ID || cl.HasMore {
		t.Errorf("ListCandidates: got %+v, %v", cl, err)
	}
	il, err := owner.ListInterviews(ctx, client.ListParams{Limit: 5})
	if err != nil || len(il.Data) != 1 || il.Data[0].ID != iv.ID {
		t.Errorf("ListInterviews: got %+v, %v", il, err)
	}

	// The walls: the test environment and another account see nothing.
	for name, c := range map[string]*client.Client{"test": s.client(t, testKey.Key), "other account": other} {
		_, err := c.GetCandidate(ctx, cand.ID)
		apiError(t, err, 404, "not_found")
		_, err = c.DeleteInterview(ctx, iv.ID)
		apiError(t, err, 404, "not_found")
		if l, err := c.ListCandidates(ctx, client.ListParams{}); err != nil || len(l.Data) != 0 {
			t.Errorf("%s: ListCandidates: got %+v, %v", name, l, err)
		}
	}

	d, err := owner.DeleteCandidate(ctx, cand.ID)
	if err != nil || d.ID != cand.ID || !d.Deleted {
		t.Fatalf("DeleteCandidate: got %+v, %v", d, err)
	}
	_, err = owner.GetInterview(ctx, iv.ID)
	apiError(t, err, 404, "not_found")
	_, err = owner.DeleteInterview(ctx, iv.ID)
	apiError(t, err, 404, "not_found")
}

// TestClient_DisableKey disables a key and enables it again through the
// client: the key answers with its state, the list filters by it, and the
// disabled key is refused with disabled_api_key.
func TestClient_DisableKey(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	created, err := c.CreateKey(ctx, client.KeyParams{Name: "Paused", Permissions: []string{"candidate:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if !created.Enabled {
		t.Errorf("CreateKey: got enabled false, want a new key enabled")
	}
	k, err := c.DisableKey(ctx, created.ID)
	if err != nil || k.Enabled {
		t.Fatalf("DisableKey: got %+v, %v", k, err)
	}
	off, err := c.ListKeysWith(ctx, client.KeyListParams{Enabled: new(false)})
	if err != nil || len(off.Data) != 1 || off.Data[0].ID != created.ID {
		t.Fatalf("ListKeysWith enabled=false: got %+v, %v", off, err)
	}
	_, err = s.client(t, created.Key).Whoami(ctx)
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "disabled_api_key" || e.StatusCode != 401 {
		t.Fatalf("Whoami with the disabled key: got %v, want 401 disabled_api_key", err)
	}
	k, err = c.EnableKey(ctx, created.ID)
	if err != nil || !k.Enabled {
		t.Fatalf("EnableKey: got %+v, %v", k, err)
	}
	on, err := c.ListKeysWith(ctx, client.KeyListParams{Enabled: new(true)})
	if err != nil || len(on.Data) != 2 {
		t.Fatalf("ListKeysWith enabled=true: got %+v, %v", on, err)
	}
	if _, err := s.client(t, created.Key).Whoami(ctx); err != nil {
		t.Errorf("Whoami with the key enabled again: %v", err)
	}
}

// TestClient_ListKeysFilters lists keys through the client with each
// filter of KeyListParams, and all of them together: the query the client
// sends is the one the server reads (a metadata name with characters
// a URL escapes included).
func TestClient_ListKeysFilters(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c := s.client(t, s.Owner)
	role, err := c.CreateRole(ctx, client.RoleParams{Name: "support", Permissions: []string{"candidate:write"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []client.KeyParams{
		{Name: "web_1", Permissions: []string{"candidate:read"}, Metadata: json.RawMessage(`{"team":"web","a&b":"x y"}`)},
		{Name: "web%2", Permissions: []string{"interview:read"}, Roles: []string{role.ID}, Metadata: json.RawMessage(`{"team":"web"}`)},
		{Name: "webX3", Permissions: []string{"interview:read"}, Metadata: json.RawMessage(`{"team":"data"}`)},
	} {
		if _, err := c.CreateKey(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		p    client.KeyListParams
		want []string
	}{
		{"NamePrefix", client.KeyListParams{NamePrefix: "web_"}, []string{"web_1"}},
		{"NamePrefixPercent", client.KeyListParams{NamePrefix: "web%"}, []string{"web%2"}},
		{"Role", client.KeyListParams{Role: role.ID}, []string{"web%2"}},
		{"Permission", client.KeyListParams{Permission: "candidate:read", NamePrefix: "web"}, []string{"web%2", "web_1"}},
		{"Metadata", client.KeyListParams{Metadata: map[string]string{"team": "web", "a&b": "x y"}}, []string{"web_1"}},
		{"All", client.KeyListParams{NamePrefix: "web", Role: role.ID, Permission: "candidate:write", Metadata: map[string]string{"team": "web"}, Enabled: new(true)}, []string{"web%2"}},
	} {
		l, err := c.ListKeysWith(ctx, tt.p)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, k := range l.Data {
			got = append(got, k.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	_, err = c.ListKeysWith(ctx, client.KeyListParams{Role: "support"})
	apiError(t, err, 400, "parameter_invalid")
}
