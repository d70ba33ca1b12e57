package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// EnableTwoFactor stores person userID's TOTP secret, the step of the code
// that confirmed it, and their recovery codes (replacing any), with the
// events given. Returns ENotFound if they are not a member of accountID.
func (s Store) EnableTwoFactor(ctx context.Context, accountID, userID, secret string, lastStep int64, recovery [][]byte, at time.Time, events ...*pihu.AuditEvent) error {
	if secret == "" {
		return errors.New("enable two-factor: no secret")
	}
	return s.Driver.Write(ctx, "enable two-factor", "", func(ctx context.Context, tx Tx) error {
		if _, err := member(ctx, tx, tx.Dialect(), accountID, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_secret = ?, totp_enabled = ?, totp_last_step = ? WHERE id = ?`,
			secret, tx.Dialect().Time(pihu.Timestamp(at)), lastStep, userID); err != nil {
			return fmt.Errorf("enable two-factor of %s: %w", userID, err)
		}
		if err := replaceRecoveryCodes(ctx, tx, userID, recovery); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, events)
	})
}

// replaceRecoveryCodes makes the digests given person userID's recovery
// codes, all unused.
func replaceRecoveryCodes(ctx context.Context, tx Tx, userID string, digests [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("recovery codes of %s: %w", userID, err)
	}
	for _, d := range digests {
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, digest) VALUES (?, ?)`, userID, d); err != nil {
			return fmt.Errorf("recovery codes of %s: %w", userID, err)
		}
	}
	return nil
}

// DisableTwoFactor removes person userID's TOTP secret and recovery codes,
// with the events given. Returns ENotFound if they are not a member of
// accountID.
func (s Store) DisableTwoFactor(ctx context.Context, accountID, userID string, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "disable two-factor", "", func(ctx context.Context, tx Tx) error {
		if _, err := member(ctx, tx, tx.Dialect(), accountID, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_secret = '', totp_enabled = NULL WHERE id = ?`, userID); err != nil {
			return fmt.Errorf("disable two-factor of %s: %w", userID, err)
		}
		if err := replaceRecoveryCodes(ctx, tx, userID, nil); err != nil {
			return err
		}
		return InsertEvents(ctx, tx, events)
	})
}

// UseTOTPStep records step as the last one accepted for person userID,
// with the events given, if it is later than the last: one UPDATE whose
// condition is the rule, so that of two sign-ins with one code, one wins.
func (s Store) UseTOTPStep(ctx context.Context, userID string, step int64, events ...*pihu.AuditEvent) (bool, error) {
	return write(ctx, s, "use a TOTP step", "", func(ctx context.Context, tx Tx) (bool, error) {
		n, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = ?
			WHERE id = ? AND totp_enabled IS NOT NULL AND totp_last_step < ?`, step, userID, step)
		if err != nil {
			return false, fmt.Errorf("use a TOTP step of %s: %w", userID, err)
		}
		if n == 0 {
			return false, nil
		}
		return true, InsertEvents(ctx, tx, events)
	})
}

// UseRecoveryCode marks person userID's unused recovery code digest used,
// with the events given; false if there is no such unused code.
func (s Store) UseRecoveryCode(ctx context.Context, userID string, digest []byte, at time.Time, events ...*pihu.AuditEvent) (bool, error) {
	return write(ctx, s, "use a recovery code", "", func(ctx context.Context, tx Tx) (bool, error) {
		n, err := tx.Exec(ctx, `UPDATE recovery_codes SET used = ? WHERE user_id = ? AND digest = ? AND used IS NULL`,
			tx.Dialect().Time(pihu.Timestamp(at)), userID, digest)
		if err != nil {
			return false, fmt.Errorf("use a recovery code of %s: %w", userID, err)
		}
		if n == 0 {
			return false, nil
		}
		return true, InsertEvents(ctx, tx, events)
	})
}

// RecoveryCodesLeft returns how many unused recovery codes person userID
// has.
func (s Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return read(ctx, s, "recovery codes left", func(ctx context.Context, c Conn) (n int, err error) {
		return n, c.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used IS NULL`, userID).Scan(&n)
	})
}

// SetTwoFactorRequired sets whether account id requires a second factor
// of its members, with the events given. Returns pihu.AccountNotFound if
// there is no such account.
func (s Store) SetTwoFactorRequired(ctx context.Context, id string, required bool, events ...*pihu.AuditEvent) (*pihu.Account, error) {
	return s.setAccountRule(ctx, "two_factor_required", "two-factor required", id, required, events)
}

// SetSSORequired sets whether account id's members sign in through single
// sign-on only, with the events given. Returns pihu.AccountNotFound if
// there is no such account.
func (s Store) SetSSORequired(ctx context.Context, id string, required bool, events ...*pihu.AuditEvent) (*pihu.Account, error) {
	return s.setAccountRule(ctx, "sso_required", "SSO required", id, required, events)
}

// setAccountRule sets account id's sign-in rule in column (a constant of
// this package's, never a caller's input) to required, with the events
// given, and returns the account; what names the rule in errors.
func (s Store) setAccountRule(ctx context.Context, column, what, id string, required bool, events []*pihu.AuditEvent) (*pihu.Account, error) {
	return write(ctx, s, "set "+what+" of "+id, "", func(ctx context.Context, tx Tx) (*pihu.Account, error) {
		var (
			a       pihu.Account
			created TimeValue
			policy  string
		)
		err := tx.QueryRow(ctx, `UPDATE accounts SET `+column+` = ? WHERE id = ?
			RETURNING `+accountColumns, required, id).Scan(&a.ID, &a.Name, &created, &policy, &a.TwoFactorRequired, &a.SSORequired)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.AccountNotFound(id)
		}
		if err != nil {
			return nil, fmt.Errorf("set %s of %s: %w", what, id, err)
		}
		a.Created, a.LeakPolicy = created.Time(), pihu.LeakPolicy(policy)
		return &a, InsertEvents(ctx, tx, events)
	})
}

// RecordUserEvents records the events given.
func (s Store) RecordUserEvents(ctx context.Context, events ...*pihu.AuditEvent) error {
	return s.Driver.Write(ctx, "record user events", "", func(ctx context.Context, tx Tx) error {
		return InsertEvents(ctx, tx, events)
	})
}
