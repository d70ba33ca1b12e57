// Package redisbus carries the invalidations of cached keys between pihu
// instances over Redis pub/sub: every instance publishes the id of each key
// it changes on one channel (and "roles:" and an account's id when it
// changes one of the account's roles, "identity:" and an identity's id
// when it changes an identity), and every instance subscribes to it and
// drops those keys (or the account's roles, or the identity's keys) from
// its cache. It
// implements auth.Invalidations.
//
// Pub/sub delivers a message to the subscribers connected when it is
// published, at most once: a subscriber that was disconnected misses what
// was published meanwhile. So the Bus tells its user when it is connected
// (auth then trusts its cache for a second only while it is not, and
// reads every cached key again on reconnecting), notices a lost connection at once when it
// closes and within two ping intervals when it goes silent, and reconnects
// with a growing, jittered backoff.
package redisbus

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/pihu-ai/pihu/auth"
	"github.com/redis/go-redis/v9"
)

// Options configure a Bus; zero values take the defaults.
type Options struct {
	// Channel is the pub/sub channel (default "pihu:invalidate"); every
	// instance sharing a store must use the same one.
	Channel string
	// PingInterval is how often a quiet subscription is pinged (default
	// 1 s); one that stays silent for two intervals is reconnected.
	PingInterval time.Duration
	// MaxBackoff bounds the wait between two attempts to subscribe
	// (default 5 s; the first retry is after 100 ms).
	MaxBackoff time.Duration
	// Logger receives one line when the subscription is lost and one
	// when it is back (default slog.Default()).
	Logger *slog.Logger
}

// Bus is an auth.Invalidations on Redis pub/sub. It is safe for
// concurrent use; Subscribe is meant to run once at a time.
type Bus struct {
	client     redis.UniversalClient
	channel    string
	ping       time.Duration
	maxBackoff time.Duration
	logger     *slog.Logger
	up         atomic.Bool
}

var _ auth.Invalidations = (*Bus)(nil)

// New returns a Bus on client (such as ratelimit.DialRedis returns).
func New(client redis.UniversalClient, opts Options) *Bus {
	if opts.Channel == "" {
		opts.Channel = "pihu:invalidate"
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Bus{client: client, channel: opts.Channel, ping: opts.PingInterval, maxBackoff: opts.MaxBackoff, logger: opts.Logger}
}

// ErrNotConnected is Publish's error while the subscription is down.
var ErrNotConnected = errors.New("redisbus: not connected to Redis")

// Publish implements auth.Invalidations. While the subscription is down
// (Redis unreachable, as far as this instance can tell) it returns
// ErrNotConnected at once rather than wait for Redis, so that a change of
// many keys (a cascading revocation) is not slowed down by an outage.
func (b *Bus) Publish(ctx context.Context, msg string) error {
	if !b.up.Load() {
		return ErrNotConnected
	}
	return b.client.Publish(ctx, b.channel, msg).Err()
}

// Connected reports whether the subscription is up: whether this instance
// hears the invalidations of the others.
func (b *Bus) Connected() bool { return b.up.Load() }

// Subscribe implements auth.Invalidations.
func (b *Bus) Subscribe(ctx context.Context, invalidated func(keyID string), connected func(up bool)) {
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	var lostAt time.Time
	for ctx.Err() == nil {
		err := b.session(ctx, invalidated, func() {
			b.up.Store(true)
			connected(true)
			backoff = minBackoff
			if !lostAt.IsZero() {
				b.logger.Info("Redis subscription is back: key changes on other instances are seen at once again",
					"down_for", time.Since(lostAt).Round(time.Millisecond))
				lostAt = time.Time{}
			}
		})
		if b.up.Swap(false) {
			connected(false)
		}
		if ctx.Err() != nil {
			return
		}
		if lostAt.IsZero() {
			lostAt = time.Now()
			b.logger.Error("Redis subscription lost: cached keys are trusted for a second only until it is back",
				"err", err)
		}
		// Jitter spreads the reconnections of many instances.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, b.maxBackoff)
	}
}

// session subscribes once and delivers messages until the connection
// fails or ctx is done; subscribed is called when the subscription is
// confirmed.
func (b *Bus) session(ctx context.Context, invalidated func(string), subscribed func()) error {
	ps := b.client.Subscribe(ctx)
	defer ps.Close()
	// Receive does not watch ctx: closing the PubSub ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if err := ps.Subscribe(ctx, b.channel); err != nil {
		return err
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.ping)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
				// Quiet for an interval: a ping tells a quiet channel
				// from a dead connection.
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				pinged = true
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == b.channel {
				subscribed()
			}
		case *redis.Message:
			invalidated(m.Payload)
		}
	}
}
