package gentest_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/internal/gentest"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// TestGenerated_UpToDate generates the client again, with the pinned
// oapi-codegen of go.mod and its default options, from the document the
// server serves, and compares it with the committed one: the document
// generates without error, and the flow test below runs on what it
// generates today.
func TestGenerated_UpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oapi-codegen; skipped with -short")
	}
	doc := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(doc, pihuhttp.OpenAPIDocument(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "client.gen.go")
	cmd := exec.Command("go", "tool", "oapi-codegen", "-generate", "types,client", "-package", "gentest", "-o", out, doc)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen refused the document: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("client.gen.go is not what oapi-codegen generates from http/openapi.json: run go generate ./internal/gentest/")
	}
}

// newServer starts the real API on a temp SQLite file and returns its URL
// and the secret of its first account's owner key.
func newServer(tb testing.TB) (string, string) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	hs := httptest.NewUnstartedServer(nil)
	tokens := auth.NewTokens(db, auth.TokenOptions{Issuer: "http://" + hs.Listener.Addr().String()})
	hs.Config.Handler = pihuhttp.New(pihuhttp.Options{Store: db, Auth: auth.New(db, auth.Options{Tokens: tokens}), Logger: slog.New(slog.DiscardHandler)})
	hs.Start()
	tb.Cleanup(hs.Close)
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Acme", Created: time.Now()}
	k, secret, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.CreateAccount(ctx, a, k); err != nil {
		tb.Fatal(err)
	}
	return hs.URL, secret
}

func bearer(secret string) gentest.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+secret)
		return nil
	}
}

// TestGenerated_Flow runs the seed's flow (create a key, list keys) and a
// few errors through the generated client against a real server.
func TestGenerated_Flow(t *testing.T) {
	url, owner := newServer(t)
	ctx := context.Background()
	c, err := gentest.NewClientWithResponses(url, gentest.WithRequestEditorFn(bearer(owner)))
	if err != nil {
		t.Fatal(err)
	}
	expiration := "30d"
	created, err := c.CreateKeyWithResponse(ctx, nil, gentest.CreateKeyJSONRequestBody{
		Name:        "My API Key",
		Permissions: &[]gentest.Permission{"interview:write", "candidate:read"},
		Expiration:  &expiration,
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.JSON200 == nil {
		t.Fatalf("create: got %d %s, want 200", created.StatusCode(), created.Body)
	}
	if k := created.JSON200; k.Name != "My API Key" || !validSecret(k.Key) || !k.Expires.Equal(k.Created.Add(30*24*time.Hour)) {
		t.Errorf("created: got %+v", k)
	}

	t.Run("List", func(t *testing.T) {
		limit := gentest.Limit(1)
		page, err := c.ListKeysWithResponse(ctx, &gentest.ListKeysParams{Limit: &limit})
		if err != nil {
			t.Fatal(err)
		}
		if page.JSON200 == nil || len(page.JSON200.Data) != 1 || page.JSON200.Data[0].Id != created.JSON200.Id || !page.JSON200.HasMore {
			t.Fatalf("list: got %d %s, want the new key first and more", page.StatusCode(), page.Body)
		}
		after := gentest.StartingAfter(page.JSON200.Data[0].Id)
		next, err := c.ListKeysWithResponse(ctx, &gentest.ListKeysParams{Limit: &limit, StartingAfter: &after})
		if err != nil {
			t.Fatal(err)
		}
		if next.JSON200 == nil || len(next.JSON200.Data) != 1 || next.JSON200.Data[0].Id == created.JSON200.Id {
			t.Fatalf("second page: got %d %s", next.StatusCode(), next.Body)
		}
	})

	t.Run("ErrNameEmpty", func(t *testing.T) {
		r, err := c.CreateKeyWithResponse(ctx, nil, gentest.CreateKeyJSONRequestBody{Permissions: &[]gentest.Permission{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON400 == nil || r.JSON400.Error.Code != "parameter_invalid" || r.JSON400.Error.Param == nil || *r.JSON400.Error.Param != "name" {
			t.Errorf("got %d %s, want 400 parameter_invalid on name", r.StatusCode(), r.Body)
		}
	})
	t.Run("ErrInvalidAPIKey", func(t *testing.T) {
		anon, err := gentest.NewClientWithResponses(url, gentest.WithRequestEditorFn(bearer("ph_live_nothing")))
		if err != nil {
			t.Fatal(err)
		}
		r, err := anon.ListKeysWithResponse(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON401 == nil || r.JSON401.Error.Code != "invalid_api_key" {
			t.Errorf("got %d %s, want 401 invalid_api_key", r.StatusCode(), r.Body)
		}
	})
	t.Run("ErrInsufficientPermissions", func(t *testing.T) {
		narrow, err := gentest.NewClientWithResponses(url, gentest.WithRequestEditorFn(bearer(created.JSON200.Key)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := narrow.ListKeysWithResponse(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON403 == nil || r.JSON403.Error.Required == nil || *r.JSON403.Error.Required != "api_key:read" {
			t.Errorf("got %d %s, want 403 requiring api_key:read", r.StatusCode(), r.Body)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		r, err := c.GetKeyWithResponse(ctx, "key_nothing")
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON404 == nil || r.JSON404.Error.Code != "not_found" {
			t.Errorf("got %d %s, want 404 not_found", r.StatusCode(), r.Body)
		}
	})
}

func validSecret(s string) bool {
	_, ok := pihu.ParseSecret(s)
	return ok
}
