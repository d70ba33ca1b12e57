package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// githubKeyDocument is GitHub's secret scanning key document with the
// public half of priv as key "k1".
func githubKeyDocument(tb testing.TB, priv *ecdsa.PrivateKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	doc := map[string]any{"public_keys": []map[string]any{{
		"key_identifier": "k1", "is_current": true,
		"key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}}}
	b, _ := json.Marshal(doc)
	return b
}

// githubReport posts a report of secret to url, signed with priv as "k1",
// and returns the status and the label of the one token.
func githubReport(tb testing.TB, url string, priv *ecdsa.PrivateKey, secret string) (int, string) {
	tb.Helper()
	body, _ := json.Marshal([]map[string]string{{"token": secret, "type": "pihu_api_key", "url": "https://github.com/acme/app/blob/1/.env", "source": "commit"}})
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url+"/v1/secret-scanning/github", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Github-Public-Key-Identifier", "k1")
	req.Header.Set("Github-Public-Key-Signature", base64.StdEncoding.EncodeToString(sig))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var labels []struct {
		Label string `json:"label"`
	}
	json.NewDecoder(res.Body).Decode(&labels)
	if len(labels) != 1 {
		return res.StatusCode, ""
	}
	return res.StatusCode, labels[0].Label
}

// TestServe_GitHubSecretScanning runs serve with GitHub's keys at a URL
// (fetched on the first report, not at start-up), in a file, and with
// neither (the endpoint off): a report of a key revokes it.
func TestServe_GitHubSecretScanning(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc := githubKeyDocument(t, priv)
	var fetches atomic.Int32
	ks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write(doc)
	}))
	defer ks.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "github-keys.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, dir, "--github-keys-url", ks.URL)
	owner := ownerKey(t, s)
	if n := fetches.Load(); n != 0 {
		t.Errorf("fetches at start-up: got %d, want none", n)
	}
	newKey := func() string {
		status, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"leaky","permissions":["candidate:read"]}`)
		if status != 200 {
			t.Fatalf("create: %d %v", status, k)
		}
		return k["key"].(string)
	}
	leaked := newKey()
	if status, label := githubReport(t, s.url, priv, leaked); status != 200 || label != "true_positive" {
		t.Fatalf("report (URL): got %d %q", status, label)
	}
	if status, _ := do(t, "GET", s.url+"/v1/auth/whoami", leaked, ""); status != 401 {
		t.Errorf("the reported key: got %d, want 401", status)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("fetches after a report: got %d, want 1", n)
	}
	s.stop(t)

	s = startServer(t, dir, "--github-keys-file", file)
	leaked = newKey()
	if status, label := githubReport(t, s.url, priv, leaked); status != 200 || label != "true_positive" {
		t.Fatalf("report (file): got %d %q", status, label)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("fetches with --github-keys-file: got %d, want still 1", n)
	}
	s.stop(t)

	s = startServer(t, dir, "--github-keys-url", "")
	if status, _ := githubReport(t, s.url, priv, newKey()); status != 404 {
		t.Errorf("report with the endpoint off: got %d, want 404", status)
	}
}
