package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// hourStart is the unix second the hour of t starts at, UTC.
func hourStart(t time.Time) int64 {
	s := t.Unix()
	return s - ((s%3600)+3600)%3600
}

// AddUsage adds counts to the stored counts of the same key and hour, in one
// transaction, and deletes the counts of hours older than
// pihu.UsageRetention before now. Counts of unknown keys are skipped, and so
// are counts of hours already past retention.
func (db *DB) AddUsage(ctx context.Context, counts []pihu.UsageCount, now time.Time) error {
	return db.inTx(ctx, "add usage", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_key_usage (key_id, hour, allowed, refused)
			SELECT id, ?, ?, ? FROM api_keys WHERE id = ?
			ON CONFLICT (key_id, hour) DO UPDATE SET
				allowed = allowed + excluded.allowed,
				refused = refused + excluded.refused`)
		if err != nil {
			return fmt.Errorf("sqlite: add usage: %w", err)
		}
		defer stmt.Close()
		for _, c := range counts {
			if c.Allowed == 0 && c.Refused == 0 {
				continue
			}
			if _, err := stmt.ExecContext(ctx, hourStart(c.Hour), c.Allowed, c.Refused, c.KeyID); err != nil {
				return fmt.Errorf("sqlite: add usage of key %s: %w", c.KeyID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_key_usage WHERE hour < ?`,
			hourStart(now.Add(-pihu.UsageRetention))); err != nil {
			return fmt.Errorf("sqlite: purge usage: %w", err)
		}
		return nil
	})
}

// Usage returns the hourly counts of key keyID of account accountID for the
// hours that start from from (inclusive) to to (exclusive), oldest first;
// hours without a request are left out. Returns ENotFound if the key does
// not exist or belongs to another account.
func (db *DB) Usage(ctx context.Context, accountID, keyID string, from, to time.Time) ([]pihu.UsageCount, error) {
	var one int
	err := db.db.QueryRowContext(ctx, `SELECT 1 FROM api_keys WHERE id = ? AND account_id = ?`, keyID, accountID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.KeyNotFound(keyID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: usage of key %s: %w", keyID, err)
	}
	rows, err := db.db.QueryContext(ctx, `SELECT hour, allowed, refused FROM api_key_usage
		WHERE key_id = ? AND hour >= ? AND hour < ? ORDER BY hour`, keyID, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("sqlite: usage of key %s: %w", keyID, err)
	}
	defer rows.Close()
	var out []pihu.UsageCount
	for rows.Next() {
		c := pihu.UsageCount{KeyID: keyID}
		var hour int64
		if err := rows.Scan(&hour, &c.Allowed, &c.Refused); err != nil {
			return nil, fmt.Errorf("sqlite: usage of key %s: %w", keyID, err)
		}
		c.Hour = fromUnix(hour)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: usage of key %s: %w", keyID, err)
	}
	return out, nil
}
