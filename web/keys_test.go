package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/web"
)

func TestKeys_List(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	p := b.get("/keys")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "No live keys yet", `href="/keys/new?env=live"`, `aria-current="page">Live`)

	liveID, liveSecret := b.createKey("Billing")
	_, testSecret := b.createKey("Nightly job", "environment", "test")
	p = b.get("/keys")
	checkContains(t, p, "Billing", pihu.Hint(liveSecret), liveID, "candidate:read")
	if strings.Contains(p.Body, "Nightly job") || strings.Contains(p.Body, liveSecret) {
		t.Errorf("the live list shows a test key, or a secret")
	}
	p = b.get("/keys?env=test")
	checkContains(t, p, "Nightly job", pihu.Hint(testSecret), "You are viewing <strong>test</strong> keys")
	if strings.Contains(p.Body, "Billing") || strings.Contains(p.Body, testSecret) {
		t.Errorf("the test list shows a live key, or a secret")
	}
	checkStatus(t, b.get("/keys?env=staging"), http.StatusBadRequest)
	checkStatus(t, b.get("/keys?starting_after=key_unknown"), http.StatusBadRequest)

	t.Run("Warnings", func(t *testing.T) {
		_, _ = b.createKey("Short-lived", "expiration", "10d")
		d.Clock.Add(4 * 24 * time.Hour)
		b := d.login(t, "ada@example.com")
		checkContains(t, b.get("/keys"), "Expires within 7 days")
		d.Clock.Add(87 * 24 * time.Hour)
		b = d.login(t, "ada@example.com")
		checkContains(t, b.get("/keys"), "Over 90 days old: rotate it", "Expired")
	})
	t.Run("Pagination", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		var first string
		for i := range 26 {
			id, _ := b.createKey("Key " + string(rune('A'+i)))
			if i == 0 {
				first = id
			}
		}
		p := b.get("/keys")
		if strings.Contains(p.Body, first) || !strings.Contains(p.Body, "starting_after=") {
			t.Fatalf("first page: shows the oldest key, or no next page")
		}
		next := p.Body[strings.Index(p.Body, "starting_after=")+len("starting_after="):]
		next = next[:strings.IndexByte(next, '"')]
		checkContains(t, b.get("/keys?env=live&starting_after="+next), first)
	})
}

func TestKeys_Create(t *testing.T) {
	t.Run("Page", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		p := b.get("/keys/new?env=test")
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p, `<label for="name">Name</label>`, `value="*"`, `value="api_key:verify"`, `value="test" checked`, `<legend>Permissions</legend>`)
		for _, perm := range pihu.Catalogue {
			checkContains(t, p, `name="permissions" value="`+string(perm)+`"`)
		}
	})
	t.Run("ShowsTheSecretOnce", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		post := b.post("/keys", form("name", "Billing", "permissions", "candidate:read", "permissions", "interview:write",
			"environment", "live", "expiration", "30d", "allowed_ips", "203.0.113.0/24\n198.51.100.7", "rate_limit", "100/m"))
		p := b.created(post)
		secret := secretRe.FindString(p.Body)
		checkContains(t, p, "It will not be shown again", `data-copy="secret"`, `value="`+secret+`"`)
		if p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control: got %q, want no-store", p.Header.Get("Cache-Control"))
		}
		for _, r := range []*page{post, p} {
			if strings.Contains(r.Header.Get("Set-Cookie"), secret) || strings.Contains(r.Header.Get("Location"), secret) || strings.Contains(post.Body, secret) {
				t.Errorf("the secret is in a header, or in the answer to the form")
			}
		}
		// The key is the API's: it authenticates, with what was asked.
		k, err := d.Auth.Authenticate(t.Context(), secret)
		if err != nil {
			t.Fatalf("the new key does not authenticate: %v", err)
		}
		u := mustUser(t, d, "ada@example.com")
		if k.AccountID != u.AccountID || k.Name != "Billing" || k.CreatedBy != "" || k.RateLimit.String() != "100/m" ||
			strings.Join(k.Permissions.Strings(), ",") != "candidate:read,interview:write" ||
			k.AllowedIPs.String() != "203.0.113.0/24, 198.51.100.7" ||
			k.Expires == nil || !k.Expires.Equal(k.Created.Add(30*24*time.Hour)) {
			t.Errorf("key: got %+v", k)
		}
		events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Target: k.ID, Limit: 10})
		if len(events) != 1 || events[0].Action != pihu.ActionKeyCreated || events[0].Actor != u.ID {
			t.Errorf("events: got %v, want the creation by the user", events)
		}
		// Never again: not on the lists, the key page, the audit log.
		for _, path := range []string{"/keys", "/keys/" + k.ID, "/audit", "/keys/" + k.ID + "/rotate", "/keys/" + k.ID + "/revoke"} {
			p := b.get(path)
			checkStatus(t, p, http.StatusOK)
			if strings.Contains(p.Body, secret) {
				t.Errorf("%s shows the secret again", path)
			}
		}
	})
	t.Run("Wildcard", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		_, secret := b.createKey("Admin", "permissions", "*")
		k, _ := d.Auth.Authenticate(t.Context(), secret)
		if !k.Permissions.Grants("api_key:write") {
			t.Errorf("permissions: got %v, want *", k.Permissions)
		}
	})
	bad := []struct {
		name, field, message string
		form                 []string
	}{
		{"NoName", "name", "A key needs a name", []string{"permissions", "candidate:read", "environment", "live"}},
		{"LongName", "name", "at most 100", []string{"name", strings.Repeat("n", 101), "permissions", "candidate:read", "environment", "live"}},
		{"BidiName", "name", "bidirectional", []string{"name", "abc\u202Edef", "permissions", "candidate:read", "environment", "live"}},
		{"NoPermission", "permissions", "Choose at least one permission", []string{"name", "K", "environment", "live"}},
		{"UnknownPermission", "permissions", "is not a permission", []string{"name", "K", "permissions", "candidate:delete", "environment", "live"}},
		{"BadExpiration", "expiration", "is not a lifetime", []string{"name", "K", "permissions", "candidate:read", "environment", "live", "expiration", "forever"}},
		{"NoEnvironment", "environment", "Choose live or test", []string{"name", "K", "permissions", "candidate:read"}},
		{"BadEnvironment", "environment", "Choose live or test", []string{"name", "K", "permissions", "candidate:read", "environment", "staging"}},
		{"BadAllowedIPs", "allowed_ips", "", []string{"name", "K", "permissions", "candidate:read", "environment", "live", "allowed_ips", "not-an-ip"}},
		{"BadRateLimit", "rate_limit", "is not a rate limit", []string{"name", "K", "permissions", "candidate:read", "environment", "live", "rate_limit", "lots"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			d := newDashboard(t)
			b := d.signUp(t, "ada@example.com")
			p := b.post("/keys", form(tt.form...))
			checkStatus(t, p, http.StatusBadRequest)
			checkContains(t, p, `id="`+tt.field+`-error"`, tt.message, `action="/keys"`)
			if secretRe.MatchString(p.Body) {
				t.Errorf("a refused form shows a key")
			}
			u := mustUser(t, d, "ada@example.com")
			keys, _, _ := d.Store.ListKeys(t.Context(), pihu.KeyFilter{AccountID: u.AccountID, Limit: 10})
			if len(keys) != 0 {
				t.Errorf("keys: got %d, want none stored", len(keys))
			}
		})
	}
	t.Run("EveryMistakeAtOnce", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		p := b.post("/keys", form("environment", "live", "expiration", "x", "rate_limit", "y"))
		checkStatus(t, p, http.StatusBadRequest)
		checkContains(t, p, `id="name-error"`, `id="permissions-error"`, `id="expiration-error"`, `id="rate_limit-error"`)
	})
}

func TestKeys_Page(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	id, _ := b.createKey("Billing")
	now := d.Clock.Now()
	d.Store.AddUsage(t.Context(), []pihu.UsageCount{
		{KeyID: id, Hour: now.Truncate(time.Hour), Allowed: 1200, Refused: 30, By: pihu.Refusals{pihu.RefusalRateLimit: 25, pihu.RefusalAddress: 5}},
		{KeyID: id, Hour: now.Truncate(time.Hour).Add(-5 * time.Hour), Allowed: 400},
		{KeyID: id, Hour: now.Truncate(time.Hour).Add(-10 * 24 * time.Hour), Allowed: 5000, Refused: 7},
	}, now)
	p := b.get("/keys/" + id)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "Billing", id, "api_key.created", "ada@example.com",
		"Last 24 hours, by hour (UTC)", "Last 30 days, by day (UTC)", `<svg viewBox="0 0 720 200" role="img"`,
		"1,600 allowed, 30 refused", "6,600 allowed, 37 refused", `class="bar-refused"`,
		// Why, in the captions (the 7 of 10 days ago have no reason: they
		// were counted before reasons were kept) and in the bar's title.
		`Why refused: <span class="nowrap">25 rate limited</span> · <span class="nowrap">5 address not allowed</span></span>`,
		`<span class="nowrap">5 address not allowed</span> · <span class="nowrap">7 reason not recorded</span>`,
		"1,200 allowed, 30 refused (25 rate limited, 5 address not allowed)</title>",
		`href="/keys/`+id+`/rotate"`, `href="/keys/`+id+`/revoke"`)

	t.Run("CountsNotYetFlushed", func(t *testing.T) {
		// A request the API counted a moment ago shows at once, before
		// the counts are written to the store.
		k, err := d.Store.Key(t.Context(), mustUser(t, d, "ada@example.com").AccountID, id)
		if err != nil {
			t.Fatal(err)
		}
		d.Auth.CountAllowed(k)
		d.Auth.CountRefused(k, pihu.RefusalCredits)
		checkContains(t, b.get("/keys/"+id), "1,601 allowed, 31 refused", "6,601 allowed, 38 refused",
			"5 address not allowed</span> · <span class=\"nowrap\">1 credits used up</span>")
	})
	t.Run("NoUsageStore", func(t *testing.T) {
		d := newDashboard(t, func(o *web.Options) { o.Usage = nil })
		b := d.signUp(t, "ada@example.com")
		id, _ := b.createKey("Billing")
		checkContains(t, b.get("/keys/"+id), "No usage data yet")
	})
	t.Run("OtherAccountIsNotFound", func(t *testing.T) {
		other := d.signUp(t, "eve@example.com")
		for _, path := range []string{"/keys/" + id, "/keys/" + id + "/rotate", "/keys/" + id + "/revoke", "/keys/key_unknown"} {
			p := other.get(path)
			checkStatus(t, p, http.StatusNotFound)
			if strings.Contains(p.Body, "Billing") {
				t.Errorf("%s shows another account's key", path)
			}
		}
		checkStatus(t, other.post("/keys/"+id+"/revoke", nil), http.StatusNotFound)
		checkStatus(t, other.post("/keys/"+id+"/rotate", form("expire_old_in", "now")), http.StatusNotFound)
		k, err := d.Store.Key(t.Context(), mustUser(t, d, "ada@example.com").AccountID, id)
		if err != nil || k.Revoked != nil {
			t.Errorf("the key after another account's attempts: %+v, %v; want it untouched", k, err)
		}
	})
}

func TestKeys_Revoke(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	id, secret := b.createKey("Billing")
	// The API has the key in its cache.
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	p := b.get("/keys/" + id + "/revoke")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "Revoke “Billing”?", `data-confirm=`, `method="post" action="/keys/`+id+`/revoke"`)

	checkRedirect(t, b.post("/keys/"+id+"/revoke", nil), "/keys?env=live&revoked="+id)
	// Refused on the very next request, though it was cached.
	if _, err := d.Auth.Authenticate(t.Context(), secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
		t.Errorf("authenticating after the revocation: got %v, want revoked_api_key", err)
	}
	p = b.get("/keys?env=live&revoked=" + id)
	checkContains(t, p, "was revoked")
	if strings.Contains(p.Body, `href="/keys/`+id+`"`) {
		t.Errorf("the list still shows the revoked key")
	}
	u := mustUser(t, d, "ada@example.com")
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Target: id, Limit: 1})
	if len(events) != 1 || events[0].Action != pihu.ActionKeyRevoked || events[0].Actor != u.ID {
		t.Errorf("events: got %v, want the revocation by the user", events)
	}
	// The key page still shows it, revoked, without actions.
	p = b.get("/keys/" + id)
	checkContains(t, p, "revoked")
	if strings.Contains(p.Body, "/revoke\"") {
		t.Errorf("a revoked key's page offers to revoke it")
	}
	// Twice: 404.
	checkStatus(t, b.post("/keys/"+id+"/revoke", nil), http.StatusNotFound)
}

func TestKeys_Rotate(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	id, secret := b.createKey("Billing", "rate_limit", "50/m")
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	p := b.get("/keys/" + id + "/rotate")
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, `name="expire_old_in" value="now"`, `value="24h" checked`)

	p = b.post("/keys/"+id+"/rotate", form("expire_old_in", "soon"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, `id="expire_old_in-error"`, "is not a grace period")

	p = b.created(b.post("/keys/"+id+"/rotate", form("expire_old_in", "24h")))
	next := secretRe.FindString(p.Body)
	if next == "" || next == secret {
		t.Fatalf("no new key on the rotate page")
	}
	checkContains(t, p, "It will not be shown again", "It replaces", "2024-02-21 12:00 UTC")
	nk, err := d.Auth.Authenticate(t.Context(), next)
	if err != nil {
		t.Fatalf("the new key: %v", err)
	}
	if nk.RotatedFrom != id || nk.CreatedBy != "" || nk.RateLimit.String() != "50/m" || nk.Name != "Billing" {
		t.Errorf("new key: got %+v", nk)
	}
	// The old key's cache entry was dropped: it now carries its end.
	old, err := d.Auth.Authenticate(t.Context(), secret)
	if err != nil || old.Expires == nil || !old.Expires.Equal(d.Clock.Now().Add(24*time.Hour)) {
		t.Errorf("old key in its grace period: got %+v, %v; want it expiring in 24 h", old, err)
	}
	d.Clock.Add(24 * time.Hour)
	if _, err := d.Auth.Authenticate(t.Context(), secret); pihu.ErrorCode(err) != pihu.EExpiredAPIKey {
		t.Errorf("old key after its grace period: got %v, want expired", err)
	}
	u := mustUser(t, d, "ada@example.com")
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Limit: 2})
	if len(events) != 2 || events[0].Action != pihu.ActionKeyRotated || events[1].Action != pihu.ActionKeyCreated || events[0].Actor != u.ID || events[1].Actor != u.ID {
		t.Errorf("events: got %v, want the rotation and the creation, by the user", events)
	}

	t.Run("Twice", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		id, _ := b.createKey("Billing")
		checkStatus(t, b.post("/keys/"+id+"/rotate", form("expire_old_in", "1h")), http.StatusSeeOther)
		p := b.post("/keys/"+id+"/rotate", form("expire_old_in", "1h"))
		checkStatus(t, p, http.StatusConflict)
		checkContains(t, p, "rotated already")
		// The old key's page says it is rotating, links its successor,
		// and offers no rotation; the rotate page says why not.
		next := keyIDRe.FindAllString(b.get("/keys").Body, -1)
		p = b.get("/keys/" + id)
		checkContains(t, p, "Rotating: replaced by", "this key stops working at 2024-02-20 13:00 UTC")
		if strings.Contains(p.Body, `href="/keys/`+id+`/rotate"`) {
			t.Errorf("a key already rotated offers Rotate")
		}
		if !slices.ContainsFunc(next, func(n string) bool { return n != id && strings.Contains(p.Body, `href="/keys/`+n+`"`) }) {
			t.Errorf("the old key's page does not link its successor")
		}
		p = b.get("/keys/" + id + "/rotate")
		checkStatus(t, p, http.StatusConflict)
		checkContains(t, p, "Already rotated", "Rotate the new key instead")
		// The successor itself may be rotated.
		for _, n := range next {
			if n != id {
				checkStatus(t, b.get("/keys/"+n+"/rotate"), http.StatusOK)
			}
		}
	})
	t.Run("Now", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		id, secret := b.createKey("Billing")
		d.Auth.Authenticate(t.Context(), secret)
		checkStatus(t, b.post("/keys/"+id+"/rotate", form("expire_old_in", "now")), http.StatusSeeOther)
		if _, err := d.Auth.Authenticate(t.Context(), secret); pihu.ErrorCode(err) != pihu.ERevokedAPIKey {
			t.Errorf("old key rotated now: got %v, want revoked", err)
		}
	})
}

// mustUser is the person with email as a member of the account they joined
// first.
func mustUser(tb testing.TB, d *dashboard, email string) *pihu.User {
	tb.Helper()
	return memberOf(tb, d.Store, email)
}

// TestKeys_Disable disables a key from its page and enables it again: the
// API refuses it at once (though cached) with disabled_api_key and takes
// it again after, the page and the list show the state, each change is an
// audit event by the user, and a viewer or another account cannot do it.
func TestKeys_Disable(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	id, secret := b.createKey("Billing")
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	p := b.get("/keys/" + id)
	checkContains(t, p, `method="post" action="/keys/`+id+`/enabled"`, `name="enabled" value="false"`, ">Disable</button>")

	checkRedirect(t, b.post("/keys/"+id+"/enabled", form("enabled", "false")), "/keys/"+id)
	if _, err := d.Auth.Authenticate(t.Context(), secret); pihu.ErrorCode(err) != pihu.EDisabledAPIKey {
		t.Errorf("authenticating after disabling: got %v, want disabled_api_key", err)
	}
	checkContains(t, b.get("/keys/"+id), `<span class="badge disabled">disabled</span>`, "This key is disabled", `name="enabled" value="true"`, ">Enable</button>")
	checkContains(t, b.get("/keys"), `<span class="badge disabled">disabled</span>`)

	t.Run("NotByOthers", func(t *testing.T) {
		other := d.signUp(t, "eve@example.com")
		checkStatus(t, other.post("/keys/"+id+"/enabled", form("enabled", "true")), http.StatusNotFound)
		viewer := d.member(t, b, "grace@example.com", pihu.RoleViewer)
		if p := viewer.post("/keys/"+id+"/enabled", form("enabled", "true")); p.StatusCode == http.StatusSeeOther {
			t.Errorf("a viewer enabled the key: got %d", p.StatusCode)
		}
		if strings.Contains(viewer.get("/keys/"+id).Body, `action="/keys/`+id+`/enabled"`) {
			t.Error("a viewer is offered the button")
		}
		checkStatus(t, b.post("/keys/"+id+"/enabled", form("enabled", "maybe")), http.StatusBadRequest)
		if _, err := d.Auth.Authenticate(t.Context(), secret); pihu.ErrorCode(err) != pihu.EDisabledAPIKey {
			t.Errorf("after the others' attempts: got %v, want the key still disabled", err)
		}
	})

	checkRedirect(t, b.post("/keys/"+id+"/enabled", form("enabled", "true")), "/keys/"+id)
	if _, err := d.Auth.Authenticate(t.Context(), secret); err != nil {
		t.Errorf("authenticating after enabling: %v", err)
	}
	if strings.Contains(b.get("/keys").Body, "badge disabled") {
		t.Error("the list still shows the key disabled")
	}
	u := mustUser(t, d, "ada@example.com")
	events, _, _ := d.Store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: u.AccountID, Target: id, Limit: 2})
	if len(events) != 2 || events[0].Action != pihu.ActionKeyEnabled || events[1].Action != pihu.ActionKeyDisabled || events[0].Actor != u.ID {
		t.Errorf("events: got %+v, want api_key.disabled then api_key.enabled by the user", events)
	}
	checkContains(t, b.get("/keys/"+id), "api_key.disabled", "api_key.enabled")
}

// TestKeys_RotatingIsOneRow: a key being rotated and its successor are
// one row of the keys page, the successor's, which links the old key and
// says when it stops; the old key listed without its successor (here, a
// filter leaves the successor out) says what replaced it, and neither
// warns that the old key expires soon.
func TestKeys_RotatingIsOneRow(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	old, _ := b.createKey("Billing")
	b.createKey("Search")
	checkStatus(t, b.post("/keys/"+old+"/rotate", form("expire_old_in", "24h")), http.StatusSeeOther)
	p := b.get("/keys")
	var next string
	for _, id := range keyIDRe.FindAllString(p.Body, -1) {
		if k, err := d.Store.Key(t.Context(), mustUser(t, d, "ada@example.com").AccountID, id); err == nil && k.RotatedFrom == old {
			next = id
		}
	}
	if next == "" {
		t.Fatal("the keys page does not list the successor")
	}
	if n := strings.Count(p.Body, `<a class="strong" href="/keys/`); n != 2 {
		t.Errorf("the keys page has %d rows, want 2: Search, and Billing with its successor as one", n)
	}
	checkContains(t, p, `<a class="strong" href="/keys/`+next+`">Billing</a> <span class="badge rotating">rotating</span>`,
		`Old key <a href="/keys/`+old+`">Billing</a> stops at 2024-02-21 12:00 UTC`)
	if strings.Contains(p.Body, `<a class="strong" href="/keys/`+old+`"`) || strings.Contains(p.Body, "Expires within 7 days") {
		t.Errorf("the old key has its own row, or a warning, beside its successor's")
	}

	checkRedirect(t, b.post("/keys/"+next+"/enabled", form("enabled", "false")), "/keys/"+next)
	p = b.get("/keys?status=enabled")
	checkContains(t, p, `<a class="strong" href="/keys/`+old+`">Billing</a> <span class="badge rotating">rotating</span>`,
		`Replaced by <a href="/keys/`+next+`">Billing</a>; stops at 2024-02-21 12:00 UTC`)
	if strings.Contains(p.Body, "Expires within 7 days") {
		t.Errorf("the old key being rotated warns that it expires soon")
	}

	// A chain: the successor rotated in turn while the old key still
	// works. The middle key shares the newest key's row; the old key keeps
	// its own, naming the middle key.
	checkRedirect(t, b.post("/keys/"+next+"/enabled", form("enabled", "true")), "/keys/"+next)
	checkStatus(t, b.post("/keys/"+next+"/rotate", form("expire_old_in", "24h")), http.StatusSeeOther)
	p = b.get("/keys")
	var newest string
	for _, id := range keyIDRe.FindAllString(p.Body, -1) {
		if k, err := d.Store.Key(t.Context(), mustUser(t, d, "ada@example.com").AccountID, id); err == nil && k.RotatedFrom == next {
			newest = id
		}
	}
	if n := strings.Count(p.Body, `<a class="strong" href="/keys/`); n != 3 || newest == "" {
		t.Fatalf("the keys page has %d rows (newest key %q), want 3: Search, the old key, and the middle key with the newest", n, newest)
	}
	checkContains(t, p,
		`Replaced by <a href="/keys/`+next+`">Billing</a>; stops at 2024-02-21 12:00 UTC`,
		`<a class="strong" href="/keys/`+newest+`">Billing</a> <span class="badge rotating">rotating</span>`,
		`Old key <a href="/keys/`+next+`">Billing</a> stops at 2024-02-21 12:00 UTC`)
	if strings.Contains(p.Body, `<a class="strong" href="/keys/`+next+`"`) {
		t.Errorf("the middle key of a chain has its own row")
	}

	// Revoked, the old keys stop: the newest key's row is its own again.
	for _, id := range []string{old, next} {
		checkStatus(t, b.post("/keys/"+id+"/revoke", nil), http.StatusSeeOther)
	}
	p = b.get("/keys")
	if strings.Contains(p.Body, "rotating") || !strings.Contains(p.Body, `<a class="strong" href="/keys/`+newest+`">Billing</a>`) {
		t.Errorf("after the old keys' revocation the newest key's row still says rotating, or is gone")
	}
}

// TestKeys_Presets: the key forms offer presets (read-only, and full
// access to each resource, the account's own included) beside each
// permission's description; a preset is markup the page's script applies,
// hidden without it, and names no field (nothing of it is posted).
func TestKeys_Presets(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	checkStatus(t, b.post("/permissions", form("name", "billing:read", "description", "Read invoices")), http.StatusSeeOther)
	id, _ := b.createKey("Billing")
	for _, path := range []string{"/keys/new", "/keys/" + id + "/edit"} {
		p := b.get(path)
		checkStatus(t, p, http.StatusOK)
		checkContains(t, p,
			`<div class="presets" data-presets hidden>`,
			`<option value="candidate:read interview:read api_key:read webhook:read permission:read role:read identity:read account:read member:read billing:read">Read-only: every …:read permission</option>`,
			`<option value="candidate:read candidate:write">Full access to candidate: candidate:read, candidate:write</option>`,
			`<option value="billing:read">Full access to billing: billing:read</option>`,
			`<code>candidate:read</code> <span class="muted">Read candidates.</span>`,
			`<span class="muted">Read invoices</span>`)
		if strings.Contains(p.Body, `name="preset"`) {
			t.Errorf("%s: the preset is a field of the form", path)
		}
	}
}

// TestKeys_ErrorTakesFocus: a form sent back with mistakes marks its
// fields at fault autofocus, so that the first takes the focus even
// without the page's script.
func TestKeys_ErrorTakesFocus(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	p := b.post("/keys", form("name", "", "permissions", "candidate:read", "environment", "live", "allowed_ips", "nonsense"))
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, `id="name" name="name" type="text" autocomplete="off" value="" aria-invalid="true" aria-describedby="name-error" autofocus>`)
	if strings.Count(p.Body, " autofocus") < 1 || strings.Index(p.Body, " autofocus") != strings.Index(p.Body, `aria-describedby="name-error" autofocus`)+len(`aria-describedby="name-error"`) {
		t.Errorf("the first field at fault is not the first autofocus")
	}
}
