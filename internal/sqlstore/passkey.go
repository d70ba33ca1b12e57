package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

const passkeyColumns = `id, user_id, name, credential_id, credential, created, last_used`

// Passkeys reads passkeys.
var Passkeys = Scanner[*pihu.Passkey]{
	Columns: passkeyColumns,
	Scan: func(row Row) (*pihu.Passkey, error) {
		var (
			p             pihu.Passkey
			created, used TimeValue
		)
		if err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.CredentialID, &p.Credential, &created, &used); err != nil {
			return nil, err
		}
		p.Created, p.LastUsed = created.Time(), used.T
		return &p, nil
	},
}

// CreatePasskey stores p, with the events given, after checking inside the
// transaction that its person is a member of accountID, has fewer than
// pihu.MaxPasskeys, and that no passkey has its credential id.
func (s Store) CreatePasskey(ctx context.Context, accountID string, p *pihu.Passkey, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "create passkey", "", func(ctx context.Context, tx Tx) error {
		if _, err := member(ctx, tx, tx.Dialect(), accountID, p.UserID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM passkeys WHERE user_id = ?`, p.UserID).Scan(&n); err != nil {
			return fmt.Errorf("count passkeys of %s: %w", p.UserID, err)
		}
		if n >= pihu.MaxPasskeys {
			return pihu.ErrTooManyPasskeys
		}
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE credential_id = ?)`, p.CredentialID).Scan(&taken); err != nil {
			return fmt.Errorf("check passkey credential: %w", err)
		}
		if taken {
			return pihu.ErrPasskeyRegistered
		}
		d := tx.Dialect()
		_, err := tx.Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, NULL)`,
			p.ID, p.UserID, p.Name, p.CredentialID, p.Credential, d.Time(p.Created))
		if err != nil && d.UniqueViolation != nil && d.UniqueViolation(err, "passkeys_credential_id") {
			return pihu.ErrPasskeyRegistered
		}
		if err != nil {
			return fmt.Errorf("store passkey %s: %w", p.ID, err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// ListPasskeys returns person userID's passkeys, oldest first.
func (s Store) ListPasskeys(ctx context.Context, userID string) ([]*pihu.Passkey, error) {
	return all(ctx, s, "list passkeys", Passkeys.Scan,
		`SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY created, id`, userID)
}

// PasskeyByCredentialID returns the passkey of credentialID.
func (s Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*pihu.Passkey, error) {
	return one(ctx, s, "passkey by credential", Passkeys.Scan, pihu.Errorf(pihu.ENotFound, "No passkey has this credential."),
		`SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = ?`, credentialID)
}

// RenamePasskey names person userID's passkey id, with the events given.
func (s Store) RenamePasskey(ctx context.Context, accountID, userID, id, name string, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "rename passkey "+id, "", func(ctx context.Context, tx Tx) error {
		if _, err := member(ctx, tx, tx.Dialect(), accountID, userID); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)
		if err != nil {
			return fmt.Errorf("rename passkey %s: %w", id, err)
		}
		if n == 0 {
			return pihu.PasskeyNotFound(id)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// DeletePasskey removes person userID's passkey id, with the events given.
func (s Store) DeletePasskey(ctx context.Context, accountID, userID, id string, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "delete passkey "+id, "", func(ctx context.Context, tx Tx) error {
		if _, err := member(ctx, tx, tx.Dialect(), accountID, userID); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
		if err != nil {
			return fmt.Errorf("delete passkey %s: %w", id, err)
		}
		if n == 0 {
			return pihu.PasskeyNotFound(id)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// UsePasskey stores passkey id's credential as a sign-in left it, with the
// events given; ENotFound if the passkey is gone.
func (s Store) UsePasskey(ctx context.Context, id string, credential []byte, at time.Time, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "use passkey "+id, "", func(ctx context.Context, tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE passkeys SET credential = ?, last_used = ? WHERE id = ?`,
			credential, tx.Dialect().Time(pihu.Timestamp(at)), id)
		if err != nil {
			return fmt.Errorf("use passkey %s: %w", id, err)
		}
		if n == 0 {
			return pihu.PasskeyNotFound(id)
		}
		return InsertEvents(ctx, tx, events)
	})
}

const challengeColumns = `challenge, session, register, user_id, session_digest, expires`

func scanChallenge(row Row) (*pihu.PasskeyChallenge, error) {
	var (
		c       pihu.PasskeyChallenge
		expires TimeValue
	)
	if err := row.Scan(&c.Challenge, &c.Session, &c.Register, &c.UserID, &c.SessionDigest, &expires); err != nil {
		return nil, err
	}
	c.Expires = expires.Time()
	return &c, nil
}

// PutPasskeyChallenge stores c, after dropping the challenges expired at
// now and, beyond max with c, those expiring first.
func (s Store) PutPasskeyChallenge(ctx context.Context, c *pihu.PasskeyChallenge, now time.Time, max int) error {
	return s.Driver.Write(ctx, "put passkey challenge", "", func(ctx context.Context, tx Tx) error {
		d := tx.Dialect()
		if _, err := tx.Exec(ctx, `DELETE FROM passkey_challenges WHERE expires <= ?`, d.Time(pihu.Timestamp(now))); err != nil {
			return fmt.Errorf("drop expired passkey challenges: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM passkey_challenges`).Scan(&n); err != nil {
			return fmt.Errorf("count passkey challenges: %w", err)
		}
		if over := n - max + 1; over > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM passkey_challenges WHERE challenge IN
				(SELECT challenge FROM passkey_challenges ORDER BY expires, challenge LIMIT ?)`, over); err != nil {
				return fmt.Errorf("drop the oldest passkey challenges: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO passkey_challenges (`+challengeColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			c.Challenge, c.Session, c.Register, c.UserID, c.SessionDigest, d.Time(pihu.Timestamp(c.Expires))); err != nil {
			return fmt.Errorf("store passkey challenge: %w", err)
		}
		return nil
	})
}

// errChallengeGone is a challenge that does not wait: never stored, taken
// already, dropped or expired.
var errChallengeGone = pihu.Errorf(pihu.ENotFound, "This passkey challenge is not waiting: it expired or was used.")

// TakePasskeyChallenge deletes the challenge, and returns it if it had not
// expired at now: one DELETE, so that of concurrent takes only one gets
// the row.
func (s Store) TakePasskeyChallenge(ctx context.Context, challenge string, now time.Time) (*pihu.PasskeyChallenge, error) {
	var c *pihu.PasskeyChallenge
	err := s.Driver.WriteOne(ctx, "take passkey challenge", func(ctx context.Context, conn Conn) error {
		var err error
		c, err = scanChallenge(conn.QueryRow(ctx, `DELETE FROM passkey_challenges WHERE challenge = ? RETURNING `+challengeColumns, challenge))
		if errors.Is(err, sql.ErrNoRows) {
			return errChallengeGone
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !now.Before(c.Expires) {
		return nil, errChallengeGone
	}
	return c, nil
}
