package web_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
	"github.com/pihu-ai/pihu/web"
)

// postJSON posts body as JSON, as passkeys.js does.
func (b *browser) postJSON(path, body string, header ...string) *page {
	b.tb.Helper()
	req, err := http.NewRequest("POST", b.d.URL+path, strings.NewReader(body))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return &page{Response: res, Body: string(raw)}
}

// localhost serves the dashboard's passkeys as if it were reached at
// http://localhost: a relying party needs a domain name.
func localhost(o *web.Options) { o.Origin = "http://localhost" }

// addPasskey stores a passkey of the person with email, as a registration
// would, and returns it.
func addPasskey(tb testing.TB, d *dashboard, email, name, cred string) *pihu.Passkey {
	tb.Helper()
	u := memberOf(tb, d.Store, email)
	p := &pihu.Passkey{ID: pihu.NewID(pihu.PrefixPasskey), UserID: u.ID, Name: name, CredentialID: []byte(cred),
		Credential: []byte(`{"id":"` + jsonBytes(cred) + `","publicKey":null}`), Created: d.Clock.Now()}
	if err := d.Store.CreatePasskey(tb.Context(), u.AccountID, p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// jsonBytes is b as encoding/json writes a []byte (standard base64).
func jsonBytes(b string) string {
	raw, _ := json.Marshal([]byte(b))
	return strings.Trim(string(raw), `"`)
}

// signInChallenge asks for the options of a sign-in with a passkey, and
// returns their challenge.
func (b *browser) signInChallenge() string {
	b.tb.Helper()
	p := b.postJSON("/login/passkey/options", "{}")
	checkStatus(b.tb, p, http.StatusOK)
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(p.Body), &o); err != nil || o.PublicKey.Challenge == "" {
		b.tb.Fatalf("options: %v\n%s", err, p.Body)
	}
	return o.PublicKey.Challenge
}

// passkeyAnswer is an authenticator's answer to challenge, as
// passkeys.js posts it, from credential cred of the person userID
// (present and verified), signed with nothing: it is read, and checked as
// far as the passkey is looked for.
func passkeyAnswer(challenge, cred, userID string) string {
	enc := base64.RawURLEncoding.EncodeToString
	client, _ := json.Marshal(map[string]string{"type": "webauthn.get", "challenge": challenge, "origin": "http://localhost"})
	authData := make([]byte, 37)
	authData[32] = 0x05 // user present, user verified
	answer, _ := json.Marshal(map[string]any{
		"id": enc([]byte(cred)), "rawId": enc([]byte(cred)), "type": "public-key",
		"response": map[string]string{
			"clientDataJSON": enc(client), "authenticatorData": enc(authData),
			"signature": enc([]byte("sig")), "userHandle": enc([]byte(userID)),
		},
	})
	return string(answer)
}

func TestPasskeys_CreationOptions(t *testing.T) {
	d := newDashboard(t, localhost)
	b := d.signUp(t, "ada@example.com")
	p := b.postJSON("/account/passkeys/options", "{}")
	checkStatus(t, p, http.StatusOK)
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct{ ID string }
			User      struct{ Name string }
			Selection struct {
				ResidentKey      string `json:"residentKey"`
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(p.Body), &o); err != nil {
		t.Fatalf("options: %v\n%s", err, p.Body)
	}
	pk := o.PublicKey
	if len(pk.Challenge) < 40 || pk.RP.ID != "localhost" || pk.User.Name != "ada@example.com" ||
		pk.Selection.ResidentKey != "required" || pk.Selection.UserVerification != "required" {
		t.Errorf("options: got %+v", pk)
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", p.Header.Get("Cache-Control"))
	}
	// Signed out, there is nothing to register.
	checkRedirect(t, d.browser(t).postJSON("/account/passkeys/options", "{}"), "/login")
}

// A dashboard reached at an IP address cannot bind passkeys to it: the
// options say so, as a 400 a person reads.
func TestPasskeys_IPAddressRefused(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	for _, path := range []string{"/account/passkeys/options", "/login/passkey/options"} {
		p := b.postJSON(path, "{}")
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, "domain name")
	}
}

// A registration whose body is not what passkeys.js sends changes
// nothing, with a clear 4xx.
func TestPasskeys_CreateBadInput(t *testing.T) {
	d := newDashboard(t, localhost)
	b := d.signUp(t, "ada@example.com")
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"NotJSON", `name=x`, http.StatusBadRequest},
		{"UnknownField", `{"name":"x","credential":{},"admin":true}`, http.StatusBadRequest},
		{"NoCredential", `{"name":"x"}`, http.StatusBadRequest},
		{"NameTooLong", `{"name":"` + strings.Repeat("a", 65) + `","credential":{}}`, http.StatusBadRequest},
		{"NotACredential", `{"name":"x","credential":{"id":"abc","type":"public-key"}}`, http.StatusBadRequest},
		{"TooLarge", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.postJSON("/account/passkeys", tc.body)
			checkStatus(t, p, tc.status)
			var e struct{ Message string }
			if err := json.Unmarshal([]byte(p.Body), &e); err != nil || e.Message == "" {
				t.Errorf("body: got %q, want a message", p.Body)
			}
		})
	}
	if keys, _ := d.Store.ListPasskeys(t.Context(), memberOf(t, d.Store, "ada@example.com").ID); len(keys) != 0 {
		t.Errorf("passkeys: got %v, want none", keys)
	}
}

// Every passkey answer checked spends the address's sign-in budget: past
// it, 429 with Retry-After, before anything is read.
func TestPasskeys_LoginRateLimited(t *testing.T) {
	d := newDashboard(t, localhost, func(o *web.Options) { o.SignInLimit = ratelimit.PerMinute(3) })
	b := d.browser(t)
	for range 3 {
		checkStatus(t, b.postJSON("/login/passkey", `{"id":"x"}`), http.StatusBadRequest)
	}
	p := b.postJSON("/login/passkey", `{"id":"x"}`)
	checkStatus(t, p, http.StatusTooManyRequests)
	if p.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	checkContains(t, p, "Too many failed sign-ins")
	// Another address has its own budget.
	checkStatus(t, b.postJSON("/login/passkey", `{"id":"x"}`, clientHeader, "192.0.2.9"), http.StatusBadRequest)
}

// A sign-in's challenge is taken once, by the first answer naming it, and
// for 5 minutes at most: an answer naming one taken already, or one that
// expired, is refused before any passkey is looked for.
func TestPasskeys_ChallengeOnceWithin5Minutes(t *testing.T) {
	d := newDashboard(t, localhost)
	b := d.browser(t)
	// An answer naming the challenge, from a passkey no one registered.
	answer := func(challenge string) *page {
		t.Helper()
		return b.postJSON("/login/passkey", passkeyAnswer(challenge, "unknown", "user_x"))
	}
	const expired, unknown = "challenge has expired", "not one of this dashboard's"

	c := b.signInChallenge()
	p := answer(c)
	checkStatus(t, p, http.StatusUnauthorized)
	checkContains(t, p, unknown)
	p = answer(c)
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, expired)

	c = b.signInChallenge()
	d.Clock.Add(5*time.Minute - time.Second)
	checkContains(t, answer(c), unknown)
	c = b.signInChallenge()
	d.Clock.Add(5 * time.Minute)
	p = answer(c)
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, expired)
}

// A client address asks for at most 60 passkey challenges a minute, signed
// in or not: each is a write to the database. The 61st is a 429, with
// Retry-After; another address has its own.
func TestPasskeys_ChallengesRateLimited(t *testing.T) {
	d := newDashboard(t, localhost)
	b := d.signUp(t, "ada@example.com")
	anon := d.browser(t)
	for range 59 {
		checkStatus(t, anon.postJSON("/login/passkey/options", `{}`), http.StatusOK)
	}
	checkStatus(t, b.postJSON("/account/passkeys/options", `{}`), http.StatusOK)
	for _, p := range []*page{anon.postJSON("/login/passkey/options", `{}`), b.postJSON("/account/passkeys/options", `{}`)} {
		checkStatus(t, p, http.StatusTooManyRequests)
		if p.Header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		checkContains(t, p, "Too many passkey requests from your address")
	}
	checkStatus(t, anon.postJSON("/login/passkey/options", `{}`, clientHeader, "192.0.2.9"), http.StatusOK)
}

// The person's passkeys are listed on the Account page; they rename and
// remove their own, with events, and another person's is a 404 that
// changes nothing.
func TestPasskeys_RenameRemove(t *testing.T) {
	d := newDashboard(t, localhost)
	ada := d.signUp(t, "ada@example.com")
	grace := d.signUp(t, "grace@example.com")
	key := addPasskey(t, d, "ada@example.com", "Laptop", "cred-ada")
	checkContains(t, ada.get("/account"), `id="passkeys"`, "Laptop", `action="/account/passkeys/`+key.ID+`/remove"`,
		`<div class="passkey-add" data-passkey-block hidden>`, `data-passkey="register"`, `<script src="/static/passkeys.js" defer>`)
	checkContains(t, d.browser(t).get("/login"), `<div class="passkey-signin" data-passkey-block hidden>`, "Sign in with a passkey")

	checkStatus(t, grace.post("/account/passkeys/"+key.ID+"/rename", form("name", "Mine")), http.StatusNotFound)
	checkStatus(t, grace.post("/account/passkeys/"+key.ID+"/remove", nil), http.StatusNotFound)
	checkStatus(t, ada.post("/account/passkeys/"+key.ID+"/rename", form("name", "two\nlines")), http.StatusBadRequest)
	if keys, _ := d.Store.ListPasskeys(t.Context(), key.UserID); len(keys) != 1 || keys[0].Name != "Laptop" {
		t.Fatalf("after refused changes: got %v", keys)
	}

	checkRedirect(t, ada.post("/account/passkeys/"+key.ID+"/rename", form("name", "Work laptop")), "/account?passkey=renamed#passkeys")
	checkContains(t, ada.get("/account?passkey=renamed"), "Work laptop", "The passkey was renamed.")
	checkRedirect(t, ada.post("/account/passkeys/"+key.ID+"/remove", nil), "/account?passkey=removed#passkeys")
	checkContains(t, ada.get("/account"), "You have no passkey.")
	got := actions(t, d, memberOf(t, d.Store, "ada@example.com").AccountID, 2)
	if strings.Join(got, ",") != pihu.ActionUserPasskeyRemoved+","+pihu.ActionUserPasskeyRenamed {
		t.Errorf("events: got %v", got)
	}
	checkStatus(t, ada.post("/account/passkeys/"+key.ID+"/remove", nil), http.StatusNotFound)
}

// A passkey is a second factor: the account's requirement lets a member
// with one in, a password sign-in then asks for it (only theirs), and the
// last one is kept while the account requires a second factor.
func TestPasskeys_SecondFactor(t *testing.T) {
	d := newDashboard(t, localhost)
	owner := d.signUp(t, "ada@example.com")
	checkContains(t, owner.post("/account/two-factor-required", form("two_factor_required", "on")), "Add an authenticator app or a passkey to your own sign-in first")
	key := addPasskey(t, d, "ada@example.com", "Laptop", "cred-ada")
	checkRedirect(t, owner.post("/account/two-factor-required", form("two_factor_required", "on")), "/account?twofactor=1#two-factor-required")
	checkStatus(t, owner.get("/keys"), http.StatusOK)
	checkContains(t, owner.get("/account/two-factor"), "Or add a passkey", `data-passkey="register"`)

	p := owner.post("/account/passkeys/"+key.ID+"/remove", nil)
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "your only second factor")

	b := d.password(t, "ada@example.com")
	checkRedirect(t, b.get("/keys"), "/login")
	p = b.get("/login/two-factor")
	checkContains(t, p, "Use your passkey to finish signing in.", `data-passkey="signin"`)
	if strings.Contains(p.Body, `action="/login/two-factor"`) {
		t.Error("the page asks a person without an authenticator app for a code")
	}
	o := b.postJSON("/login/passkey/options", "{}")
	checkStatus(t, o, http.StatusOK)
	var opts struct {
		PublicKey struct {
			Allow []struct{ ID string } `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(o.Body), &opts); err != nil || len(opts.PublicKey.Allow) != 1 {
		t.Fatalf("options of a waiting sign-in: got %s, %v, want the person's one passkey", o.Body, err)
	}
	// Elsewhere any passkey may answer: none is named.
	o = d.browser(t).postJSON("/login/passkey/options", "{}")
	checkStatus(t, o, http.StatusOK)
	if strings.Contains(o.Body, "allowCredentials") {
		t.Errorf("options of a sign-in without an email name passkeys: %s", o.Body)
	}
}

// Options.Origin is an origin, or New refuses it.
func TestPasskeys_OriginOption(t *testing.T) {
	d := newDashboard(t)
	for _, bad := range []string{"ftp://pihu.example.com", "pihu.example.com", "https://pihu.example.com/dashboard", "https://"} {
		if _, err := web.New(web.Options{Store: d.Store, Auth: d.Auth, Origin: bad}); err == nil {
			t.Errorf("Origin %q: accepted", bad)
		}
	}
	if _, err := web.New(web.Options{Store: d.Store, Auth: d.Auth, Origin: "https://pihu.example.com/"}); err != nil {
		t.Errorf("Origin https://pihu.example.com/: %v", err)
	}
}
