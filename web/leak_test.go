package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// TestAccount_LeakPolicy changes the leak policy on the Account page: only
// the owner may, a bad value changes nothing, and a change is recorded as
// the API records it.
func TestAccount_LeakPolicy(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	admin := d.member(t, owner, "bob@example.com", pihu.RoleAdmin)
	checkContains(t, owner.get("/account"), `value="revoke" checked`, `action="/account/leak-policy"`)
	checkContains(t, admin.get("/account"), "Leak policy: <strong>revoke</strong>")

	checkStatus(t, admin.post("/account/leak-policy", form("leak_policy", "flag")), http.StatusForbidden)
	checkStatus(t, owner.post("/account/leak-policy", form("leak_policy", "ignore")), http.StatusBadRequest)
	accounts, err := d.Store.ListAccounts(context.Background(), d.Clock.Now())
	if err != nil || len(accounts) != 1 || accounts[0].LeakPolicy != pihu.LeakRevoke {
		t.Fatalf("after the refusals: got %+v, %v, want revoke", accounts, err)
	}
	checkRedirect(t, owner.post("/account/leak-policy", form("leak_policy", "flag")), "/account?policy=1#leak-policy")
	checkContains(t, owner.get("/account?policy=1"), `value="flag" checked`, "The leak policy was saved.")
	a, err := d.Store.Account(context.Background(), accounts[0].ID)
	if err != nil || a.LeakPolicy != pihu.LeakFlag {
		t.Fatalf("Account: got %+v, %v, want flag", a, err)
	}
	events, _, err := d.Store.ListAuditEvents(context.Background(), pihu.AuditFilter{AccountID: a.ID, Target: a.ID, Limit: 10})
	if err != nil || len(events) != 1 || events[0].Action != pihu.ActionAccountUpdated || events[0].Changes[0] != "leak_policy" {
		t.Errorf("account events: got %+v, %v, want one account.updated", events, err)
	}
}

// TestKeyPage_LeakBanner shows where a key was found on its page: a
// flagged key that still works, and a revoked one.
func TestKeyPage_LeakBanner(t *testing.T) {
	d := newDashboard(t)
	owner := d.signUp(t, "ada@example.com")
	flagged, _ := owner.createKey("flagged")
	revoked, _ := owner.createKey("revoked")
	accounts, _ := d.Store.ListAccounts(context.Background(), d.Clock.Now())
	acct := accounts[0].ID
	if _, err := d.Store.SetLeakPolicy(context.Background(), acct, pihu.LeakFlag); err != nil {
		t.Fatal(err)
	}
	checkContains(t, owner.get("/keys/"+flagged), "Details") // no banner before a report
	if p := owner.get("/keys/" + flagged); strings.Contains(p.Body, "found in public") {
		t.Fatalf("a banner before any report:\n%s", p.Body)
	}
	url := "https://github.com/acme/app/blob/5f1c2e/.env"
	leak := pihu.NewLeak(pihu.ActorGitHubSecretScanning, url, "commit", d.Clock.Now())
	out, err := d.Store.RecordLeaks(context.Background(), []pihu.LeakReport{
		{AccountID: acct, KeyID: flagged, Leak: leak},
		{AccountID: acct, KeyID: revoked, Leak: pihu.NewLeak(pihu.ActorAnonymous, "", "", d.Clock.Now()), Force: true},
	})
	if err != nil || out[0] != pihu.LeakFlagged || out[1] != pihu.LeakRevoked {
		t.Fatalf("RecordLeaks: got %v, %v", out, err)
	}
	checkContains(t, owner.get("/keys/"+flagged), "This key was found in public, and still works",
		"GitHub secret scanning reported it on 2024-02-20 12:00 UTC, in a commit", `href="`+url+`"`, "rotate this key now")
	checkContains(t, owner.get("/keys/"+revoked), "This key was found in public and revoked", "it was reported as leaked on 2024-02-20 12:00 UTC.")
}
