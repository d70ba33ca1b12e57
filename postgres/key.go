package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// CreateKey stores k, revocation and last use included, and the audit
// events given, in one transaction. An id or digest already stored, or an
// unknown account, is an error (EInternal), and then nothing is stored.
func (db *DB) CreateKey(ctx context.Context, k *pihu.Key, events ...*pihu.AuditEvent) error {
	return db.inTx(ctx, "create key "+k.ID, func(ctx context.Context, tx pgx.Tx) error {
		return sqlstore.CreateKey(ctx, txn{conn{tx}, tx, ""}, k, events)
	})
}

// scanKey reads one row of sqlstore.KeyReadColumns.
func scanKey(row pgx.Row) (*pihu.Key, error) {
	var (
		k                          pihu.Key
		env                        string
		perms                      []string
		created                    time.Time
		expires, lastUsed, revoked *time.Time
		rotatedFrom, createdBy     *string
		metadata, leaked, roles    *string
		identity, idExt            *string
		idMeta, idLimit, idNamed   *string
		idRemaining                *int64
		named                      string
		rateLimit                  string
		allowed                    []string
		c                          credits
		enabled                    bool
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.Name, &env, &perms, &k.Digest, &k.Hint,
		&created, &expires, &lastUsed, &revoked, &rotatedFrom, &rateLimit, &allowed, &createdBy,
		&metadata, &c.remaining, &c.interval, &c.amount, &c.day, &c.refilled, &k.Imported, &leaked, &enabled, &identity, &named, &roles,
		&idExt, &idMeta, &idLimit, &idNamed, &idRemaining); err != nil {
		return nil, err
	}
	k.Disabled = !enabled
	if err := sqlstore.KeyJSON(&k, metadata, leaked); err != nil {
		return nil, err
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
	k.RateLimits = pihu.StoredNamedLimits(named)
	k.Roles = sqlstore.SplitRoles(roles)
	sqlstore.KeyIdentity(&k, identity, idExt, idMeta, idLimit, idNamed, idRemaining)
	return &k, nil
}

// KeyByDigest returns the key whose secret has the given SHA-256, revoked
// or expired keys included. Returns ENotFound if there is none.
func (db *DB) KeyByDigest(ctx context.Context, digest []byte) (*pihu.Key, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	k, err := scanKey(db.pool.QueryRow(ctx, `SELECT `+sqlstore.KeyReadColumns+` FROM api_keys WHERE digest = $1`, digest))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, pihu.ErrNoKeyMatches
	}
	if err != nil {
		return nil, wrap("key by digest", err)
	}
	return k, nil
}

// credits are the columns of a key's credits, read as pgx reads them
// without allocating.
type credits struct {
	remaining, amount pgtype.Int8
	day               pgtype.Int4
	interval          pgtype.Text
	refilled          pgtype.Timestamptz
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
	if !c.remaining.Valid {
		return nil
	}
	out := &pihu.Credits{Remaining: c.remaining.Int64}
	if c.refilled.Valid {
		out.Refilled = c.refilled.Time.UTC()
	}
	if c.interval.Valid && c.amount.Valid && c.day.Valid {
		out.Refill = &pihu.Refill{Interval: c.interval.String, Amount: c.amount.Int64, Day: int(c.day.Int32)}
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
