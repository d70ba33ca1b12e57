package http_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// writeHookStore is the real store with a hook that runs once, on the next
// write a request makes, just before it: a revocation landing there lands
// while the request runs, after its key was authenticated and before its
// write.
type writeHookStore struct {
	pihu.Store
	mu   sync.Mutex
	hook func()
}

// onWrite arms f for the next write.
func (s *writeHookStore) onWrite(f func()) {
	s.mu.Lock()
	s.hook = f
	s.mu.Unlock()
}

func (s *writeHookStore) write() {
	s.mu.Lock()
	f := s.hook
	s.hook = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

func (s *writeHookStore) CreateKey(ctx context.Context, k *pihu.Key, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.CreateKey(ctx, k, events...)
}

func (s *writeHookStore) RotateKey(ctx context.Context, next *pihu.Key, retire time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	s.write()
	return s.Store.RotateKey(ctx, next, retire, events...)
}

func (s *writeHookStore) RevokeKey(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	s.write()
	return s.Store.RevokeKey(ctx, accountID, id, at, events...)
}

func (s *writeHookStore) RevokeKeys(ctx context.Context, rev pihu.Revocation) ([]*pihu.Key, error) {
	s.write()
	return s.Store.RevokeKeys(ctx, rev)
}

func (s *writeHookStore) UpdateKey(ctx context.Context, u pihu.KeyUpdate) (*pihu.Key, error) {
	s.write()
	return s.Store.UpdateKey(ctx, u)
}

func (s *writeHookStore) ImportKeys(ctx context.Context, keys []*pihu.Key, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.ImportKeys(ctx, keys, events...)
}

func (s *writeHookStore) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error) {
	s.write()
	return s.Store.SpendCredits(ctx, id, cost, now)
}

func (s *writeHookStore) RecordToken(ctx context.Context, ev *pihu.AuditEvent) error {
	s.write()
	return s.Store.RecordToken(ctx, ev)
}

func (s *writeHookStore) CreateCandidate(ctx context.Context, c *pihu.Candidate) error {
	s.write()
	return s.Store.CreateCandidate(ctx, c)
}

func (s *writeHookStore) DeleteCandidate(ctx context.Context, sc pihu.Scope, id string) error {
	s.write()
	return s.Store.DeleteCandidate(ctx, sc, id)
}

func (s *writeHookStore) CreateInterview(ctx context.Context, iv *pihu.Interview) error {
	s.write()
	return s.Store.CreateInterview(ctx, iv)
}

func (s *writeHookStore) DeleteInterview(ctx context.Context, sc pihu.Scope, id string) error {
	s.write()
	return s.Store.DeleteInterview(ctx, sc, id)
}

func (s *writeHookStore) CreateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.CreateWebhookEndpoint(ctx, e, events...)
}

func (s *writeHookStore) UpdateWebhookEndpoint(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.UpdateWebhookEndpoint(ctx, e, events...)
}

func (s *writeHookStore) DeleteWebhookEndpoint(ctx context.Context, sc pihu.Scope, id string, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.DeleteWebhookEndpoint(ctx, sc, id, events...)
}

func (s *writeHookStore) ReserveIdempotency(ctx context.Context, rec *pihu.IdempotencyRecord) (*pihu.IdempotencyRecord, error) {
	s.write()
	return s.Store.ReserveIdempotency(ctx, rec)
}

// newHookServer is newTestServer whose API writes through a
// writeHookStore.
func newHookServer(t *testing.T) (*testServer, *writeHookStore) {
	t.Helper()
	hs := &writeHookStore{}
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		hs.Store = o.Store
		o.Store = hs
	})
	return ts, hs
}

// revokeMidRequest arms hs to revoke the key id, as another instance
// would, when the next request reaches its write, and then to take a
// snapshot of the whole database: the state the write must leave as it
// is. It returns the snapshot, once taken.
func (ts *testServer) revokeMidRequest(t *testing.T, hs *writeHookStore, id string) func() map[string]string {
	var (
		mu     sync.Mutex
		before map[string]string
	)
	hs.onWrite(func() {
		if _, err := ts.Store.RevokeKey(context.Background(), ts.Account.ID, id, ts.Clock.Now()); err != nil {
			t.Errorf("revoking %s mid-request: %v", id, err)
		}
		snap := ts.snapshot(t)
		mu.Lock()
		before = snap
		mu.Unlock()
	})
	return func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		return before
	}
}

// TestActor_RevokedMidRequest sends a request to every write endpoint
// with a key (or an access token of it) that another instance revokes
// while the request runs, after it was authenticated and before its
// write: the request answers 401 revoked_api_key, and the database is
// exactly as the revocation left it.
func TestActor_RevokedMidRequest(t *testing.T) {
	ts, hs := newHookServer(t)
	target := ts.newKey(t, ts.Owner, `{"name":"target","permissions":["candidate:read"]}`)
	metered := ts.newKey(t, ts.Owner, `{"name":"metered","permissions":["candidate:read"],"remaining":10}`)
	cand := ts.newCandidate(t, ts.Owner, "Ada")
	iv := ts.newInterview(t, ts.Owner, cand.ID)
	endpoint := ts.do(t, "POST", "/v1/webhook-endpoints", ts.Owner, `{"url":"https://hooks.example.com/pihu","events":["api_key.created"]}`)
	if endpoint.status != 200 {
		t.Fatalf("creating an endpoint: %d %s", endpoint.status, endpoint.body)
	}
	var e pihuhttp.WebhookEndpointCreated
	endpoint.decode(t, &e)
	hash := sha256.Sum256([]byte("legacy-secret-" + pihu.NewID("")))

	for _, tt := range []struct {
		name, method, path, body string
		token                    bool // with an access token of the key
	}{
		{"CreateKey", "POST", "/v1/auth/api-keys", `{"name":"new","permissions":["candidate:read"]}`, false},
		{"UpdateKey", "PATCH", "/v1/auth/api-keys/" + target.ID, `{"name":"changed","permissions":["*"]}`, false},
		{"RotateKey", "POST", "/v1/auth/api-keys/" + target.ID + "/rotate", `{"expire_old_in":"1h"}`, false},
		{"RevokeKey", "DELETE", "/v1/auth/api-keys/" + target.ID, "", false},
		{"ImportKeys", "POST", "/v1/auth/api-keys/import", `{"keys":[{"hash":"` + hex.EncodeToString(hash[:]) + `","name":"legacy","permissions":["candidate:read"]}]}`, false},
		{"CreateToken", "POST", "/v1/auth/tokens", `{}`, false},
		{"Verify", "POST", "/v1/auth/verify", `{"key":"` + metered.Key + `"}`, false},
		{"CreateCandidate", "POST", "/v1/candidates", `{"name":"Grace","email":"grace@example.com"}`, false},
		{"DeleteCandidate", "DELETE", "/v1/candidates/" + cand.ID, "", false},
		{"CreateInterview", "POST", "/v1/interviews", `{"candidate_id":"` + cand.ID + `","position":"Engineer"}`, false},
		{"DeleteInterview", "DELETE", "/v1/interviews/" + iv.ID, "", false},
		{"CreateWebhookEndpoint", "POST", "/v1/webhook-endpoints", `{"url":"https://hooks.example.com/other","events":["api_key.created"]}`, false},
		{"UpdateWebhookEndpoint", "PATCH", "/v1/webhook-endpoints/" + e.ID, `{"description":"changed"}`, false},
		{"DeleteWebhookEndpoint", "DELETE", "/v1/webhook-endpoints/" + e.ID, "", false},
		{"TokenCreateCandidate", "POST", "/v1/candidates", `{"name":"Grace","email":"grace@example.com"}`, true},
		{"TokenUpdateKey", "PATCH", "/v1/auth/api-keys/" + target.ID, `{"name":"changed"}`, true},
		{"TokenImportKeys", "POST", "/v1/auth/api-keys/import", `{"keys":[{"hash":"` + hex.EncodeToString(hash[:]) + `","name":"legacy","permissions":["candidate:read"],"expires":"2024-02-20T12:10:00Z"}]}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			caller := ts.newKey(t, ts.Owner, `{"name":"caller","permissions":["*"]}`)
			secret := caller.Key
			if tt.token {
				secret = ts.mint(t, caller.Key, `{}`).AccessToken
			}
			ts.works(t, secret, 200, "") // authenticated, and cached
			before := ts.revokeMidRequest(t, hs, caller.ID)
			r := ts.do(t, tt.method, tt.path, secret, tt.body)
			if r.status != 401 || r.errorBody(t).Code != pihu.ERevokedAPIKey {
				t.Fatalf("%s %s revoked mid-request: got %d %s, want 401 revoked_api_key", tt.method, tt.path, r.status, r.body)
			}
			snap := before()
			if snap == nil {
				t.Fatal("the request reached no write")
			}
			after := ts.snapshot(t)
			for table := range maps.Keys(after) {
				if after[table] != snap[table] {
					t.Errorf("table %s: changed by a request whose key was revoked before its write (%s, now %s)", table, snap[table], after[table])
				}
			}
		})
	}
}

// TestActor_RevokedMidRequestOAuth is TestActor_RevokedMidRequest for the
// OAuth token endpoint, whose client authenticates with its key id and
// secret: a key revoked after it authenticated gets invalid_client, and no
// token is recorded.
func TestActor_RevokedMidRequestOAuth(t *testing.T) {
	ts, hs := newHookServer(t)
	caller := ts.newKey(t, ts.Owner, `{"name":"client","permissions":["token:write","candidate:read"]}`)
	ts.works(t, caller.Key, 200, "")
	before := ts.revokeMidRequest(t, hs, caller.ID)
	r := ts.oauth(t, "grant_type=client_credentials", map[string]string{"Authorization": basic(caller.ID, caller.Key)})
	if r.status != 401 || !strings.Contains(string(r.body), "invalid_client") {
		t.Fatalf("token for a client revoked mid-request: got %d %s, want 401 invalid_client", r.status, r.body)
	}
	snap := before()
	if snap == nil {
		t.Fatal("the request reached no write")
	}
	if after := ts.snapshot(t); !maps.Equal(after, snap) {
		t.Errorf("database changed by a client revoked before its write: %v, then %v", snap, after)
	}
}

// TestActor_CascadeAfterRevocation checks that what a key does after it
// is revoked leaves nothing for a cascading revocation to find: a
// provisioning key's child, stolen and revoked while it imports keys,
// imports none, so revoking the provisioner with cascade=true revokes no
// descendant and leaves no working key made by the stolen one.
func TestActor_CascadeAfterRevocation(t *testing.T) {
	ts, hs := newHookServer(t)
	provisioner := ts.newKey(t, ts.Owner, `{"name":"provisioner","permissions":["api_key:write","api_key:read","candidate:read"]}`)
	stolen := ts.newKey(t, provisioner.Key, `{"name":"stolen","permissions":["api_key:write","candidate:read"]}`)
	ts.works(t, stolen.Key, 200, "")
	secret := "legacy-secret-" + pihu.NewID("")
	hash := sha256.Sum256([]byte(secret))
	ts.revokeMidRequest(t, hs, stolen.ID)
	r := ts.do(t, "POST", "/v1/auth/api-keys/import", stolen.Key,
		`{"keys":[{"hash":"`+hex.EncodeToString(hash[:])+`","name":"backdoor","permissions":["candidate:read"]}]}`)
	if r.status != 401 {
		t.Fatalf("import by a key revoked mid-request: got %d %s, want 401", r.status, r.body)
	}
	ts.works(t, secret, 401, "invalid_api_key")

	r = ts.do(t, "DELETE", "/v1/auth/api-keys/"+provisioner.ID+"?cascade=true", ts.Owner, "")
	var revoked pihuhttp.RevokedKey
	r.decode(t, &revoked)
	if r.status != 200 || revoked.RevokedDescendants != 0 {
		t.Errorf("revoking the provisioner with cascade: got %d %s, want 200 and no descendant left to revoke", r.status, r.body)
	}
	for _, k := range ts.listAll(t, ts.Owner) {
		if k.CreatedBy != nil && *k.CreatedBy == stolen.ID {
			t.Errorf("key %s (%s), made by the revoked key, is still listed", k.ID, k.Name)
		}
		if strings.Contains(k.Name, "backdoor") {
			t.Errorf("key %s was imported by a revoked key", k.ID)
		}
	}
}
