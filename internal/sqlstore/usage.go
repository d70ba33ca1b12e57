package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

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
// upserts go as one batch (Tx.ExecBatch), sorted by key and hour, so that
// two flushes lock rows in the same order and never deadlock.
func (s Store) AddUsage(ctx context.Context, counts []pihu.UsageCount, now time.Time) error {
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
		sum[s].Add(c)
	}
	slices.SortFunc(order, func(a, b slot) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.hour.Compare(b.hour)
	})
	return s.Driver.Batch(ctx, "add usage", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		args := make([][]any, len(order))
		for i, s := range order {
			c := sum[s]
			by := c.By
			args[i] = []any{d.Time(c.Hour), c.Allowed, c.Refused,
				by[pihu.RefusalRateLimit], by[pihu.RefusalAddress], by[pihu.RefusalPermission], by[pihu.RefusalCredits], by[pihu.RefusalDisabled], c.KeyID}
		}
		if err := tx.ExecBatch(ctx, `INSERT INTO api_key_usage (key_id, hour, allowed, refused,
				rate_limited, ip_not_allowed, insufficient_permissions, usage_exceeded, disabled_api_key)
			SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM api_keys WHERE id = ?
			ON CONFLICT (key_id, hour) DO UPDATE SET
				allowed = api_key_usage.allowed + excluded.allowed,
				refused = api_key_usage.refused + excluded.refused,
				rate_limited = api_key_usage.rate_limited + excluded.rate_limited,
				ip_not_allowed = api_key_usage.ip_not_allowed + excluded.ip_not_allowed,
				insufficient_permissions = api_key_usage.insufficient_permissions + excluded.insufficient_permissions,
				usage_exceeded = api_key_usage.usage_exceeded + excluded.usage_exceeded,
				disabled_api_key = api_key_usage.disabled_api_key + excluded.disabled_api_key`, args); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM api_key_usage WHERE hour < ?`, d.Time(hourStart(now.Add(-pihu.UsageRetention))))
		return err
	})
}

// Usage returns the hourly counts of key keyID of account accountID for the
// hours that start from from (inclusive) to to (exclusive), oldest first;
// hours without a request are left out. Returns ENotFound if the key does
// not exist or belongs to another account.
func (s Store) Usage(ctx context.Context, accountID, keyID string, from, to time.Time) ([]pihu.UsageCount, error) {
	return read(ctx, s, "usage of key "+keyID, func(ctx context.Context, c Conn) ([]pihu.UsageCount, error) {
		var one int
		err := c.QueryRow(ctx, `SELECT 1 FROM api_keys WHERE id = ? AND account_id = ?`, keyID, accountID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.KeyNotFound(keyID)
		} else if err != nil {
			return nil, err
		}
		d := s.Dialect
		rows, err := c.Query(ctx, `SELECT hour, allowed, refused,
				rate_limited, ip_not_allowed, insufficient_permissions, usage_exceeded, disabled_api_key FROM api_key_usage
			WHERE key_id = ? AND hour >= ? AND hour < ? ORDER BY hour`, keyID, d.Time(from), d.Time(to))
		if err != nil {
			return nil, err
		}
		return collect(rows, func(row Row) (pihu.UsageCount, error) {
			c := pihu.UsageCount{KeyID: keyID}
			by := &c.By
			err := row.Scan((*timeDest)(&c.Hour), &c.Allowed, &c.Refused,
				&by[pihu.RefusalRateLimit], &by[pihu.RefusalAddress], &by[pihu.RefusalPermission], &by[pihu.RefusalCredits], &by[pihu.RefusalDisabled])
			return c, err
		})
	})
}

// TouchKeys records when keys were last used, in one transaction. A time
// earlier than the one stored is ignored (the condition is evaluated
// again on the row as the transaction locks it, so that of two instances
// flushing the same key the later use wins, whichever commits last);
// unknown ids are skipped. The updates go as one batch, in the order of
// the ids, so that two flushes lock rows in the same order and never
// deadlock.
func (s Store) TouchKeys(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]string, 0, len(uses))
	for id := range uses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return s.Driver.Batch(ctx, "touch keys", func(ctx context.Context, tx Tx) error {
		args := make([][]any, len(ids))
		for i, id := range ids {
			t := tx.Dialect().Time(uses[id])
			args[i] = []any{t, id, t}
		}
		return tx.ExecBatch(ctx, `UPDATE api_keys SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)`, args)
	})
}
