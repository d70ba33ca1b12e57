package http_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/webhook"
)

// githubSigner is one of GitHub's secret scanning keys, as a test makes
// it: it signs reports as GitHub does.
type githubSigner struct {
	id   string
	priv *ecdsa.PrivateKey
}

func newGitHubSigner(tb testing.TB, id string) *githubSigner {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &githubSigner{id: id, priv: priv}
}

// sign is the Github-Public-Key-Signature of body: the base64 of the
// ASN.1 ECDSA signature of its SHA-256.
func (g *githubSigner) sign(tb testing.TB, body []byte) string {
	tb.Helper()
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, g.priv, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// keyDocument is GitHub's public key document holding signers' keys, the
// first current.
func keyDocument(tb testing.TB, signers ...*githubSigner) []byte {
	tb.Helper()
	type entry struct {
		ID      string `json:"key_identifier"`
		Key     string `json:"key"`
		Current bool   `json:"is_current"`
	}
	var doc struct {
		PublicKeys []entry `json:"public_keys"`
	}
	for i, g := range signers {
		der, err := x509.MarshalPKIXPublicKey(&g.priv.PublicKey)
		if err != nil {
			tb.Fatal(err)
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		doc.PublicKeys = append(doc.PublicKeys, entry{ID: g.id, Key: string(p), Current: i == 0})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// githubKeysFile is GitHubKeys read from a file holding signers' keys.
func githubKeysFile(tb testing.TB, now func() time.Time, signers ...*githubSigner) *pihuhttp.GitHubKeys {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "secret_scanning.json")
	if err := os.WriteFile(path, keyDocument(tb, signers...), 0o600); err != nil {
		tb.Fatal(err)
	}
	g, err := pihuhttp.NewGitHubKeys(pihuhttp.GitHubKeysOptions{File: path, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// keyServer serves GitHub's key document over HTTP, as
// api.github.com/meta/public_keys/secret_scanning does, and counts the
// fetches; down makes it answer 502.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	signers []*githubSigner
	down    bool
	fetches int
}

func newKeyServer(t testing.TB, signers ...*githubSigner) *keyServer {
	ks := &keyServer{signers: signers}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		ks.fetches++
		if ks.down {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(keyDocument(t, ks.signers...))
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(down bool, signers ...*githubSigner) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.down, ks.signers = down, signers
}

func (ks *keyServer) count() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
}

// scanningServer is a test server whose GitHub keys come from ks, on the
// server's clock.
func scanningServer(t *testing.T, ks *keyServer, options ...func(*pihuhttp.Options)) *testServer {
	return newTestServer(t, append([]func(*pihuhttp.Options){func(o *pihuhttp.Options) {
		g, err := pihuhttp.NewGitHubKeys(pihuhttp.GitHubKeysOptions{URL: ks.URL, Now: o.Now})
		if err != nil {
			t.Fatal(err)
		}
		o.GitHubKeys = g
	}}, options...)...)
}

// match is one token of a report.
type match struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

func reportBody(tb testing.TB, ms ...match) []byte {
	tb.Helper()
	if ms == nil {
		ms = []match{}
	}
	b, err := json.Marshal(ms)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// report posts body as GitHub would, signed by signer as id (signer's
// own id if "").
func (ts *testServer) report(tb testing.TB, signer *githubSigner, id string, body []byte) response {
	tb.Helper()
	if id == "" {
		id = signer.id
	}
	return ts.doWith(tb, "POST", "/v1/secret-scanning/github", string(body), map[string]string{
		"Content-Type": "application/json", "Github-Public-Key-Identifier": id, "Github-Public-Key-Signature": signer.sign(tb, body),
	})
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func labels(tb testing.TB, r response) []pihuhttp.SecretScanningLabel {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("report: got %d %s, want 200", r.status, r.body)
	}
	var out []pihuhttp.SecretScanningLabel
	r.decode(tb, &out)
	return out
}

// lookalike is secret with its last character changed: the same shape,
// a wrong checksum.
func lookalike(secret string) string {
	last := secret[len(secret)-1]
	c := byte('A')
	if last == 'A' {
		c = 'B'
	}
	return secret[:len(secret)-1] + string(c)
}

// storedKey reads key id of the first account straight from the store,
// revoked or not.
func (ts *testServer) storedKey(tb testing.TB, id string) *pihu.Key {
	tb.Helper()
	k, err := ts.Store.Key(context.Background(), ts.Account.ID, id)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// leakEvents are the first account's api_key.leaked events.
func (ts *testServer) leakEvents(tb testing.TB) []pihuhttp.AuditEventItem {
	tb.Helper()
	var out []pihuhttp.AuditEventItem
	for _, ev := range ts.events(tb, ts.Owner) {
		if ev.Action == pihu.ActionKeyLeaked {
			out = append(out, ev)
		}
	}
	return out
}

// TestSecretScanning_Report sends a signed report of a live key, a test
// key, a key already revoked, a lookalike, an unknown key and another
// provider's token: the live and test keys are revoked at once, with an
// api_key.leaked event holding the url and source, where they leaked is
// on the keys, and each token is labelled by its SHA-256, never shown.
func TestSecretScanning_Report(t *testing.T) {
	ks := newKeyServer(t, newGitHubSigner(t, "k1"))
	ts := scanningServer(t, ks)
	if n := ks.count(); n != 0 {
		t.Fatalf("the server fetched GitHub's keys %d times before any report; want none", n)
	}
	live := ts.newKey(t, ts.Owner, `{"name":"live","permissions":["candidate:read"]}`)
	test := ts.newKey(t, ts.Owner, `{"name":"test","permissions":["candidate:read"],"environment":"test"}`)
	gone := ts.newKey(t, ts.Owner, `{"name":"gone","permissions":["candidate:read"]}`)
	if r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+gone.ID, ts.Owner, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	unknown := pihu.NewSecret(pihu.Live)
	other := "ghp_" + strings.Repeat("A1b2", 9)
	ts.Clock.Add(time.Minute)
	ms := []match{
		{live.Key, "pihu_api_key", "https://github.com/acme/app/blob/5f1c2e/.env", "commit"},
		{test.Key, "pihu_api_key", "https://gist.github.com/acme/1", "gist_content"},
		{gone.Key, "pihu_api_key", "https://github.com/acme/app/issues/1", "issue_comment"},
		{lookalike(live.Key), "pihu_api_key", "https://github.com/acme/app", "content"},
		{unknown, "pihu_api_key", "https://github.com/acme/app", "content"},
		{other, "github_personal_access_token", "https://github.com/acme/app", "content"},
	}
	r := ts.report(t, ks.signers[0], "", reportBody(t, ms...))
	got := labels(t, r)
	want := []string{"true_positive", "true_positive", "true_positive", "false_positive", "false_positive", "false_positive"}
	if len(got) != len(ms) {
		t.Fatalf("labels: got %d, want %d", len(got), len(ms))
	}
	for i, m := range ms {
		if got[i].TokenHash != tokenHash(m.Token) || got[i].TokenType != m.Type || got[i].Label != want[i] {
			t.Errorf("label %d: got %+v, want %s %s %s", i, got[i], tokenHash(m.Token), m.Type, want[i])
		}
		if strings.Contains(string(r.body), m.Token) {
			t.Errorf("the answer holds token %d", i)
		}
	}
	ts.works(t, live.Key, 401, "revoked_api_key")
	ts.works(t, test.Key, 401, "revoked_api_key")
	ts.works(t, ts.Owner, 200, "")
	k := ts.storedKey(t, live.ID)
	if k.Leaked == nil || k.Leaked.URL != ms[0].URL || k.Leaked.Source != "commit" || k.Leaked.By != pihu.ActorGitHubSecretScanning || !k.Leaked.Revoked {
		t.Errorf("live key's leak: got %+v", k.Leaked)
	}
	if g := ts.storedKey(t, gone.ID); g.Leaked != nil {
		t.Errorf("a key revoked before: got leak %+v, want none", g.Leaked)
	}
	events := ts.leakEvents(t)
	if len(events) != 2 {
		t.Fatalf("api_key.leaked events: got %d, want 2 (live and test)", len(events))
	}
	for _, ev := range events {
		m := ms[0]
		if ev.Target == test.ID {
			m = ms[1]
		}
		if ev.URL != m.URL || ev.Source != m.Source || ev.Actor != pihu.ActorGitHubSecretScanning {
			t.Errorf("event: got %+v, want url %q, source %q", ev, m.URL, m.Source)
		}
	}
	if n := ks.count(); n != 1 {
		t.Errorf("fetches of GitHub's keys: got %d, want 1", n)
	}
	logs := ts.logs.String()
	if strings.Contains(logs, live.Key) || strings.Contains(logs, unknown) {
		t.Errorf("the logs hold a key: %s", logs)
	}
	if !strings.Contains(logs, `msg="GitHub secret scanning report"`) || !strings.Contains(logs, "tokens=6 keys=3 revoked=2 flagged=0") {
		t.Errorf("logs: got %s, want a line counting the report's tokens, keys, revoked and flagged", logs)
	}
}

// TestSecretScanning_Refused sends reports that are not GitHub's, or not
// readable: each is refused with its status, and nothing is revoked or
// recorded.
func TestSecretScanning_Refused(t *testing.T) {
	signer := newGitHubSigner(t, "k1")
	ks := newKeyServer(t, signer)
	ts := scanningServer(t, ks)
	victim := ts.newKey(t, ts.Owner, `{"name":"victim","permissions":["candidate:read"]}`)
	body := reportBody(t, match{victim.Key, "pihu_api_key", "https://github.com/acme/app", "commit"})
	forger := newGitHubSigner(t, "k1")
	tampered := reportBody(t, match{victim.Key, "pihu_api_key", "https://github.com/acme/other", "commit"})
	huge := append(reportBody(t, match{victim.Key, "pihu_api_key", "https://github.com/acme/app", "commit"})[:1],
		[]byte(strings.Repeat(`{"token":"x","type":"t","url":"https://github.com/acme/app","source":"content"},`, 14000)+`{"token":"`+victim.Key+`"}]`)...)
	post := func(t *testing.T, body []byte, headers map[string]string) response {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range headers {
			h[k] = v
		}
		return ts.doWith(t, "POST", "/v1/secret-scanning/github", string(body), h)
	}
	signed := func(b []byte) map[string]string {
		return map[string]string{"Github-Public-Key-Identifier": "k1", "Github-Public-Key-Signature": signer.sign(t, b)}
	}
	for _, tt := range []struct {
		name   string
		body   []byte
		h      map[string]string
		status int
		code   string
	}{
		{"NoSignature", body, nil, 401, "invalid_signature"},
		{"NoIdentifier", body, map[string]string{"Github-Public-Key-Signature": signer.sign(t, body)}, 401, "invalid_signature"},
		{"WrongKey", body, map[string]string{"Github-Public-Key-Identifier": "k1", "Github-Public-Key-Signature": forger.sign(t, body)}, 401, "invalid_signature"},
		{"TamperedBody", tampered, signed(body), 401, "invalid_signature"},
		{"UnknownIdentifier", body, map[string]string{"Github-Public-Key-Identifier": "k9", "Github-Public-Key-Signature": signer.sign(t, body)}, 401, "invalid_signature"},
		{"GarbageSignature", body, map[string]string{"Github-Public-Key-Identifier": "k1", "Github-Public-Key-Signature": "not base64!"}, 401, "invalid_signature"},
		{"JunkSignature", body, map[string]string{"Github-Public-Key-Identifier": "k1", "Github-Public-Key-Signature": base64.StdEncoding.EncodeToString([]byte("junk"))}, 401, "invalid_signature"},
		{"HugeBody", huge, signed(huge), 413, "body_too_large"},
		{"NotJSON", []byte("not json"), signed([]byte("not json")), 400, "invalid_json"},
		{"Object", []byte(`{"token":"` + victim.Key + `"}`), signed([]byte(`{"token":"` + victim.Key + `"}`)), 400, "invalid_json"},
		{"TrailingData", append(slices.Clone(body), "[]"...), signed(append(slices.Clone(body), "[]"...)), 400, "invalid_json"},
		{"NoToken", []byte(`[{"type":"pihu_api_key"}]`), signed([]byte(`[{"type":"pihu_api_key"}]`)), 400, "parameter_missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, tt.body, tt.h)
			checkCode(t, r, tt.status, tt.code, r.errorBody(t).Param)
			if r.header.Get("WWW-Authenticate") != "" {
				t.Errorf("WWW-Authenticate: got %q, want none (not the Bearer scheme)", r.header.Get("WWW-Authenticate"))
			}
			ts.works(t, victim.Key, 200, "")
		})
	}
	if len(huge) <= pihuhttp.MaxSecretScanningBody {
		t.Fatalf("the huge body is %d bytes, not over the cap", len(huge))
	}
	r := ts.doWith(t, "POST", "/v1/secret-scanning/github", string(body), map[string]string{"Content-Type": "text/plain", "Github-Public-Key-Identifier": "k1", "Github-Public-Key-Signature": signer.sign(t, body)})
	checkCode(t, r, 415, "unsupported_media_type", "")
	if n := len(ts.leakEvents(t)); n != 0 {
		t.Errorf("api_key.leaked events: got %d, want none", n)
	}
	// The unknown identifier fetched the document again, once; the other
	// refusals did not.
	if n := ks.count(); n != 1 {
		t.Errorf("fetches: got %d, want 1", n)
	}
}

// TestSecretScanning_ReportedTwice sends the same token twice in one
// report, then the report again (GitHub retries): one revocation and one
// event, and the same labels each time.
func TestSecretScanning_ReportedTwice(t *testing.T) {
	signer := newGitHubSigner(t, "k1")
	ts := scanningServer(t, newKeyServer(t, signer))
	leaked := ts.newKey(t, ts.Owner, `{"name":"leaked","permissions":["candidate:read"]}`)
	m := match{leaked.Key, "pihu_api_key", "https://github.com/acme/app", "commit"}
	body := reportBody(t, m, m)
	first := labels(t, ts.report(t, signer, "", body))
	revoked := ts.storedKey(t, leaked.ID).Revoked
	ts.Clock.Add(time.Minute)
	again := labels(t, ts.report(t, signer, "", body))
	if len(first) != 2 || first[0] != first[1] || first[0].Label != "true_positive" || !slices.Equal(first, again) {
		t.Errorf("labels: got %+v then %+v, want the same two true positives", first, again)
	}
	if n := len(ts.leakEvents(t)); n != 1 {
		t.Errorf("api_key.leaked events: got %d, want 1", n)
	}
	if got := ts.storedKey(t, leaked.ID).Revoked; got == nil || !got.Equal(*revoked) {
		t.Errorf("revoked: got %v, want the first report's %v", got, revoked)
	}
}

// TestSecretScanning_KeyRotation checks that a report signed with a key
// GitHub published since the last fetch loads the document again and is
// accepted, and that identifiers the document lacks load it at most once
// a minute.
func TestSecretScanning_KeyRotation(t *testing.T) {
	k1, k2 := newGitHubSigner(t, "k1"), newGitHubSigner(t, "k2")
	ks := newKeyServer(t, k1)
	ts := scanningServer(t, ks)
	if got := labels(t, ts.report(t, k1, "", reportBody(t))); len(got) != 0 {
		t.Fatalf("empty report: got %+v", got)
	}
	ks.set(false, k2, k1) // GitHub rotates: k2 is current
	ts.Clock.Add(GitHubKeysRefresh)
	leaked := ts.newKey(t, ts.Owner, `{"name":"leaked","permissions":["candidate:read"]}`)
	if got := labels(t, ts.report(t, k2, "", reportBody(t, match{leaked.Key, "pihu_api_key", "https://github.com/a/b", "commit"}))); got[0].Label != "true_positive" {
		t.Errorf("report signed with the new key: got %+v", got)
	}
	ts.works(t, leaked.Key, 401, "revoked_api_key")
	if n := ks.count(); n != 2 {
		t.Errorf("fetches after the rotation: got %d, want 2", n)
	}
	// Made-up identifiers: none within a minute of the last fetch, then
	// one, then none within the minute again.
	k3 := newGitHubSigner(t, "k3")
	checkCode(t, ts.report(t, k3, "", reportBody(t)), 401, "invalid_signature", "")
	if n := ks.count(); n != 2 {
		t.Errorf("fetches after an unknown identifier within the minute: got %d, want 2 (none more)", n)
	}
	ts.Clock.Add(GitHubKeysRefresh)
	for range 3 {
		checkCode(t, ts.report(t, k3, "", reportBody(t)), 401, "invalid_signature", "")
	}
	if n := ks.count(); n != 3 {
		t.Errorf("fetches after 3 reports with an unknown identifier: got %d, want 3 (one more)", n)
	}
	ts.Clock.Add(GitHubKeysRefresh)
	checkCode(t, ts.report(t, k3, "", reportBody(t)), 401, "invalid_signature", "")
	if n := ks.count(); n != 4 {
		t.Errorf("fetches a minute later: got %d, want 4", n)
	}
}

// GitHubKeysRefresh is pihuhttp.GitHubKeysRefresh, for short lines.
const GitHubKeysRefresh = pihuhttp.GitHubKeysRefresh

// TestSecretScanning_KeysURLDown checks that a report that cannot be
// checked because GitHub's keys cannot be loaded is a 503 with a log line,
// and revokes nothing; once the keys load again, GitHub's retry works.
func TestSecretScanning_KeysURLDown(t *testing.T) {
	signer := newGitHubSigner(t, "k1")
	ks := newKeyServer(t, signer)
	ks.set(true, signer)
	ts := scanningServer(t, ks)
	leaked := ts.newKey(t, ts.Owner, `{"name":"leaked","permissions":["candidate:read"]}`)
	body := reportBody(t, match{leaked.Key, "pihu_api_key", "https://github.com/a/b", "commit"})

	r := ts.report(t, signer, "", body)
	checkCode(t, r, 503, "unavailable", "")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	ts.works(t, leaked.Key, 200, "")
	logs := ts.logs.String()
	if !strings.Contains(logs, "GitHub secret scanning report refused with 503, nothing revoked") || !strings.Contains(logs, ks.URL) || !strings.Contains(logs, "502") {
		t.Errorf("logs: got %s, want a line naming the keys URL and its answer", logs)
	}
	// Within the minute, the document is not fetched again.
	checkCode(t, ts.report(t, signer, "", body), 503, "unavailable", "")
	if n := ks.count(); n != 1 {
		t.Errorf("fetches: got %d, want 1", n)
	}
	ks.set(false, signer)
	ts.Clock.Add(GitHubKeysRefresh)
	if got := labels(t, ts.report(t, signer, "", body)); got[0].Label != "true_positive" {
		t.Errorf("retry: got %+v", got)
	}
	ts.works(t, leaked.Key, 401, "revoked_api_key")
	// Keys loaded once keep working while the URL is down.
	ks.set(true, signer)
	ts.Clock.Add(GitHubKeysRefresh)
	if got := labels(t, ts.report(t, signer, "", reportBody(t))); len(got) != 0 {
		t.Errorf("report while the URL is down, with a cached key: got %+v", got)
	}
}

// TestSecretScanning_FlagPolicy checks an account whose policy is flag: a
// reported key keeps working, with one api_key.leaked audit and webhook
// event however often it is reported from the same place, where it leaked
// stored on it; a report to /v1/auth/leaked-keys still revokes it.
func TestSecretScanning_FlagPolicy(t *testing.T) {
	signer := newGitHubSigner(t, "k1")
	ts := scanningServer(t, newKeyServer(t, signer), func(o *pihuhttp.Options) { o.WebhookLoopback = true })
	rc := newReceiver(t, ts.Clock.Now)
	ts.createEndpoint(t, ts.Owner, rc, pihu.EventKeyLeaked)
	if r := ts.do(t, "PATCH", "/v1/auth/account", ts.Owner, `{"leak_policy":"flag"}`); r.status != 200 {
		t.Fatalf("PATCH account: %d %s", r.status, r.body)
	}
	flagged := ts.newKey(t, ts.Owner, `{"name":"flagged","permissions":["candidate:read"]}`)
	m := match{flagged.Key, "pihu_api_key", "https://github.com/acme/app/blob/1/.env", "content"}
	for range 2 {
		if got := labels(t, ts.report(t, signer, "", reportBody(t, m))); got[0].Label != "true_positive" {
			t.Fatalf("labels: got %+v", got)
		}
	}
	ts.works(t, flagged.Key, 200, "")
	item := ts.keyItem(t, flagged.ID)
	if item.Leaked == nil || item.Leaked.URL != m.URL || item.Leaked.Source != "content" || item.Leaked.Revoked {
		t.Errorf("GET key: leaked = %+v, want the place, not revoked", item.Leaked)
	}
	if n := len(ts.leakEvents(t)); n != 1 {
		t.Errorf("api_key.leaked events: got %d, want 1", n)
	}
	dispatch(t, &webhook.Dispatcher{Store: ts.Store, Now: ts.Clock.Now, AllowLoopback: true}, 5)
	rc.mu.Lock()
	events, bad := slices.Clone(rc.events), slices.Clone(rc.bad)
	rc.mu.Unlock()
	if len(bad) > 0 || len(events) != 1 || events[0].Type != pihu.EventKeyLeaked {
		t.Fatalf("webhook events: got %+v (bad: %v), want one api_key.leaked", events, bad)
	}
	if l := events[0].Data.Leaked; events[0].Data.ID != flagged.ID || l == nil || l.URL != m.URL || l.Source != m.Source || l.Revoked {
		t.Errorf("webhook event: got %+v, want the key with where it leaked", events[0].Data)
	}
	// Holding the key is the right to revoke it, whatever the policy.
	if r := ts.do(t, "POST", "/v1/auth/leaked-keys", "", `{"keys":["`+flagged.Key+`"]}`); r.status != 200 || string(r.body) != "{\"revoked\":1}\n" {
		t.Fatalf("leaked-keys: %d %s", r.status, r.body)
	}
	ts.works(t, flagged.Key, 401, "revoked_api_key")
}

// TestSecretScanning_Off checks that a server without GitHub's keys
// answers 404, before reading anything.
func TestSecretScanning_Off(t *testing.T) {
	ts := newTestServer(t, func(o *pihuhttp.Options) { o.GitHubKeys = nil })
	leaked := ts.newKey(t, ts.Owner, `{"name":"leaked","permissions":["candidate:read"]}`)
	checkCode(t, ts.report(t, ts.GitHub, "", reportBody(t, match{leaked.Key, "pihu_api_key", "", ""})), 404, "not_found", "")
	ts.works(t, leaked.Key, 200, "")
}

func TestGitHubKeys_Options(t *testing.T) {
	for _, o := range []pihuhttp.GitHubKeysOptions{{}, {URL: "https://example.com/keys", File: "keys.json"}} {
		if _, err := pihuhttp.NewGitHubKeys(o); err == nil {
			t.Errorf("NewGitHubKeys(%+v): got no error", o)
		}
	}
}

// BenchmarkSecretScanning_1000 sends GitHub's largest report, 1,000 live
// keys of one account, signed, through a socket to the real server on
// SQLite: every key is revoked, with its audit event, in one request.
func BenchmarkSecretScanning_1000(b *testing.B) {
	signer := newGitHubSigner(b, "k1")
	ts := newTestServer(b, func(o *pihuhttp.Options) { o.GitHubKeys = githubKeysFile(b, o.Now, signer) })
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		ms := make([]match, n)
		keys := make([]*pihu.Key, n)
		for i := range ms {
			k, secret, err := pihu.NewKey(ts.Account.ID, pihu.KeyRequest{Name: "leaked", Permissions: pihu.Permissions{"candidate:read"}}, nil, ts.Clock.Now())
			if err != nil {
				b.Fatal(err)
			}
			keys[i] = k
			ms[i] = match{secret, "pihu_api_key", "https://github.com/acme/app/blob/5f1c2e9a/config/settings.py", "commit"}
		}
		if err := ts.Store.ImportKeys(context.Background(), keys); err != nil {
			b.Fatal(err)
		}
		body := reportBody(b, ms...)
		req, err := http.NewRequest("POST", ts.URL+"/v1/secret-scanning/github", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Github-Public-Key-Identifier", signer.id)
		req.Header.Set("Github-Public-Key-Signature", signer.sign(b, body))
		b.StartTimer()
		res, err := ts.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var got []pihuhttp.SecretScanningLabel
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || len(got) != n || got[n-1].Label != "true_positive" {
			b.Fatalf("report: %d, %d labels, %v", res.StatusCode, len(got), err)
		}
	}
}
