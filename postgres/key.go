package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `id, account_id, name, environment, permissions, digest, hint,
	created, expires, last_used, revoked, rotated_from, rate_limit, allowed_ips, created_by,
	metadata, remaining, refill_interval, refill_amount, refill_day, refilled, imported, leaked`

// CreateKey stores k, revocation and last use included, and the audit
// events given, in one transaction. An id or digest already stored, or an
// unknown account, is an error (EInternal), and then nothing is stored.
func (db *DB) CreateKey(ctx context.Context, k *pihu.Key, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create key "+k.ID, func(ctx context.Context, tx pgx.Tx) error {
		if err := checkCreator(ctx, tx, k, ""); err != nil {
			return err
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// checkCreator checks, inside the transaction that stores k, that the key
// that creates it (k.CreatedBy, if any) may act at k.Created, as an actor
// does (see checkActor, whose lock it takes, lockKey as there): a key
// revoked, or expired, while it was creating another key creates nothing.
func checkCreator(ctx context.Context, tx pgx.Tx, k *pihu.Key, lockKey string) error {
	if k.CreatedBy == "" {
		return nil
	}
	return checkActor(ctx, tx, pihu.CreatorOf(k), lockKey)
}

// permissions is p as the text[] the database keeps: never NULL.
func permissions(p pihu.Permissions) []string {
	out := make([]string, len(p))
	for i, v := range p {
		out[i] = string(v)
	}
	return out
}

func insertKey(ctx context.Context, q querier, k *pihu.Key) error {
	allowed := k.AllowedIPs.Strings() // NULL only for anywhere
	c := creditColumns(k.Credits)
	leaked, err := leakColumn(k.Leaked)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	_, err = q.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
		k.ID, k.AccountID, k.Name, string(k.Environment), permissions(k.Permissions), k.Digest, k.Hint,
		ts(k.Created), nullTS(k.Expires), nullTS(k.LastUsed), nullTS(k.Revoked), nullString(k.RotatedFrom),
		k.RateLimit.String(), allowed, nullString(k.CreatedBy),
		nullString(string(k.Metadata)), c.remaining, c.interval, c.amount, c.day, c.refilled, k.Imported, leaked)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	return nil
}

// scanKey reads one row of keyColumns.
func scanKey(row pgx.Row) (*pihu.Key, error) {
	var (
		k                          pihu.Key
		env                        string
		perms                      []string
		created                    time.Time
		expires, lastUsed, revoked *time.Time
		rotatedFrom, createdBy     *string
		metadata, leaked           *string
		rateLimit                  string
		allowed                    []string
		c                          credits
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.Name, &env, &perms, &k.Digest, &k.Hint,
		&created, &expires, &lastUsed, &revoked, &rotatedFrom, &rateLimit, &allowed, &createdBy,
		&metadata, &c.remaining, &c.interval, &c.amount, &c.day, &c.refilled, &k.Imported, &leaked); err != nil {
		return nil, err
	}
	if leaked != nil {
		k.Leaked = new(pihu.Leak)
		if err := json.Unmarshal([]byte(*leaked), k.Leaked); err != nil {
			return nil, fmt.Errorf("leaked of key %s: %w", k.ID, err)
		}
	}
	if metadata != nil {
		k.Metadata = json.RawMessage(*metadata)
	}
	k.Credits = c.credits()
	k.Environment = pihu.Environment(env)
	k.Permissions = make(pihu.Permissions, len(perms))
	for i, p := range perms {
		k.Permissions[i] = pihu.Permission(p)
	}
	k.Created = created.UTC()
	k.Expires, k.LastUsed, k.Revoked = utc(expires), utc(lastUsed), utc(revoked)
	if rotatedFrom != nil {
		k.RotatedFrom = *rotatedFrom
	}
	if createdBy != nil {
		k.CreatedBy = *createdBy
	}
	k.SetStoredRestrictions(rateLimit, allowed)
	return &k, nil
}

// KeyByDigest returns the key whose secret has the given SHA-256, revoked
// or expired keys included. Returns ENotFound if there is none.
func (db *DB) KeyByDigest(ctx context.Context, digest []byte) (*pihu.Key, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	k, err := scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE digest = $1`, digest))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.ErrNoKeyMatches
	}
	if err != nil {
		return nil, wrap("key by digest", err)
	}
	return k, nil
}

// Key returns the key id of account accountID, revoked keys included.
// Returns ENotFound if it does not exist or belongs to another account.
func (db *DB) Key(ctx context.Context, accountID, id string) (*pihu.Key, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	k, err := scanKey(db.pool.QueryRow(ctx,
		`SELECT `+keyColumns+` FROM api_keys WHERE id = $1 AND account_id = $2`, id, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.KeyIDNotFound(id)
	}
	if err != nil {
		return nil, wrap("key "+id, err)
	}
	return k, nil
}

// TouchKeys records when keys were last used, in one transaction. A time
// earlier than the one stored is ignored (GREATEST, so that of two
// instances flushing the same key the later use wins, whichever commits
// last); unknown ids are skipped. The updates go in one round trip, in the
// order of the ids, so that two flushes lock rows in the same order and
// never deadlock.
func (db *DB) TouchKeys(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]string, 0, len(uses))
	for id := range uses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return db.inTxWithin(ctx, max(db.CallTimeout, batchTimeout), "touch keys", "", func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, id := range ids {
			b.Queue(`UPDATE api_keys SET last_used = GREATEST(last_used, $2)
				WHERE id = $1 AND (last_used IS NULL OR last_used < $2)`, id, ts(uses[id]))
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// credits are the columns of a key's credits.
type credits struct {
	remaining, amount *int64
	day               *int32
	interval          *string
	refilled          *time.Time
}

func creditColumns(c *pihu.Credits) credits {
	var out credits
	if c == nil {
		return out
	}
	refilled := ts(c.Refilled)
	out.remaining, out.refilled = &c.Remaining, &refilled
	if r := c.Refill; r != nil {
		day := int32(r.Day)
		out.interval, out.amount, out.day = &r.Interval, &r.Amount, &day
	}
	return out
}

// scanCredits reads a row of sqlstore.CreditColumns.
func scanCredits(row pgx.Row) (*pihu.Credits, error) {
	var c credits
	if err := row.Scan(&c.remaining, &c.interval, &c.amount, &c.day, &c.refilled); err != nil {
		return nil, err
	}
	return c.credits(), nil
}

func (c credits) credits() *pihu.Credits {
	if c.remaining == nil {
		return nil
	}
	out := &pihu.Credits{Remaining: *c.remaining}
	if c.refilled != nil {
		out.Refilled = c.refilled.UTC()
	}
	if c.interval != nil && c.amount != nil && c.day != nil {
		out.Refill = &pihu.Refill{Interval: *c.interval, Amount: *c.amount, Day: int(*c.day)}
	}
	return out
}

// SpendCredits spends cost credits of key id at now, after the refill due
// by then, in one transaction that reads the key's row FOR UPDATE: a
// concurrent spend, from this process or another, waits for this one to
// commit and then reads what it left, so no two spends see the same
// credits. The write is conditional all the same (remaining unchanged),
// and a refused spend writes nothing. A key without credits is OK with
// Remaining -1.
func (db *DB) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (out pihu.Spend, err error) {
	err = db.inTxLocking(ctx, "spend credits of key "+id, id, func(ctx context.Context, tx pgx.Tx) error {
		out, err = sqlstore.Spend(ctx, txn{conn{tx}, tx, id}, id, cost, now)
		return err
	})
	return out, err
}

// UpdateKey changes an unrevoked key of an account in one transaction
// that reads it FOR UPDATE (see pihu.KeyStore.UpdateKey): the key u.Apply
// checks is the key it changes.
func (db *DB) UpdateKey(ctx context.Context, u pihu.KeyUpdate) (*pihu.Key, error) {
	var k *pihu.Key
	err := db.inTxLocking(ctx, "update key "+u.ID, u.ID, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
			WHERE id = $1 AND account_id = $2 AND revoked IS NULL FOR UPDATE`, u.ID, u.AccountID))
		if errors.Is(err, pgx.ErrNoRows) {
			return pihu.KeyNotFound(u.ID)
		}
		if err != nil {
			return fmt.Errorf("update key %s: %w", u.ID, err)
		}
		if err := u.Apply(k); err != nil {
			return err
		}
		allowed := k.AllowedIPs.Strings()
		c := creditColumns(k.Credits)
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET name = $1, permissions = $2, rate_limit = $3, allowed_ips = $4,
			metadata = $5, expires = $6, remaining = $7, refill_interval = $8, refill_amount = $9, refill_day = $10, refilled = $11
			WHERE id = $12`,
			k.Name, permissions(k.Permissions), k.RateLimit.String(), allowed, nullString(string(k.Metadata)),
			nullTS(k.Expires), c.remaining, c.interval, c.amount, c.day, c.refilled, k.ID); err != nil {
			return fmt.Errorf("update key %s: %w", u.ID, err)
		}
		if u.Event != nil {
			return insertEvents(ctx, tx, []*pihu.AuditEvent{u.Event(k)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// ImportKeys stores keys and the events given in one transaction, or
// nothing (see pihu.KeyStore.ImportKeys).
func (db *DB) ImportKeys(ctx context.Context, keys []*pihu.Key, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "import keys", func(ctx context.Context, tx pgx.Tx) error {
		digests := make([][]byte, len(keys))
		for i, k := range keys {
			digests[i] = k.Digest
		}
		// One read finds the digests stored already; digests repeated in
		// the list, and one stored by a transaction committing meanwhile,
		// fail the insert on the unique index instead.
		var found [][]byte
		rows, err := tx.Query(ctx, `SELECT digest FROM api_keys WHERE digest = ANY($1)`, digests)
		if err != nil {
			return fmt.Errorf("import keys: %w", err)
		}
		found, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return fmt.Errorf("import keys: %w", err)
		}
		seen := make(map[string]bool, len(keys))
		for _, d := range found {
			seen[string(d)] = true
		}
		for i, k := range keys {
			if seen[string(k.Digest)] {
				return pihu.ImportedKeyExists(i)
			}
			seen[string(k.Digest)] = true
		}
		for _, k := range keys {
			if err := insertKey(ctx, tx, k); err != nil {
				return err
			}
		}
		return insertEvents(ctx, tx, events)
	})
}
