package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// TestKeys_CreditsAndMetadata: the key page shows the credits left, the
// refill and the next one, and the metadata; the list shows the credits
// of keys that have them, and marks imported keys.
func TestKeys_CreditsAndMetadata(t *testing.T) {
	d := newDashboard(t)
	b := d.signUp(t, "ada@example.com")
	accountID := mustUser(t, d, "ada@example.com").AccountID
	req := pihu.KeyRequest{Name: "Metered", Permissions: pihu.Permissions{"candidate:read"},
		Metadata: json.RawMessage(`{"plan":"pro","tenant":"<acme>"}`),
		Credits:  &pihu.Credits{Remaining: 42, Refill: &pihu.Refill{Interval: pihu.RefillMonthly, Amount: 100, Day: 31}}}
	k, _, err := pihu.NewKey(accountID, req, nil, d.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Store.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	imported := &pihu.Key{ID: pihu.NewID(pihu.PrefixKey), AccountID: accountID, Name: "Legacy", Environment: pihu.Live,
		Permissions: pihu.Permissions{"candidate:read"}, Digest: pihu.Digest("legacy-secret-0123456789"), Created: d.Clock.Now(), Imported: true}
	if err := d.Store.ImportKeys(t.Context(), []*pihu.Key{imported}); err != nil {
		t.Fatal(err)
	}
	free, _ := b.createKey("Free")

	p := b.get("/keys/" + k.ID)
	checkStatus(t, p, http.StatusOK)
	checkContains(t, p, "Credits", `<span class="strong">42</span> left`, "refilled to 100 on day 31 of every month", "next refill",
		"Metadata", `&#34;plan&#34;: &#34;pro&#34;`, `&lt;acme&gt;`)
	if strings.Contains(p.Body, "<acme>") {
		t.Error("the metadata is not escaped")
	}
	p = b.get("/keys/" + free)
	if strings.Contains(p.Body, "Credits") || strings.Contains(p.Body, "Metadata") {
		t.Error("a key without credits or metadata shows them")
	}
	checkContains(t, b.get("/keys/"+imported.ID), "Imported by hash")
	list := b.get("/keys")
	checkContains(t, list, "42 credits left", "Imported")
	if strings.Count(list.Body, "credits left") != 1 {
		t.Errorf("credits shown for %d keys, want 1", strings.Count(list.Body, "credits left"))
	}
}
