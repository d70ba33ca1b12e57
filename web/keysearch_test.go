package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// listedKeys are the ids of the keys a keys page lists, in order.
func listedKeys(p *page) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<a class="strong" href="/keys/(key_[0-9A-Za-z]+)">`).FindAllStringSubmatch(p.Body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestKeys_Search searches the keys page: by name prefix (exact, "%"
// and "_" literal), by status (enabled, disabled, revoked: the revoked
// keys, which the list leaves out otherwise), by role, and all together;
// the form shows what was asked, the environment switch and the next
// page keep the filters, and a bad status or role is a 400.
func TestKeys_Search(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	p := b.post("/roles", form("name", "support", "permissions", "candidate:read"))
	checkStatus(t, p, http.StatusSeeOther)
	role := roleIDRe.FindString(p.Header.Get("Location"))
	web1, _ := b.createKey("web_1")
	web2, _ := b.createKey("web%2", "roles", role)
	webX, _ := b.createKey("webX3")
	gone, _ := b.createKey("web-gone")
	checkStatus(t, b.post("/keys/"+gone+"/revoke", nil), http.StatusSeeOther)
	paused, _ := b.createKey("web-paused")
	checkStatus(t, b.post("/keys/"+paused+"/enabled", form("enabled", "false")), http.StatusSeeOther)
	testKey, _ := b.createKey("web_test", "environment", "test")
	b.createKey("Billing")

	for _, tt := range []struct {
		name, query string
		want        []string
	}{
		{"Prefix", "name_prefix=web", []string{paused, webX, web2, web1}},
		{"PrefixUnderscore", "name_prefix=web_", []string{web1}},
		{"PrefixPercent", "name_prefix=" + url.QueryEscape("web%"), []string{web2}},
		{"PrefixCase", "name_prefix=Web", nil},
		{"Enabled", "name_prefix=web&status=enabled", []string{webX, web2, web1}},
		{"Disabled", "status=disabled", []string{paused}},
		{"Revoked", "status=revoked", []string{gone}},
		{"Role", "role=" + role, []string{web2}},
		{"All", "name_prefix=web&status=enabled&role=" + role, []string{web2}},
		{"Test", "env=test&name_prefix=web", []string{testKey}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.get("/keys?" + tt.query)
			checkStatus(t, p, http.StatusOK)
			if got := listedKeys(p); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	p = b.get("/keys?status=revoked&name_prefix=web")
	checkContains(t, p, `<span class="badge revoked">revoked</span>`, `value="web"`, `<option value="revoked" selected>Revoked</option>`,
		`href="/keys?env=test&amp;name_prefix=web&amp;status=revoked"`, `>Clear</a>`)
	p = b.get("/keys?role=" + role)
	checkContains(t, p, `<option value="`+role+`" selected>support</option>`)
	p = b.get("/keys?name_prefix=nothing")
	checkContains(t, p, "No live key matches this search.")

	checkStatus(t, b.get("/keys?status=expired"), http.StatusBadRequest)
	p = b.get("/keys?role=support")
	checkStatus(t, p, http.StatusBadRequest)
	checkContains(t, p, "is not a role id")
	p = b.get("/keys?name_prefix=" + url.QueryEscape("a\x01"))
	checkStatus(t, p, http.StatusBadRequest)

	t.Run("PagesKeepFilters", func(t *testing.T) {
		d := newDashboard(t)
		b := d.signUp(t, "ada@example.com")
		var want []string
		for i := range 34 { // 27 enabled: a page of 25, then 2
			id, _ := b.createKey(fmt.Sprintf("svc-%02d", i))
			if i%5 != 0 {
				want = append([]string{id}, want...)
			} else {
				checkStatus(t, b.post("/keys/"+id+"/enabled", form("enabled", "false")), http.StatusSeeOther)
			}
			b.createKey(fmt.Sprintf("other-%02d", i))
		}
		p := b.get("/keys?name_prefix=svc-&status=enabled")
		got := listedKeys(p)
		next := regexp.MustCompile(`<a class="button" href="(/keys\?[^"]+)">Next page`).FindStringSubmatch(p.Body)
		if len(got) != 25 || next == nil {
			t.Fatalf("first page: %d keys, next %v; want 25 and a next page", len(got), next)
		}
		link := html(next[1])
		if !strings.Contains(link, "name_prefix=svc-") || !strings.Contains(link, "status=enabled") || !strings.Contains(link, "starting_after="+got[24]) {
			t.Errorf("the next page's link %q drops the filters", link)
		}
		p = b.get(link)
		got = append(got, listedKeys(p)...)
		if strings.Join(got, " ") != strings.Join(want, " ") || strings.Contains(p.Body, "Next page") {
			t.Errorf("both pages: got %v, want %v", got, want)
		}
	})
}
