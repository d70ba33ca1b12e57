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

func (s *writeHookStore) CreateIdentity(ctx context.Context, i *pihu.Identity, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.CreateIdentity(ctx, i, events...)
}

func (s *writeHookStore) UpdateIdentity(ctx context.Context, u pihu.IdentityUpdate) (*pihu.Identity, error) {
	s.write()
	return s.Store.UpdateIdentity(ctx, u)
}

func (s *writeHookStore) DeleteIdentity(ctx context.Context, d pihu.IdentityDeletion) (*pihu.Identity, []*pihu.Key, error) {
	s.write()
	return s.Store.DeleteIdentity(ctx, d)
}

func (s *writeHookStore) CreateRole(ctx context.Context, r *pihu.KeyRole, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.CreateRole(ctx, r, events...)
}

func (s *writeHookStore) UpdateRole(ctx context.Context, u pihu.RoleUpdate) (*pihu.KeyRole, error) {
	s.write()
	return s.Store.UpdateRole(ctx, u)
}

func (s *writeHookStore) DeleteRole(ctx context.Context, d pihu.RoleDeletion) (*pihu.KeyRole, int, error) {
	s.write()
	return s.Store.DeleteRole(ctx, d)
}

func (s *writeHookStore) DefinePermission(ctx context.Context, p *pihu.DefinedPermission, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.DefinePermission(ctx, p, events...)
}

func (s *writeHookStore) DeletePermission(ctx context.Context, accountID string, name pihu.Permission, force bool, events ...*pihu.AuditEvent) (*pihu.DefinedPermission, int, error) {
	s.write()
	return s.Store.DeletePermission(ctx, accountID, name, force, events...)
}

func (s *writeHookStore) QueueWebhookEvent(ctx context.Context, endpointID string, ev *pihu.WebhookEvent) (*pihu.Delivery, error) {
	s.write()
	return s.Store.QueueWebhookEvent(ctx, endpointID, ev)
}

func (s *writeHookStore) ResendDelivery(ctx context.Context, sc pihu.Scope, endpointID, deliveryID string) (*pihu.Delivery, error) {
	s.write()
	return s.Store.ResendDelivery(ctx, sc, endpointID, deliveryID)
}

func (s *writeHookStore) RollWebhookSecret(ctx context.Context, e *pihu.WebhookEndpoint, events ...*pihu.AuditEvent) error {
	s.write()
	return s.Store.RollWebhookSecret(ctx, e, events...)
}

func (s *writeHookStore) SetLeakPolicy(ctx context.Context, id string, p pihu.LeakPolicy, events ...*pihu.AuditEvent) (*pihu.Account, error) {
	s.write()
	return s.Store.SetLeakPolicy(ctx, id, p, events...)
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

// TestActor_RevokedMidRequest sends a request to every write endpoint of
// the OpenAPI document with a key (or an access token of it) that another
// instance revokes while the request runs, after it was authenticated and
// before its write: the request answers 401 revoked_api_key, and the
// database is exactly as the revocation left it. An operation the document
// adds without a case here fails the test.
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
	if r := ts.do(t, "POST", "/v1/webhook-endpoints/"+e.ID+"/test", ts.Owner, ""); r.status != 200 {
		t.Fatalf("sending a test event: %d %s", r.status, r.body)
	}
	var deliveries pihuhttp.DeliveryList
	ts.do(t, "GET", "/v1/webhook-endpoints/"+e.ID+"/deliveries", ts.Owner, "").decode(t, &deliveries)
	if len(deliveries.Data) != 1 {
		t.Fatalf("deliveries after a test event: %+v", deliveries.Data)
	}
	delivery := deliveries.Data[0]
	if r := ts.do(t, "POST", "/v1/permissions", ts.Owner, `{"name":"billing:read"}`); r.status != 200 {
		t.Fatalf("defining a permission: %d %s", r.status, r.body)
	}
	role := ts.newRole(t, ts.Owner, `{"name":"support","permissions":["candidate:read"]}`)
	acme := ts.newIdentity(t, ts.Owner, `{"external_id":"org_acme"}`)
	hash := sha256.Sum256([]byte("legacy-secret-" + pihu.NewID("")))

	const (
		anyKey     = `{"name":"caller","permissions":["*"]}`
		creditsKey = `{"name":"caller","permissions":["*"],"remaining":10}`
	)
	cases := []struct {
		op, method, path, body string
		caller                 string // the caller key's creation body
		token                  bool   // with an access token of the key
	}{
		{"createKey", "POST", "/v1/auth/api-keys", `{"name":"new","permissions":["candidate:read"]}`, anyKey, false},
		{"updateKey", "PATCH", "/v1/auth/api-keys/" + target.ID, `{"name":"changed","permissions":["*"]}`, anyKey, false},
		{"rotateKey", "POST", "/v1/auth/api-keys/" + target.ID + "/rotate", `{"expire_old_in":"1h"}`, anyKey, false},
		{"revokeKey", "DELETE", "/v1/auth/api-keys/" + target.ID, "", anyKey, false},
		{"importKeys", "POST", "/v1/auth/api-keys/import", `{"keys":[{"hash":"` + hex.EncodeToString(hash[:]) + `","name":"legacy","permissions":["candidate:read"]}]}`, anyKey, false},
		{"createToken", "POST", "/v1/auth/tokens", `{}`, anyKey, false},
		{"verifyKey", "POST", "/v1/auth/verify", `{"key":"` + metered.Key + `"}`, anyKey, false},
		{"forwardAuthPost", "POST", "/v1/auth/forward?permission=candidate:read", "", creditsKey, false},
		{"updateAccount", "PATCH", "/v1/auth/account", `{"leak_policy":"flag"}`, anyKey, false},
		{"createCandidate", "POST", "/v1/candidates", `{"name":"Grace","email":"grace@example.com"}`, anyKey, false},
		{"deleteCandidate", "DELETE", "/v1/candidates/" + cand.ID, "", anyKey, false},
		{"createInterview", "POST", "/v1/interviews", `{"candidate_id":"` + cand.ID + `","position":"Engineer"}`, anyKey, false},
		{"deleteInterview", "DELETE", "/v1/interviews/" + iv.ID, "", anyKey, false},
		{"createWebhookEndpoint", "POST", "/v1/webhook-endpoints", `{"url":"https://hooks.example.com/other","events":["api_key.created"]}`, anyKey, false},
		{"updateWebhookEndpoint", "PATCH", "/v1/webhook-endpoints/" + e.ID, `{"description":"changed"}`, anyKey, false},
		{"deleteWebhookEndpoint", "DELETE", "/v1/webhook-endpoints/" + e.ID, "", anyKey, false},
		{"sendWebhookTestEvent", "POST", "/v1/webhook-endpoints/" + e.ID + "/test", "", anyKey, false},
		{"resendWebhookDelivery", "POST", "/v1/webhook-endpoints/" + e.ID + "/deliveries/" + delivery.ID + "/resend", "", anyKey, false},
		{"rollWebhookSecret", "POST", "/v1/webhook-endpoints/" + e.ID + "/roll-secret", `{"expire_old_in":"1h"}`, anyKey, false},
		{"createPermission", "POST", "/v1/permissions", `{"name":"report:export"}`, anyKey, false},
		{"deletePermission", "DELETE", "/v1/permissions/billing:read", "", anyKey, false},
		{"createRole", "POST", "/v1/roles", `{"name":"auditor","permissions":["candidate:read"]}`, anyKey, false},
		{"updateRole", "PATCH", "/v1/roles/" + role.ID, `{"permissions":["candidate:read","interview:read"]}`, anyKey, false},
		{"deleteRole", "DELETE", "/v1/roles/" + role.ID, "", anyKey, false},
		{"createIdentity", "POST", "/v1/identities", `{"external_id":"org_globex"}`, anyKey, false},
		{"updateIdentity", "PATCH", "/v1/identities/" + acme.ID, `{"metadata":{"plan":"pro"}}`, anyKey, false},
		{"deleteIdentity", "DELETE", "/v1/identities/" + acme.ID, "", anyKey, false},
		{"createCandidate", "POST", "/v1/candidates", `{"name":"Grace","email":"grace@example.com"}`, anyKey, true},
		{"updateKey", "PATCH", "/v1/auth/api-keys/" + target.ID, `{"name":"changed"}`, anyKey, true},
		{"importKeys", "POST", "/v1/auth/api-keys/import", `{"keys":[{"hash":"` + hex.EncodeToString(hash[:]) + `","name":"legacy","permissions":["candidate:read"],"expires":"2024-02-20T12:10:00Z"}]}`, anyKey, true},
		{"forwardAuthPost", "POST", "/v1/auth/forward?permission=candidate:read", "", creditsKey, true},
	}
	covered := map[string]bool{}
	for _, tt := range cases {
		covered[tt.op] = true
		name := tt.op
		if tt.token {
			name = "Token_" + name
		}
		t.Run(name, func(t *testing.T) {
			caller := ts.newKey(t, ts.Owner, tt.caller)
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

	// Every write operation of the document has a case above, but those
	// whose caller is no key (GitHub's and the leak reports', signed by
	// their sender; OAuth's, TestActor_RevokedMidRequestOAuth) and the
	// other methods of forward auth, which run forwardAuthPost's handler.
	exempt := map[string]bool{"reportLeakedKeys": true, "githubSecretScanning": true, "oauthToken": true,
		"forwardAuthPut": true, "forwardAuthPatch": true, "forwardAuthDelete": true}
	for _, o := range operations(t) {
		if o.method == "GET" || o.method == "HEAD" || o.method == "OPTIONS" || exempt[o.op.OperationID] {
			continue
		}
		if !covered[o.op.OperationID] {
			t.Errorf("%s %s (%s) writes and has no case here: add one", o.method, o.path, o.op.OperationID)
		}
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
