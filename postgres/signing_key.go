package postgres

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

const signingKeyColumns = `id, algorithm, public_key, private_key, created, retired`

func scanSigningKey(row pgx.Row) (*pihu.SigningKey, error) {
	var (
		k        pihu.SigningKey
		pub, prv []byte
		created  time.Time
		retired  *time.Time
	)
	if err := row.Scan(&k.ID, &k.Algorithm, &pub, &prv, &created, &retired); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize || len(prv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key %s: stored key has the wrong size", k.ID)
	}
	k.PublicKey, k.PrivateKey = pub, prv
	k.Created, k.Retired = created.UTC(), utc(retired)
	return &k, nil
}

func insertSigningKey(ctx context.Context, tx pgx.Tx, k *pihu.SigningKey) error {
	if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Algorithm, []byte(k.PublicKey), []byte(k.PrivateKey), ts(k.Created), nullTS(k.Retired)); err != nil {
		return fmt.Errorf("store signing key %s: %w", k.ID, err)
	}
	return nil
}

// lockSigningKeys takes the advisory lock that orders every change of the
// active signing key, across instances, until the transaction ends: after
// it, each statement sees the changes of the transactions that held it
// before.
func lockSigningKeys(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockSigning)
	return err
}

// ActiveSigningKey returns the active signing key, storing candidate as
// the active one if there is none. Creating it takes an advisory lock and
// looks again under it, so that of instances racing to create the first
// key exactly one does, and the others read it.
func (db *DB) ActiveSigningKey(ctx context.Context, candidate *pihu.SigningKey) (*pihu.SigningKey, error) {
	var k *pihu.SigningKey
	err := db.inTx(ctx, "active signing key", func(ctx context.Context, tx pgx.Tx) error {
		active := func() error {
			var err error
			k, err = scanSigningKey(tx.QueryRow(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys WHERE retired IS NULL`))
			return err
		}
		err := active()
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := lockSigningKeys(ctx, tx); err != nil {
			return err
		}
		if err := active(); !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if candidate.Retired != nil {
			return fmt.Errorf("active signing key: candidate %s is retired", candidate.ID)
		}
		k = candidate
		return insertSigningKey(ctx, tx, candidate)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// RotateSigningKey retires the active key at next.Created, stores next as
// the active key, and deletes the keys retired more than
// pihu.SigningKeyRetention before, in one transaction, under the advisory
// lock of signing keys: two rotations at once run one after the other.
func (db *DB) RotateSigningKey(ctx context.Context, next *pihu.SigningKey) (*pihu.SigningKey, error) {
	var retired *pihu.SigningKey
	at := pihu.Timestamp(next.Created)
	err := db.inTx(ctx, "rotate signing key", func(ctx context.Context, tx pgx.Tx) error {
		if err := lockSigningKeys(ctx, tx); err != nil {
			return err
		}
		var err error
		retired, err = scanSigningKey(tx.QueryRow(ctx, `UPDATE signing_keys SET retired = $1
			WHERE retired IS NULL RETURNING `+signingKeyColumns, at))
		if errors.Is(err, pgx.ErrNoRows) {
			retired = nil
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE retired < $1`, at.Add(-pihu.SigningKeyRetention)); err != nil {
			return err
		}
		return insertSigningKey(ctx, tx, next)
	})
	if err != nil {
		return nil, err
	}
	return retired, nil
}

// SigningKeys returns every stored signing key, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]*pihu.SigningKey, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created DESC, seq DESC`)
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pihu.SigningKey, error) { return scanSigningKey(r) })
	if err != nil {
		return nil, wrap("signing keys", err)
	}
	return keys, nil
}

// RecordToken records the audit event of a token minted with key
// ev.Target, after checking in the same transaction that the key is still
// active at ev.Created (see checkCreator, which reads it FOR SHARE).
func (db *DB) RecordToken(ctx context.Context, ev *pihu.AuditEvent) error {
	return db.inTx(ctx, "record token of key "+ev.Target, func(ctx context.Context, tx pgx.Tx) error {
		minter := &pihu.Key{ID: ev.ID, AccountID: ev.AccountID, CreatedBy: ev.Target, Created: ev.Created}
		if err := checkCreator(ctx, tx, minter, ""); err != nil {
			return err
		}
		return insertEvents(ctx, tx, []*pihu.AuditEvent{ev})
	})
}
