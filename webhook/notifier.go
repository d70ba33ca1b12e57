package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/pihu-ai/pihu"
)

// Notifier emits the key events no store transaction writes: a key rate
// limited or out of credits (at most once an hour per key and type), and
// a key about to expire (7 days and 1 day before, once each). Each is
// named so that the store keeps it once however many instances notice it.
// It is safe for concurrent use.
type Notifier struct {
	Store pihu.Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives failures (default slog.Default()).
	Logger *slog.Logger

	mu sync.Mutex
	// sent remembers, per type and key, the hour of the last event this
	// instance emitted (or saw already emitted), so that the requests
	// refused in that hour cost no store call.
	sent map[string]int64
	wg   sync.WaitGroup
}

func (n *Notifier) now() time.Time {
	if n.Now == nil {
		return time.Now()
	}
	return n.Now()
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger == nil {
		return slog.Default()
	}
	return n.Logger
}

// hourly reports whether an event of typ about key id is still to be
// emitted in the hour of now, and marks it emitted.
func (n *Notifier) hourly(typ, id string, now time.Time) (int64, bool) {
	hour := now.Unix() / 3600
	name := typ + ":" + id
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sent == nil {
		n.sent = map[string]int64{}
	}
	if n.sent[name] == hour {
		return hour, false
	}
	if len(n.sent) > 100_000 {
		for k, h := range n.sent {
			if h != hour {
				delete(n.sent, k)
			}
		}
	}
	n.sent[name] = hour
	return hour, true
}

// KeyEvent emits the event typ (pihu.EventKeyRateLimited or
// pihu.EventKeyUsageExceeded) about key k, at most once an hour per key
// and type across every instance sharing the store: the first call of an
// hour in this process asks the store, which keeps one event of that name.
func (n *Notifier) KeyEvent(ctx context.Context, typ string, k *pihu.Key) error {
	hour, ok := n.hourly(typ, k.ID, n.now())
	if !ok {
		return nil
	}
	return n.emit(ctx, typ, k, hour)
}

// emit stores the event typ about k, named for the hour, and lets a later
// call try again if that fails.
func (n *Notifier) emit(ctx context.Context, typ string, k *pihu.Key, hour int64) error {
	ev, err := n.event(ctx, typ, k, n.now())
	if err == nil {
		_, err = n.Store.EmitWebhookEvent(ctx, ev, typ+":"+k.ID+":"+strconv.FormatInt(hour, 10))
	}
	if err != nil {
		n.forget(typ, k.ID)
		return fmt.Errorf("webhook: %s event of key %s: %w", typ, k.ID, err)
	}
	return nil
}

// Notify is KeyEvent for the request path: it returns at once, and only
// the first call of an hour for a key and type (marked before it returns,
// so that a burst of refusals starts one) makes a store call, in the
// background.
func (n *Notifier) Notify(typ string, k *pihu.Key) {
	hour, ok := n.hourly(typ, k.ID, n.now())
	if !ok {
		return
	}
	key := *k
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.emit(ctx, typ, &key, hour); err != nil {
			n.logger().Error("webhooks: key event", "type", typ, "key", key.ID, "err", err)
		}
	})
}

// RateLimited is Notify(pihu.EventKeyRateLimited, k): the HTTP layer
// calls it on every 429 of a key.
func (n *Notifier) RateLimited(k *pihu.Key) { n.Notify(pihu.EventKeyRateLimited, k) }

// UsageExceeded is Notify(pihu.EventKeyUsageExceeded, k): the HTTP layer
// calls it whenever a key's credits do not cover a request or a
// verification.
func (n *Notifier) UsageExceeded(k *pihu.Key) { n.Notify(pihu.EventKeyUsageExceeded, k) }

// Wait waits for the events RateLimited and UsageExceeded started.
func (n *Notifier) Wait() { n.wg.Wait() }

// Expiry notices: how long before a key expires, and the name of each.
var expiryNotices = []struct {
	before time.Duration
	name   string
}{
	{24 * time.Hour, "1d"},
	{7 * 24 * time.Hour, "7d"},
}

// CheckExpiring emits api_key.expiring_soon for every key that is now
// within 7 days of expiring (or 1 day), once for each of the two
// thresholds: the 7-day notice only while more than a day is left, and
// neither for a key whose whole lifetime is shorter than the notice.
func (n *Notifier) CheckExpiring(ctx context.Context) error {
	now := pihu.Timestamp(n.now())
	from := now
	for _, notice := range expiryNotices {
		prefix := pihu.EventKeyExpiringSoon + ":" + notice.name + ":"
		keys, err := n.Store.ExpiringKeys(ctx, from, now.Add(notice.before), notice.before, prefix)
		if err != nil {
			return err
		}
		for _, k := range keys {
			ev, err := n.event(ctx, pihu.EventKeyExpiringSoon, k, now)
			if err != nil {
				return err
			}
			if _, err := n.Store.EmitWebhookEvent(ctx, ev, prefix+k.ID); err != nil {
				return err
			}
		}
		from = now.Add(notice.before)
	}
	return nil
}

// forget lets a later call emit the event of typ about key id again this
// hour, after a failure.
func (n *Notifier) forget(typ, id string) {
	n.mu.Lock()
	delete(n.sent, typ+":"+id)
	n.mu.Unlock()
}

// event is the event typ about k at now. A test key's creator is shown
// only if it is a test key too, as the API shows it to test keys.
func (n *Notifier) event(ctx context.Context, typ string, k *pihu.Key, now time.Time) (*pihu.WebhookEvent, error) {
	hide := false
	if k.Environment == pihu.Test && k.CreatedBy != "" {
		creator, err := n.Store.Key(ctx, k.AccountID, k.CreatedBy)
		if err != nil && pihu.ErrorCode(err) != pihu.ENotFound {
			return nil, err
		}
		hide = err != nil || creator.Environment != pihu.Test
	}
	return pihu.NewKeyEvent("", typ, k, hide, now)
}
