package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
)

const signingKeyColumns = `id, algorithm, public_key, private_key, created, retired`

func scanSigningKey(row rowScanner) (*pihu.SigningKey, error) {
	var (
		k        pihu.SigningKey
		pub, prv []byte
		created  int64
		retired  sql.Null[int64]
	)
	if err := row.Scan(&k.ID, &k.Algorithm, &pub, &prv, &created, &retired); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize || len(prv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key %s: stored key has the wrong size", k.ID)
	}
	k.PublicKey, k.PrivateKey = pub, prv
	k.Created, k.Retired = fromUnix(created), fromNullUnix(retired)
	return &k, nil
}

func insertSigningKey(ctx context.Context, tx *sql.Tx, k *pihu.SigningKey) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, []byte(k.PublicKey), []byte(k.PrivateKey), unixTime(pihu.Timestamp(k.Created)), nullTime(k.Retired)); err != nil {
		return fmt.Errorf("sqlite: store signing key %s: %w", k.ID, err)
	}
	return nil
}

// ActiveSigningKey returns the active signing key, storing candidate as
// the active one if there is none. The check and the insert are one
// immediate transaction, which holds the write lock of the file from its
// start, so that of instances racing to create the first key exactly one
// does, and the others read it.
func (db *DB) ActiveSigningKey(ctx context.Context, candidate *pihu.SigningKey) (*pihu.SigningKey, error) {
	var k *pihu.SigningKey
	err := db.inTx(ctx, "active signing key", func(tx *sql.Tx) error {
		var err error
		k, err = scanSigningKey(tx.QueryRowContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys WHERE retired IS NULL`))
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: active signing key: %w", err)
		}
		if candidate.Retired != nil {
			return fmt.Errorf("sqlite: active signing key: candidate %s is retired", candidate.ID)
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
// pihu.SigningKeyRetention before, in one transaction.
func (db *DB) RotateSigningKey(ctx context.Context, next *pihu.SigningKey) (*pihu.SigningKey, error) {
	var retired *pihu.SigningKey
	at := pihu.Timestamp(next.Created)
	err := db.inTx(ctx, "rotate signing key", func(tx *sql.Tx) error {
		var err error
		retired, err = scanSigningKey(tx.QueryRowContext(ctx, `UPDATE signing_keys SET retired = ?
			WHERE retired IS NULL RETURNING `+signingKeyColumns, unixTime(at)))
		if errors.Is(err, sql.ErrNoRows) {
			retired = nil
		} else if err != nil {
			return fmt.Errorf("sqlite: rotate signing key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired < ?`,
			unixTime(at.Add(-pihu.SigningKeyRetention))); err != nil {
			return fmt.Errorf("sqlite: rotate signing key: %w", err)
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
	rows, err := db.db.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created DESC, rowid DESC`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	defer rows.Close()
	var keys []*pihu.SigningKey
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: signing keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	return keys, nil
}

// RecordToken records the audit event of a token minted with key
// ev.Target, after checking in the same transaction that the key is still
// active at ev.Created (see checkCreator).
func (db *DB) RecordToken(ctx context.Context, ev *pihu.AuditEvent) error {
	return db.inTx(ctx, "record token of key "+ev.Target, func(tx *sql.Tx) error {
		minter := &pihu.Key{ID: ev.ID, AccountID: ev.AccountID, CreatedBy: ev.Target, Created: ev.Created}
		if err := checkCreator(ctx, tx, minter); err != nil {
			return err
		}
		return insertEvents(ctx, tx, []*pihu.AuditEvent{ev})
	})
}
