package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `id, account_id, name, environment, permissions, digest, hint,
	created, expires, last_used, revoked, rotated_from, rate_limit, allowed_ips, created_by`

// CreateKey stores k, revocation and last use included, and the audit
// events given, in one transaction. An id or digest already stored, or an
// unknown account, is an error (EInternal), and then nothing is stored.
func (db *DB) CreateKey(ctx context.Context, k *pihu.Key, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create key "+k.ID, func(ctx context.Context, tx pgx.Tx) error {
		if err := checkCreator(ctx, tx, k); err != nil {
			return err
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		return insertEvents(ctx, tx, events)
	})
}

// checkCreator checks, inside the transaction that stores k, that the key
// that creates it (k.CreatedBy, if any) is a key of k's account that is
// still active at k.Created: a key revoked, or expired, while it was
// creating another key creates nothing. It reads the creator FOR SHARE:
// a revocation (an UPDATE of that row) waits for this transaction to end,
// and this read waits for a revocation in progress to end and then sees
// the row as it committed, so that one of the two is wholly first.
func checkCreator(ctx context.Context, tx pgx.Tx, k *pihu.Key) error {
	if k.CreatedBy == "" {
		return nil
	}
	creator, err := scanKey(tx.QueryRow(ctx,
		`SELECT `+keyColumns+` FROM api_keys WHERE id = $1 AND account_id = $2 FOR SHARE`, k.CreatedBy, k.AccountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return pihu.Errorf(pihu.ERevokedAPIKey, "The API key making this request is not a key of this account any more; nothing was created.")
	}
	if err != nil {
		return fmt.Errorf("creator %s of key %s: %w", k.CreatedBy, k.ID, err)
	}
	if ok, code := creator.Active(k.Created); !ok {
		what := "revoked"
		if code == pihu.EExpiredAPIKey {
			what = "expired"
		}
		return pihu.Errorf(code, "The API key making this request was %s before the request could finish; nothing was created.", what)
	}
	return nil
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
	var allowed []string
	if k.AllowedIPs != nil {
		allowed = append([]string{}, k.AllowedIPs...) // NULL only for nil
	}
	_, err := q.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		k.ID, k.AccountID, k.Name, string(k.Environment), permissions(k.Permissions), k.Digest, k.Hint,
		ts(k.Created), nullTS(k.Expires), nullTS(k.LastUsed), nullTS(k.Revoked), nullString(k.RotatedFrom),
		k.RateLimit, allowed, nullString(k.CreatedBy))
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
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.Name, &env, &perms, &k.Digest, &k.Hint,
		&created, &expires, &lastUsed, &revoked, &rotatedFrom, &k.RateLimit, &k.AllowedIPs, &createdBy); err != nil {
		return nil, err
	}
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
	return &k, nil
}

// KeyByDigest returns the key whose secret has the given SHA-256, revoked
// or expired keys included. Returns ENotFound if there is none.
func (db *DB) KeyByDigest(ctx context.Context, digest []byte) (*pihu.Key, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	k, err := scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE digest = $1`, digest))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.Errorf(pihu.ENotFound, "No API key matches.")
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
		return nil, pihu.Errorf(pihu.ENotFound, "No API key has the id %q.", id)
	}
	if err != nil {
		return nil, wrap("key "+id, err)
	}
	return k, nil
}

// ListKeys returns a page of the account's unrevoked keys, newest first,
// and whether more follow. A Limit out of 1 to 100 means 10 if below, 100
// if above. Returns EParameterInvalid on "starting_after" if that id is not
// one of the account's keys (a revoked one is a valid cursor).
//
// Keys are ordered by insertion sequence, not by creation time, so that
// keys created in the same second still page without gaps or repeats.
func (db *DB) ListKeys(ctx context.Context, f pihu.KeyFilter) ([]*pihu.Key, bool, error) {
	q := accountPage("api_keys", keyColumns, f.AccountID, f.Environment, "revoked IS NULL",
		pihu.Page{Limit: f.Limit, StartingAfter: f.StartingAfter, EndingBefore: f.EndingBefore},
		"this account's API keys")
	return listPage(ctx, db, q, scanKey)
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
	return db.inTx(ctx, "touch keys", func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, id := range ids {
			b.Queue(`UPDATE api_keys SET last_used = GREATEST(last_used, $2)
				WHERE id = $1 AND (last_used IS NULL OR last_used < $2)`, id, ts(uses[id]))
		}
		return tx.SendBatch(ctx, b).Close()
	})
}
