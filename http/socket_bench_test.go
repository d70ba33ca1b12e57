package http

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/logbuf"
	"github.com/pihu-ai/pihu/metrics"
	"github.com/pihu-ai/pihu/sqlite"
)

// BenchmarkSocket measures what a client gets: requests over loopback TCP
// with keep-alive, to the server as serve builds it (its request lines
// formatted by logbuf.RequestLog into a buffered sink, metrics on, as
// serve's), next to a bare net/http
// server answering whoami's exact bytes and headers. Compare the
// sub-benchmarks of one run: Whoami/Bare is pihu's cost over net/http's
// own, Whoami/Healthz the cost of authentication and the handler.
// cpu-ns/op is the process's CPU time per request, client and server
// together (steadier than ns/op on a busy machine). WhoamiRoles is whoami
// with a key holding two roles (and no permission of its own), whose
// rights are resolved from the roles the cache holds: compare it with
// Whoami. WhoamiIdentity is whoami with a key of an identity (metadata, a
// shared rate limit), whose answer names it, from the cached key.
// WhoamiNamed is whoami with a key holding two roles, of an identity, with
// two named limits (which whoami does not spend: they ride in the cached
// key).
func BenchmarkSocket(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlitetest.Path(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Bench", Created: time.Now()}
	k, secret, _ := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
	k.RateLimit = pihu.StoredRateLimit("1000000/s")
	if err := db.CreateAccount(ctx, a, k); err != nil {
		b.Fatal(err)
	}
	rolesSecret := roleKey(b, db, k)
	identitySecret := identityKey(b, db, k)
	namedSecret := namedLimitsKey(b, db, k)
	logs := logbuf.New(io.Discard, 100*time.Millisecond)
	defer logs.Close()
	logger := slog.New(logbuf.Handler(slog.NewTextHandler(logs, nil), logs))
	m := metrics.New()
	srv := httptest.NewServer(New(Options{Store: db, Auth: auth.New(db, auth.Options{Logger: logger, Observer: m}), Logger: logger,
		RequestLog: logbuf.NewRequestLog(logs, false), Metrics: m}))
	defer srv.Close()
	client := srv.Client()

	get := func(b *testing.B, url, secret string) (http.Header, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: got %d %s", url, resp.StatusCode, body)
		}
		return resp.Header, body
	}
	header, body := get(b, srv.URL+"/v1/auth/whoami", secret)
	header.Del("Date")
	header.Del("Content-Length")
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}))
	defer bare.Close()

	for _, bc := range []struct{ name, url, secret string }{
		{"Bare", bare.URL + "/v1/auth/whoami", secret},
		{"Healthz", srv.URL + "/healthz", secret},
		{"Whoami", srv.URL + "/v1/auth/whoami", secret},
		{"WhoamiRoles", srv.URL + "/v1/auth/whoami", rolesSecret},
		{"WhoamiIdentity", srv.URL + "/v1/auth/whoami", identitySecret},
		{"WhoamiNamed", srv.URL + "/v1/auth/whoami", namedSecret},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, bc.url, bc.secret)
				}
			})
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// roleKey stores two roles of owner's account and a key holding both, with
// no permission of its own and no rate limit to speak of, and returns its
// secret.
func roleKey(b *testing.B, db *sqlite.DB, owner *pihu.Key) string {
	ctx := context.Background()
	var roles []*pihu.KeyRole
	for _, r := range []pihu.RoleRequest{
		{Name: "readers", Permissions: pihu.Permissions{"candidate:read", "interview:read"}},
		{Name: "webhooks", Permissions: pihu.Permissions{"webhook:read"}},
	} {
		role, err := pihu.NewKeyRole(owner.AccountID, r, owner, time.Now())
		if err == nil {
			err = db.CreateRole(ctx, role)
		}
		if err != nil {
			b.Fatal(err)
		}
		roles = append(roles, role)
	}
	limit := "1000000/s"
	k, secret, err := pihu.NewKey(owner.AccountID, pihu.KeyRequest{Name: "with roles", Roles: pihu.RoleIDs(roles), AccountRoles: roles, RateLimit: &limit}, owner, time.Now())
	if err == nil {
		err = db.CreateKey(ctx, k)
	}
	if err != nil {
		b.Fatal(err)
	}
	return secret
}

// identityKey stores an identity of owner's account with metadata and a
// shared limit that is no limit to speak of, and a key of it, and returns
// the key's secret.
func identityKey(b *testing.B, db *sqlite.DB, owner *pihu.Key) string {
	ctx := context.Background()
	limit := "1000000/s"
	i, err := pihu.NewIdentity(owner, pihu.IdentityRequest{ExternalID: "org_acme", Metadata: []byte(`{"plan":"pro"}`), RateLimit: &limit}, time.Now())
	if err == nil {
		err = db.CreateIdentity(ctx, i)
	}
	if err != nil {
		b.Fatal(err)
	}
	k, secret, err := pihu.NewKey(owner.AccountID, pihu.KeyRequest{Name: "of an identity", Permissions: pihu.Permissions{"candidate:read"}, IdentityID: i.ID}, owner, time.Now())
	if err == nil {
		err = db.CreateKey(ctx, k)
	}
	if err != nil {
		b.Fatal(err)
	}
	return secret
}

// namedLimitsKey stores two roles and an identity of owner's account, and
// a key holding both roles, of the identity, with two named limits, and
// returns its secret.
func namedLimitsKey(b *testing.B, db *sqlite.DB, owner *pihu.Key) string {
	ctx := context.Background()
	roles, err := db.Roles(ctx, owner.AccountID)
	if err != nil || len(roles) < 2 {
		b.Fatalf("roles: %v (%d)", err, len(roles))
	}
	limit := "1000000/s"
	i, err := pihu.NewIdentity(owner, pihu.IdentityRequest{ExternalID: "org_named", Metadata: []byte(`{"plan":"pro"}`), RateLimit: &limit}, time.Now())
	if err == nil {
		err = db.CreateIdentity(ctx, i)
	}
	if err != nil {
		b.Fatal(err)
	}
	k, secret, err := pihu.NewKey(owner.AccountID, pihu.KeyRequest{Name: "named limits", Roles: pihu.RoleIDs(roles[:2]), AccountRoles: roles,
		IdentityID: i.ID, RateLimits: map[string]string{"tokens": "1000000/d", "images": "1000/m"}}, owner, time.Now())
	if err == nil {
		err = db.CreateKey(ctx, k)
	}
	if err != nil {
		b.Fatal(err)
	}
	return secret
}
