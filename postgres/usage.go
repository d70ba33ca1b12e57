package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// hourStart is the start of the hour of t, UTC.
func hourStart(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// AddUsage adds counts to the stored counts of the same key and hour, in one
// transaction, and deletes the counts of hours older than
// pihu.UsageRetention before now. Counts of unknown keys are skipped, and so
// are counts of hours already past retention.
//
// Each count is an upsert that adds to the stored one (allowed = allowed +
// excluded.allowed), never a read followed by a write, so that two
// instances flushing the same key and hour at once lose nothing. The
// upserts go in one round trip, sorted by key and hour, so that two
// flushes lock rows in the same order and never deadlock.
func (db *DB) AddUsage(ctx context.Context, counts []pihu.UsageCount, now time.Time) error {
	type slot struct {
		key  string
		hour time.Time
	}
	sum := map[slot]*pihu.UsageCount{}
	var order []slot
	for _, c := range counts {
		if c.Allowed == 0 && c.Refused == 0 {
			continue
		}
		s := slot{c.KeyID, hourStart(c.Hour)}
		if sum[s] == nil {
			sum[s] = &pihu.UsageCount{KeyID: c.KeyID, Hour: s.hour}
			order = append(order, s)
		}
		sum[s].Allowed += c.Allowed
		sum[s].Refused += c.Refused
	}
	slices.SortFunc(order, func(a, b slot) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.hour.Compare(b.hour)
	})
	return db.inTxWithin(ctx, max(db.CallTimeout, batchTimeout), "add usage", "", func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, s := range order {
			c := sum[s]
			b.Queue(`INSERT INTO api_key_usage (key_id, hour, allowed, refused)
				SELECT id, $2, $3, $4 FROM api_keys WHERE id = $1
				ON CONFLICT (key_id, hour) DO UPDATE SET
					allowed = api_key_usage.allowed + excluded.allowed,
					refused = api_key_usage.refused + excluded.refused`, c.KeyID, c.Hour, c.Allowed, c.Refused)
		}
		b.Queue(`DELETE FROM api_key_usage WHERE hour < $1`, hourStart(now.Add(-pihu.UsageRetention)))
		return tx.SendBatch(ctx, b).Close()
	})
}

// Usage returns the hourly counts of key keyID of account accountID for the
// hours that start from from (inclusive) to to (exclusive), oldest first;
// hours without a request are left out. Returns ENotFound if the key does
// not exist or belongs to another account.
func (db *DB) Usage(ctx context.Context, accountID, keyID string, from, to time.Time) ([]pihu.UsageCount, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	var one int
	err := db.pool.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE id = $1 AND account_id = $2`, keyID, accountID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.KeyNotFound(keyID)
	} else if err != nil {
		return nil, wrap("usage of key "+keyID, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT hour, allowed, refused FROM api_key_usage
		WHERE key_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour`, keyID, from.UTC(), to.UTC())
	if err != nil {
		return nil, wrap("usage of key "+keyID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pihu.UsageCount, error) {
		c := pihu.UsageCount{KeyID: keyID}
		err := r.Scan(&c.Hour, &c.Allowed, &c.Refused)
		c.Hour = c.Hour.UTC()
		return c, err
	})
	if err != nil {
		return nil, wrap("usage of key "+keyID, err)
	}
	return out, nil
}
