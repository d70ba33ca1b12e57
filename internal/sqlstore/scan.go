package sqlstore

import (
	"database/sql"

	"github.com/pihu-ai/pihu"
)

// The rows that read the same from either driver (their times through
// TimeValue, their enums as text), scanned once here; a Dialect names
// them unless its store reads them its own way.
var (
	// Candidates reads candidates.
	Candidates = Scanner[*pihu.Candidate]{
		Columns: `id, account_id, environment, name, email, created`,
		Scan: func(row Row) (*pihu.Candidate, error) {
			var (
				c       pihu.Candidate
				env     string
				created TimeValue
			)
			if err := row.Scan(&c.ID, &c.AccountID, &env, &c.Name, &c.Email, &created); err != nil {
				return nil, err
			}
			c.Environment, c.Created = pihu.Environment(env), created.Time()
			return &c, nil
		},
	}

	// Interviews reads interviews.
	Interviews = Scanner[*pihu.Interview]{
		Columns: `id, account_id, environment, candidate_id, position, scheduled_at, status, created`,
		Scan: func(row Row) (*pihu.Interview, error) {
			var (
				iv                   pihu.Interview
				env, status          string
				scheduledAt, created TimeValue
			)
			if err := row.Scan(&iv.ID, &iv.AccountID, &env, &iv.CandidateID, &iv.Position, &scheduledAt, &status, &created); err != nil {
				return nil, err
			}
			iv.Environment, iv.Status = pihu.Environment(env), pihu.InterviewStatus(status)
			iv.ScheduledAt, iv.Created = scheduledAt.T, created.Time()
			return &iv, nil
		},
	}

	// Users reads a person as a member of an account (MemberColumns), or
	// alone (PersonColumns).
	Users = Scanner[*pihu.User]{
		Columns: MemberColumns,
		Scan: func(row Row) (*pihu.User, error) {
			var (
				u                pihu.User
				email            sql.Null[string]
				role             string
				created, changed TimeValue
				enrolled         TimeValue
			)
			if err := row.Scan(&u.ID, &u.AccountID, &email, &u.PasswordHash, &role, &created, &changed, &u.TOTPSecret, &enrolled, &u.Passkeys); err != nil {
				return nil, err
			}
			u.Email, u.Role = email.V, pihu.Role(role)
			u.Created, u.PasswordChanged, u.TwoFactor = created.Time(), changed.T, enrolled.T
			return &u, nil
		},
	}

	// Invites reads invites.
	Invites = Scanner[*pihu.Invite]{
		Columns: `id, account_id, email, role, digest, invited_by, created, expires`,
		Scan: func(row Row) (*pihu.Invite, error) {
			var (
				inv              pihu.Invite
				role             string
				created, expires TimeValue
			)
			if err := row.Scan(&inv.ID, &inv.AccountID, &inv.Email, &role, &inv.Digest, &inv.InvitedBy, &created, &expires); err != nil {
				return nil, err
			}
			inv.Role, inv.Created, inv.Expires = pihu.Role(role), created.Time(), expires.Time()
			return &inv, nil
		},
	}

	// PasswordResets reads password_resets.
	PasswordResets = Scanner[*pihu.PasswordReset]{
		Columns: `id, account_id, user_id, email, digest, created_by, created, expires, used, canceled`,
		Scan: func(row Row) (*pihu.PasswordReset, error) {
			var (
				p                                pihu.PasswordReset
				created, expires, used, canceled TimeValue
			)
			if err := row.Scan(&p.ID, &p.AccountID, &p.UserID, &p.Email, &p.Digest, &p.CreatedBy, &created, &expires, &used, &canceled); err != nil {
				return nil, err
			}
			p.Created, p.Expires, p.Used, p.Canceled = created.Time(), expires.Time(), used.T, canceled.T
			return &p, nil
		},
	}

	// Links reads one-time links.
	Links = Scanner[*pihu.Link]{
		Columns: `digest, user_id, account_id, purpose, created, expires, used`,
		Scan: func(row Row) (*pihu.Link, error) {
			var (
				l                      pihu.Link
				purpose                string
				created, expires, used TimeValue
			)
			if err := row.Scan(&l.Digest, &l.UserID, &l.AccountID, &purpose, &created, &expires, &used); err != nil {
				return nil, err
			}
			l.Purpose, l.Created, l.Expires, l.Used = pihu.LinkPurpose(purpose), created.Time(), expires.Time(), used.T
			return &l, nil
		},
	}

	// Idempotency reads idempotency_records.
	Idempotency = Scanner[*pihu.IdempotencyRecord]{
		Columns: `lookup, fingerprint, token, created, status, response, ended_key`,
		Scan: func(row Row) (*pihu.IdempotencyRecord, error) {
			var (
				rec     pihu.IdempotencyRecord
				created TimeValue
			)
			if err := row.Scan(&rec.Lookup, &rec.Fingerprint, &rec.Token, &created, &rec.Status, &rec.Response, &rec.EndedKey); err != nil {
				return nil, err
			}
			rec.Created = created.Time()
			return &rec, nil
		},
	}
)
