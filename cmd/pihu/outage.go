package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/guard"
	"github.com/pihu-ai/pihu/postgres"
	"github.com/pihu-ai/pihu/redisbus"
)

// Defaults of the flags that decide how serve lives through an outage of
// its database.
const (
	defaultStaleIfError    = 15 * time.Minute
	defaultKeyCacheTTL     = 30 * time.Second
	defaultDatabaseTimeout = 800 * time.Millisecond
)

// outageFlags defines the flags of serve that decide how it lives through
// an outage of its database.
func (c *Config) outageFlags(fs *flag.FlagSet) error {
	if err := durationFlag(fs, &c.StaleIfError, "stale-if-error", "PIHU_STALE_IF_ERROR", defaultStaleIfError,
		"while the database is unreachable, keys already verified keep working from the cache for this long past their TTL; 0: never (PIHU_STALE_IF_ERROR)"); err != nil {
		return err
	}
	if err := durationFlag(fs, &c.KeyCacheTTL, "key-cache-ttl", "PIHU_KEY_CACHE_TTL", defaultKeyCacheTTL,
		"how long a verified key is trusted from the cache before it is read again (PIHU_KEY_CACHE_TTL)"); err != nil {
		return err
	}
	if err := durationFlag(fs, &c.DatabaseTimeout, "database-timeout", "PIHU_DATABASE_TIMEOUT", defaultDatabaseTimeout,
		"PostgreSQL: the deadline of each database call; a database that does not answer within it gets a 503 (PIHU_DATABASE_TIMEOUT)"); err != nil {
		return err
	}
	require := false
	if v, ok := os.LookupEnv("PIHU_REQUIRE_DATABASE_AT_START"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return usageError{fmt.Sprintf("PIHU_REQUIRE_DATABASE_AT_START=%q: give true or false", v)}
		}
		require = b
	}
	fs.BoolVar(&c.RequireDatabaseAtStart, "require-database-at-start", require,
		"exit if the database cannot be reached at start, instead of serving without it and connecting in the background (PIHU_REQUIRE_DATABASE_AT_START)")
	return nil
}

// checkOutageFlags refuses values the outage flags cannot take.
func (c *Config) checkOutageFlags() error {
	if c.KeyCacheTTL < time.Second {
		return usageError{fmt.Sprintf("--key-cache-ttl %s: give at least 1s", c.KeyCacheTTL)}
	}
	if c.DatabaseTimeout < 100*time.Millisecond {
		return usageError{fmt.Sprintf("--database-timeout %s: give at least 100ms", c.DatabaseTimeout)}
	}
	return nil
}

// storeOpener returns what opens the store of c.Database, with the
// database timeout of c, every new connection's server checked by g.
func (c *Config) storeOpener(g *guard.Store) guard.Opener {
	return func(ctx context.Context) (pihu.Store, error) {
		return openStoreWith(ctx, c.Database, postgres.Options{CallTimeout: c.DatabaseTimeout, CheckPrimary: g.AdmitConn})
	}
}

// fleetKey is the Redis key of the record of the primary that the
// instances on databaseURL write to: one per database and schema, so that
// deployments on separate databases that share a Redis do not refuse each
// other's; "" if databaseURL is not PostgreSQL's.
func fleetKey(databaseURL string) string {
	if !postgres.IsURL(databaseURL) {
		return ""
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return ""
	}
	return "pihu:primary:" + cfg.Database + ":" + cfg.RuntimeParams["search_path"]
}

// fleet is the record of the primary in Redis for the instances on
// databaseURL, or nil without Redis or PostgreSQL.
func (s *sharedState) fleet(databaseURL string) guard.Fleet {
	key := fleetKey(databaseURL)
	if s.client == nil || key == "" {
		return nil
	}
	return redisbus.NewFleet(s.client, key)
}

// databaseState is what /readyz says of the database when its Ping fails,
// from the guard's state.
func databaseState(g *guard.Store) func() (string, string) {
	return func() (string, string) {
		st, reason := g.State()
		if st == guard.Down {
			return "unreachable", reason
		}
		return st.String(), reason
	}
}

// storeStates are the names of the guard's states for the metrics.
func storeStates() []string {
	names := make([]string, len(guard.States))
	for i, st := range guard.States {
		names[i] = st.String()
	}
	return names
}

// connectStore makes the first attempt to connect g to its database: the
// server starts without it if it is unreachable (and connects in the
// background, see guard.Store.Run, which logs it), unless
// --require-database-at-start.
func connectStore(ctx context.Context, c Config, g *guard.Store) error {
	err := g.Connect(ctx, c.storeOpener(g))
	if err == nil || pihu.ErrorCode(err) != pihu.EUnavailable || c.RequireDatabaseAtStart {
		return err
	}
	return nil
}
