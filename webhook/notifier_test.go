package webhook_test

import (
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/webhook"
)

// instances opens two stores on one new SQLite file, as two instances of
// serve share a database, with an account, its owner key and an endpoint
// subscribed to every event.
func instances(t *testing.T) (a, b *sqlite.DB, owner *pihu.Key, endpoint *pihu.WebhookEndpoint) {
	t.Helper()
	path := sqlitetest.Path(t)
	var err error
	if a, err = sqlite.Open(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err = sqlite.Open(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	acct := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Acme", Created: epoch}
	owner, _, err = pihu.NewKey(acct.ID, pihu.OwnerKeyRequest(), nil, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateAccount(t.Context(), acct, owner); err != nil {
		t.Fatal(err)
	}
	endpoint, err = pihu.NewWebhookEndpoint(owner, "https://example.com/hooks", pihu.WebhookEventTypes, "", true, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateWebhookEndpoint(t.Context(), endpoint); err != nil {
		t.Fatal(err)
	}
	return a, b, owner, endpoint
}

var epoch = time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)

func deliveries(t *testing.T, s pihu.Store, owner *pihu.Key, e *pihu.WebhookEndpoint) map[string]int {
	t.Helper()
	ds, _, err := s.ListDeliveries(t.Context(), pihu.ScopeOf(owner), e.ID, pihu.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range ds {
		out[d.EventType]++
	}
	return out
}

// TestNotifier_RateLimitedOncePerHour reports a key's 429s from two
// instances at once, many times: one event an hour, the next hour another.
func TestNotifier_RateLimitedOncePerHour(t *testing.T) {
	a, b, owner, e := instances(t)
	now := epoch.Add(10 * time.Minute)
	clock := func() time.Time { return now }
	na := &webhook.Notifier{Store: a, Now: clock}
	nb := &webhook.Notifier{Store: b, Now: clock}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { na.RateLimited(owner) })
		wg.Go(func() { nb.RateLimited(owner) })
	}
	wg.Wait()
	na.Wait()
	nb.Wait()
	if got := deliveries(t, a, owner, e)[pihu.EventKeyRateLimited]; got != 1 {
		t.Fatalf("rate_limited events in an hour: got %d, want 1", got)
	}
	now = now.Add(time.Hour)
	na.RateLimited(owner)
	nb.RateLimited(owner)
	na.Wait()
	nb.Wait()
	if got := deliveries(t, a, owner, e)[pihu.EventKeyRateLimited]; got != 2 {
		t.Errorf("rate_limited events over two hours: got %d, want 2", got)
	}
}

// TestNotifier_UsageExceeded is the call the credits code makes: one event
// an hour per key.
func TestNotifier_UsageExceeded(t *testing.T) {
	a, b, owner, e := instances(t)
	clock := func() time.Time { return epoch }
	for _, n := range []*webhook.Notifier{{Store: a, Now: clock}, {Store: b, Now: clock}} {
		for range 3 {
			if err := n.KeyEvent(t.Context(), pihu.EventKeyUsageExceeded, owner); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := deliveries(t, a, owner, e)[pihu.EventKeyUsageExceeded]; got != 1 {
		t.Errorf("usage_exceeded events: got %d, want 1", got)
	}
}

// TestNotifier_ExpiringSoon moves a 30-day key through its last days: one
// notice 7 days before, one 1 day before, from two instances checking
// every few hours.
func TestNotifier_ExpiringSoon(t *testing.T) {
	a, b, owner, e := instances(t)
	req := pihu.KeyRequest{Name: "Month", Permissions: pihu.Permissions{"candidate:read"}, Expiration: "30d"}
	k, _, err := pihu.NewKey(owner.AccountID, req, owner, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	short := pihu.KeyRequest{Name: "Hour", Permissions: pihu.Permissions{"candidate:read"}, Expiration: "1h"}
	hk, _, _ := pihu.NewKey(owner.AccountID, short, owner, epoch.Add(29*24*time.Hour))
	if err := a.CreateKey(t.Context(), hk); err != nil {
		t.Fatal(err)
	}
	now := epoch
	clock := func() time.Time { return now }
	na := &webhook.Notifier{Store: a, Now: clock}
	nb := &webhook.Notifier{Store: b, Now: clock}
	counts := map[time.Duration]int{}
	for now.Before(epoch.Add(31 * 24 * time.Hour)) {
		for _, n := range []*webhook.Notifier{na, nb} {
			if err := n.CheckExpiring(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		counts[now.Sub(epoch).Truncate(24*time.Hour)] = deliveries(t, a, owner, e)[pihu.EventKeyExpiringSoon]
		now = now.Add(5 * time.Hour)
	}
	day := 24 * time.Hour
	if counts[22*day] != 0 || counts[23*day] != 1 || counts[28*day] != 1 || counts[29*day] != 2 || counts[30*day] != 2 {
		t.Errorf("expiring_soon events by day: got %v, want 1 from day 23, 2 from day 29", counts)
	}
}
