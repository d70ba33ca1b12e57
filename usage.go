package pihu

import (
	"context"
	"time"
)

// UsageRetention is how long hourly usage counts are kept.
const UsageRetention = 90 * 24 * time.Hour

// UsageCount is how many requests one key made in one hour: those let
// through (Allowed) and those refused after the key was recognised
// (Refused: rate limited, an address outside allowed_ips, a missing
// permission).
type UsageCount struct {
	KeyID   string
	Hour    time.Time // the start of the hour, UTC
	Allowed int64
	Refused int64
}

// UsageStore keeps usage counts, written in batches off the request path.
// Implementations are safe for concurrent use.
type UsageStore interface {
	// AddUsage adds counts to the stored counts of the same key and hour
	// (a Hour inside an hour counts for the hour's start), in one
	// transaction, and deletes the counts of hours that started more than
	// UsageRetention before now's hour. Counts of unknown keys, and of
	// hours already past retention, are skipped.
	AddUsage(ctx context.Context, counts []UsageCount, now time.Time) error

	// Usage returns the hourly counts of key keyID of account accountID
	// for the hours from from (inclusive) to to (exclusive), oldest first;
	// hours without a request are left out. Returns ENotFound if the key
	// does not exist or belongs to another account.
	Usage(ctx context.Context, accountID, keyID string, from, to time.Time) ([]UsageCount, error)
}
