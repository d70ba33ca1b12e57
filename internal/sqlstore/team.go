package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
)

// Changing a team's members: their roles, their invites' links and their
// password resets. Each write reads the roles of the member acting and of
// the member acted on inside its transaction, after locking the account's
// row where rows are locked (as RemoveMember does), and applies the
// domain's rule to them there: a member demoted or removed while their
// form was on its way changes nothing.

// pendingReset is the condition of a password reset pending at the time
// given as its one argument.
const pendingReset = `used IS NULL AND canceled IS NULL AND expires > ?`

// lockTeam locks account accountID's row (see lockAccount) and returns
// the member actorID as the transaction reads them. Returns
// pihu.MemberNotFound(missing) if there is no such account, and
// pihu.MemberNotFound(actorID) if they are no member of it.
func lockTeam(ctx context.Context, tx Tx, accountID, actorID, missing string) (*pihu.User, error) {
	if err := lockAccount(ctx, tx, accountID); err != nil {
		if pihu.ErrorCode(err) == pihu.ENotFound {
			return nil, pihu.MemberNotFound(missing)
		}
		return nil, err
	}
	return member(ctx, tx, tx.Dialect(), accountID, actorID)
}

// countOwners is how many owners account accountID has.
func countOwners(ctx context.Context, tx Tx, accountID string) (int, error) {
	var owners int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE account_id = ? AND role = 'owner'`, accountID).Scan(&owners); err != nil {
		return 0, fmt.Errorf("count owners: %w", err)
	}
	return owners, nil
}

// InviteLink returns the invite whose link token has the digest, pending
// or not. Returns pihu.ErrInviteInvalid if there is none.
func (s Store) InviteLink(ctx context.Context, digest []byte) (*pihu.Invite, error) {
	return one(ctx, s, "invite link", func(row Row) (*pihu.Invite, error) {
		var (
			inv                                  pihu.Invite
			role                                 string
			created, expires, accepted, canceled TimeValue
		)
		if err := row.Scan(&inv.ID, &inv.AccountID, &inv.Email, &role, &inv.Digest, &inv.InvitedBy, &created, &expires, &accepted, &canceled); err != nil {
			return nil, err
		}
		inv.Role, inv.Created, inv.Expires, inv.Accepted, inv.Canceled = pihu.Role(role), created.Time(), expires.Time(), accepted.T, canceled.T
		return &inv, nil
	}, pihu.ErrInviteInvalid, `SELECT `+Invites.Columns+`, accepted, canceled FROM invites WHERE digest = ?`, digest)
}

// RegenerateInvite replaces the account's pending invite oldID with inv,
// which takes its email and role. Returns ENotFound if oldID is not
// pending at inv.Created, EInsufficientPermissions if inv.InvitedBy does
// not manage the team.
func (s Store) RegenerateInvite(ctx context.Context, oldID string, inv *pihu.Invite, events ...*pihu.AuditEvent) error {
	inv.Created, inv.Expires = pihu.Timestamp(inv.Created), pihu.Timestamp(inv.Expires)
	return s.Driver.Write(ctx, "regenerate invite "+oldID, "", func(ctx context.Context, tx Tx) error {
		actor, err := lockTeam(ctx, tx, inv.AccountID, inv.InvitedBy, inv.InvitedBy)
		if err != nil {
			return err
		}
		if !actor.Role.CanManageTeam() {
			return pihu.Errorf(pihu.EInsufficientPermissions, "Only the account's owners manage invites.")
		}
		d := tx.Dialect()
		created := d.Time(inv.Created)
		var role string
		err = tx.QueryRow(ctx, `SELECT email, role FROM invites WHERE id = ? AND account_id = ? AND `+pendingInvite,
			oldID, inv.AccountID, created).Scan(&inv.Email, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return pihu.InviteNotFound(oldID)
		}
		if err != nil {
			return fmt.Errorf("regenerate invite %s: %w", oldID, err)
		}
		inv.Role = pihu.Role(role)
		if err := inv.Validate(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE invites SET canceled = ? WHERE id = ?`, created, oldID); err != nil {
			return fmt.Errorf("regenerate invite %s: %w", oldID, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO invites (`+Invites.Columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.AccountID, inv.Email, string(inv.Role), inv.Digest, inv.InvitedBy, created, d.Time(inv.Expires)); err != nil {
			return fmt.Errorf("regenerate invite %s: %w", oldID, err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// ChangeRole sets member userID's role to role on behalf of member
// actorID, under pihu.CheckRoleChange. A role set to what it is already
// changes nothing and records no event.
func (s Store) ChangeRole(ctx context.Context, accountID, actorID, userID string, role pihu.Role, event func(before *pihu.User) *pihu.AuditEvent) (*pihu.User, error) {
	return write(ctx, s, "change role of "+userID, "", func(ctx context.Context, tx Tx) (*pihu.User, error) {
		actor, err := lockTeam(ctx, tx, accountID, actorID, userID)
		if err != nil {
			return nil, err
		}
		target, err := member(ctx, tx, tx.Dialect(), accountID, userID)
		if err != nil {
			return nil, err
		}
		owners, err := countOwners(ctx, tx, accountID)
		if err != nil {
			return nil, err
		}
		if err := pihu.CheckRoleChange(actor.Role, target.Role, role, owners); err != nil {
			return nil, err
		}
		if target.Role == role {
			return target, nil
		}
		if _, err := tx.Exec(ctx, `UPDATE memberships SET role = ? WHERE account_id = ? AND user_id = ?`, string(role), accountID, userID); err != nil {
			return nil, fmt.Errorf("change role of %s: %w", userID, err)
		}
		after := *target
		after.Role = role
		if event != nil {
			if err := InsertEvents(ctx, tx, []*pihu.AuditEvent{event(target)}); err != nil {
				return nil, err
			}
		}
		return &after, nil
	})
}

// resetAllowed applies pihu.CheckPasswordReset to member actorID resetting
// member userID's password in account accountID, as tx reads them, and
// returns the member.
func resetAllowed(ctx context.Context, tx Tx, accountID, actorID, userID string) (*pihu.User, error) {
	actor, err := lockTeam(ctx, tx, accountID, actorID, userID)
	if err != nil {
		return nil, err
	}
	target, err := member(ctx, tx, tx.Dialect(), accountID, userID)
	if err != nil {
		return nil, err
	}
	var elsewhere int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE user_id = ? AND account_id <> ?`, userID, accountID).Scan(&elsewhere); err != nil {
		return nil, fmt.Errorf("password reset of %s: %w", userID, err)
	}
	return target, pihu.CheckPasswordReset(actor.Role, target.Role, target.PasswordHash != "", elsewhere)
}

// CreatePasswordReset stores a pending password reset link, replacing the
// member's pending ones, under pihu.CheckPasswordReset.
func (s Store) CreatePasswordReset(ctx context.Context, p *pihu.PasswordReset, events ...*pihu.AuditEvent) error {
	if p.ID == "" || len(p.Digest) == 0 {
		return errors.New("create password reset: a reset needs an id and a digest")
	}
	p.Created, p.Expires = pihu.Timestamp(p.Created), pihu.Timestamp(p.Expires)
	return s.Driver.Write(ctx, "create password reset", "", func(ctx context.Context, tx Tx) error {
		target, err := resetAllowed(ctx, tx, p.AccountID, p.CreatedBy, p.UserID)
		if err != nil {
			return err
		}
		p.Email = target.Email
		d := tx.Dialect()
		created := d.Time(p.Created)
		if _, err := tx.Exec(ctx, `UPDATE password_resets SET canceled = ? WHERE account_id = ? AND user_id = ? AND `+pendingReset,
			created, p.AccountID, p.UserID, created); err != nil {
			return fmt.Errorf("create password reset: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (`+PasswordResets.Columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
			p.ID, p.AccountID, p.UserID, p.Email, p.Digest, p.CreatedBy, created, d.Time(p.Expires)); err != nil {
			return fmt.Errorf("create password reset: %w", err)
		}
		return InsertEvents(ctx, tx, events)
	})
}

// PasswordResetLink returns the password reset whose link token has the
// digest, pending or not. Returns pihu.ErrResetInvalid if there is none.
func (s Store) PasswordResetLink(ctx context.Context, digest []byte) (*pihu.PasswordReset, error) {
	return one(ctx, s, "password reset", PasswordResets.Scan, pihu.ErrResetInvalid,
		`SELECT `+PasswordResets.Columns+` FROM password_resets WHERE digest = ?`, digest)
}

// UsePasswordReset uses the pending reset link of the digest: it sets the
// member's password and ends their sessions, if its issuer may still reset
// it. Of concurrent uses of one link, the UPDATE of the first takes its
// row; the others then see it used.
func (s Store) UsePasswordReset(ctx context.Context, digest []byte, passwordHash string, at time.Time, events ...*pihu.AuditEvent) (*pihu.User, error) {
	at = pihu.Timestamp(at)
	return write(ctx, s, "use password reset", "", func(ctx context.Context, tx Tx) (*pihu.User, error) {
		var accountID, userID, createdBy string
		now := tx.Dialect().Time(at)
		err := tx.QueryRow(ctx, `UPDATE password_resets SET used = ? WHERE digest = ? AND `+pendingReset+`
			RETURNING account_id, user_id, created_by`, now, digest, now).Scan(&accountID, &userID, &createdBy)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, pihu.ErrResetInvalid
		}
		if err != nil {
			return nil, fmt.Errorf("use password reset: %w", err)
		}
		if _, err := resetAllowed(ctx, tx, accountID, createdBy, userID); err != nil {
			var pe *pihu.Error
			if errors.As(err, &pe) {
				return nil, pihu.ErrResetInvalid
			}
			return nil, err
		}
		if err := setPassword(ctx, tx, userID, passwordHash, at); err != nil {
			return nil, err
		}
		u, err := member(ctx, tx, tx.Dialect(), accountID, userID)
		if err != nil {
			return nil, err
		}
		for _, ev := range events {
			ev.AccountID = accountID
		}
		return u, InsertEvents(ctx, tx, events)
	})
}
