package sqlstore

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pihu-ai/pihu"
)

const signingKeyColumns = `id, algorithm, public_key, private_key, created, retired`

func scanSigningKey(row Row) (*pihu.SigningKey, error) {
	var (
		k                pihu.SigningKey
		pub, prv         []byte
		created, retired TimeValue
	)
	if err := row.Scan(&k.ID, &k.Algorithm, &pub, &prv, &created, &retired); err != nil {
		return nil, err
	}
	if len(pub) != ed25519.PublicKeySize || len(prv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key %s: stored key has the wrong size", k.ID)
	}
	k.PublicKey, k.PrivateKey = pub, prv
	k.Created, k.Retired = created.Time(), retired.T
	return &k, nil
}

func insertSigningKey(ctx context.Context, tx Tx, k *pihu.SigningKey) error {
	d := tx.Dialect()
	if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, []byte(k.PublicKey), []byte(k.PrivateKey), d.Time(pihu.Timestamp(k.Created)), d.NullTime(k.Retired)); err != nil {
		return fmt.Errorf("store signing key %s: %w", k.ID, err)
	}
	return nil
}

// lockSigningKeys runs Dialect.LockSigningKeys, if any: it orders every
// change of the active signing key, across instances, until the
// transaction ends, and after it each statement sees the changes of the
// transactions that held it before.
func lockSigningKeys(ctx context.Context, tx Tx) error {
	if lock := tx.Dialect().LockSigningKeys; lock != "" {
		_, err := tx.Exec(ctx, lock)
		return err
	}
	return nil
}

// activeSigningKey reads the active signing key.
func activeSigningKey(ctx context.Context, tx Tx) (*pihu.SigningKey, error) {
	return scanSigningKey(tx.QueryRow(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys WHERE retired IS NULL`))
}

// ActiveSigningKey returns the active signing key, storing candidate as
// the active one if there is none. Creating it looks again under
// lockSigningKeys (or in a WriteLocked transaction), so that of instances
// racing to create the first key exactly one does, and the others read
// it.
func (s Store) ActiveSigningKey(ctx context.Context, candidate *pihu.SigningKey) (*pihu.SigningKey, error) {
	return write(ctx, s, "active signing key", "", func(ctx context.Context, tx Tx) (*pihu.SigningKey, error) {
		k, err := activeSigningKey(ctx, tx)
		if !errors.Is(err, sql.ErrNoRows) {
			return k, err
		}
		if err := lockSigningKeys(ctx, tx); err != nil {
			return nil, err
		}
		if k, err := activeSigningKey(ctx, tx); !errors.Is(err, sql.ErrNoRows) {
			return k, err
		}
		if candidate.Retired != nil {
			return nil, fmt.Errorf("active signing key: candidate %s is retired", candidate.ID)
		}
		return candidate, insertSigningKey(ctx, tx, candidate)
	})
}

// RotateSigningKey retires the active key at next.Created, stores next as
// the active key, and deletes the keys retired more than
// pihu.SigningKeyRetention before, in one transaction, under
// lockSigningKeys: two rotations at once run one after the other.
func (s Store) RotateSigningKey(ctx context.Context, next *pihu.SigningKey) (*pihu.SigningKey, error) {
	at := pihu.Timestamp(next.Created)
	return write(ctx, s, "rotate signing key", "", func(ctx context.Context, tx Tx) (*pihu.SigningKey, error) {
		if err := lockSigningKeys(ctx, tx); err != nil {
			return nil, err
		}
		d := tx.Dialect()
		retired, err := scanSigningKey(tx.QueryRow(ctx, `UPDATE signing_keys SET retired = ?
			WHERE retired IS NULL RETURNING `+signingKeyColumns, d.Time(at)))
		if errors.Is(err, sql.ErrNoRows) {
			retired = nil
		} else if err != nil {
			return nil, fmt.Errorf("rotate signing key: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE retired < ?`, d.Time(at.Add(-pihu.SigningKeyRetention))); err != nil {
			return nil, fmt.Errorf("rotate signing key: %w", err)
		}
		return retired, insertSigningKey(ctx, tx, next)
	})
}

// SigningKeys returns every stored signing key, newest first.
func (s Store) SigningKeys(ctx context.Context) ([]*pihu.SigningKey, error) {
	return all(ctx, s, "signing keys", scanSigningKey,
		`SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created DESC, `+s.Dialect.Seq+` DESC`)
}

// RecordToken records the audit event of a token minted with key
// ev.Target, after checking in the same transaction that the key is still
// active at ev.Created (see Tx.CheckCreator).
func (s Store) RecordToken(ctx context.Context, ev *pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "record token of key "+ev.Target, "", func(ctx context.Context, tx Tx) error {
		minter := &pihu.Key{ID: ev.ID, AccountID: ev.AccountID, CreatedBy: ev.Target, Created: ev.Created}
		if err := tx.CheckCreator(ctx, minter); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, []*pihu.AuditEvent{ev})
	})
}
