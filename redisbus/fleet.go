package redisbus

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/guard"
	"github.com/redis/go-redis/v9"
)

// Fleet is the record of the PostgreSQL primary the instances sharing a
// database write to, in one Redis hash (system and timeline), so that an
// instance given another primary than the others (the old primary of a
// failover come back writable) can tell. It implements guard.Fleet, and is
// safe for concurrent use.
type Fleet struct {
	client redis.UniversalClient
	key    string
	ttl    time.Duration
}

// FleetTTL is how long the record lives after the last instance checked
// its primary: instances check every few seconds while they run.
const FleetTTL = 24 * time.Hour

// NewFleet returns the Fleet recorded at Redis key (such as
// "pihu:primary:" and the database's name: one per database the
// instances share).
func NewFleet(client redis.UniversalClient, key string) *Fleet {
	return &Fleet{client: client, key: key, ttl: FleetTTL}
}

// raise records the primary of ARGV (system, timeline) unless the record
// is of another system or a later timeline, keeps the record for ARGV[3]
// ms, and returns it: one step, so that two instances on two primaries
// never both raise it.
var raise = redis.NewScript(`
local rec = redis.call('HMGET', KEYS[1], 'system', 'timeline')
if not rec[1] or (rec[1] == ARGV[1] and tonumber(rec[2]) < tonumber(ARGV[2])) then
	redis.call('HSET', KEYS[1], 'system', ARGV[1], 'timeline', ARGV[2])
	rec = {ARGV[1], ARGV[2]}
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return rec
`)

// RaisePrimary implements guard.Fleet.
func (f *Fleet) RaisePrimary(ctx context.Context, p pihu.Primary) (pihu.Primary, error) {
	v, err := raise.Run(ctx, f.client, []string{f.key},
		strconv.FormatInt(p.SystemID, 10), strconv.FormatInt(p.Timeline, 10), f.ttl.Milliseconds()).StringSlice()
	if err != nil {
		return pihu.Primary{}, fmt.Errorf("redisbus: record the primary: %w", err)
	}
	var rec pihu.Primary
	if len(v) != 2 {
		return rec, fmt.Errorf("redisbus: record the primary: got %q", v)
	}
	if rec.SystemID, err = strconv.ParseInt(v[0], 10, 64); err == nil {
		rec.Timeline, err = strconv.ParseInt(v[1], 10, 64)
	}
	if err != nil {
		return pihu.Primary{}, fmt.Errorf("redisbus: record the primary: %q: %w", v, err)
	}
	return rec, nil
}

var _ guard.Fleet = (*Fleet)(nil)
