package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pihu-ai/pihu"
)

// Store implements, once, the methods of pihu.Store whose SQL is the same
// on every database. A store embeds it, gives it its Driver and Dialect,
// and implements the rest itself.
type Store struct {
	Driver  Driver
	Dialect *Dialect
}

// Driver is how a store runs work on its database.
type Driver interface {
	// Write runs f in a write transaction and commits it if f returns
	// nil. It first checks the actor ctx carries, if any (pihu.Actor),
	// in the transaction, and returns its error without running f if
	// the actor may not act. Where rows are locked, that check locks the
	// row of key lockKey ("" for none) FOR UPDATE rather than FOR SHARE,
	// for work that locks that row too; and f may run again after a
	// deadlock, so it must start from scratch. An error of f that is a
	// *pihu.Error is returned as it is; any other is named what.
	Write(ctx context.Context, what, lockKey string, f func(ctx context.Context, tx Tx) error) error
	// Read runs f on the connection for reads, within the store's bound
	// on a call, and returns its error as Write does.
	Read(ctx context.Context, what string, f func(ctx context.Context, c Conn) error) error
	// WriteOne runs f, a single write outside a transaction, on the
	// connection for writes, as Read does: queued with the store's other
	// writes where the database takes one writer at a time.
	WriteOne(ctx context.Context, what string, f func(ctx context.Context, c Conn) error) error
	// Batch is Write, locking no row, for the batched
	// writes of key uses (TouchKeys, AddUsage), which no client waits
	// for: where calls have a deadline, theirs is longer, so that the
	// backlog of an outage can be written once the database is back.
	Batch(ctx context.Context, what string, f func(ctx context.Context, tx Tx) error) error
	// Now is the store's clock, for what it dates itself.
	Now() time.Time
}

// Scanner reads one kind of row: Columns, in Scan's order.
type Scanner[T any] struct {
	Columns string
	Scan    func(Row) (T, error)
}

// write is Driver.Write for work that returns a value.
func write[T any](ctx context.Context, s Store, what, lockKey string, f func(ctx context.Context, tx Tx) (T, error)) (T, error) {
	var v T
	err := s.Driver.Write(ctx, what, lockKey, func(ctx context.Context, tx Tx) (err error) {
		v, err = f(ctx, tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// read is Driver.Read for work that returns a value.
func read[T any](ctx context.Context, s Store, what string, f func(ctx context.Context, c Conn) (T, error)) (T, error) {
	var v T
	err := s.Driver.Read(ctx, what, func(ctx context.Context, c Conn) (err error) {
		v, err = f(ctx, c)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// page is ListPage on the connection for reads.
func page[T any](ctx context.Context, s Store, q PageQuery, scan func(Row) (T, error)) ([]T, bool, error) {
	type result struct {
		items []T
		more  bool
	}
	r, err := read(ctx, s, "list "+q.Table, func(ctx context.Context, c Conn) (result, error) {
		items, more, err := ListPage(ctx, c, q, scan)
		return result{items, more}, err
	})
	return r.items, r.more, err
}

// one reads the only row of query with scan, or returns missing if there
// is none.
func one[T any](ctx context.Context, s Store, what string, scan func(Row) (T, error), missing error, query string, args ...any) (T, error) {
	return read(ctx, s, what, func(ctx context.Context, c Conn) (T, error) {
		v, err := scan(c.QueryRow(ctx, query, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return v, missing
		}
		return v, err
	})
}

// all reads every row of query with scan.
func all[T any](ctx context.Context, s Store, what string, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	return read(ctx, s, what, func(ctx context.Context, c Conn) ([]T, error) {
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return collect(rows, scan)
	})
}

// RevokeKey revokes key id of account accountID (see RevokeKey), the key's
// row locked first.
func (s Store) RevokeKey(ctx context.Context, accountID, id string, at time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	return write(ctx, s, "revoke key "+id, id, func(ctx context.Context, tx Tx) (*pihu.Key, error) {
		return RevokeKey(ctx, tx, accountID, id, at, events)
	})
}

// RotateKey stores next, the successor of key next.RotatedFrom (see
// RotateKey), the old key's row locked first.
func (s Store) RotateKey(ctx context.Context, next *pihu.Key, retire time.Time, events ...*pihu.AuditEvent) (*pihu.Key, error) {
	return write(ctx, s, "rotate key "+next.RotatedFrom, next.RotatedFrom, func(ctx context.Context, tx Tx) (*pihu.Key, error) {
		return RotateKey(ctx, tx, next, retire, events)
	})
}

// RevokeKeys revokes the key rev.ID and, if rev.Cascade, its descendants
// (see RevokeKeys).
func (s Store) RevokeKeys(ctx context.Context, rev pihu.Revocation) ([]*pihu.Key, error) {
	return write(ctx, s, "revoke key "+rev.ID, rev.ID, func(ctx context.Context, tx Tx) ([]*pihu.Key, error) {
		return RevokeKeys(ctx, tx, rev)
	})
}

// EmitWebhookEvent stores ev with its deliveries (see EmitWebhookEvent).
func (s Store) EmitWebhookEvent(ctx context.Context, ev *pihu.WebhookEvent, dedupe string) (bool, error) {
	return write(ctx, s, "webhook event "+ev.ID, "", func(ctx context.Context, tx Tx) (bool, error) {
		return EmitWebhookEvent(ctx, tx, ev, dedupe)
	})
}

// ListKeys returns a page of the account's unrevoked keys (or, with
// f.Revoked, revoked ones), newest first, and whether more follow, kept by
// every filter of f (see keyFilters). A Limit out of 1 to 100 means 10 if
// below, 100 if above. Returns EParameterInvalid on a filter f.Validate
// refuses, on "starting_after" or "ending_before" if that id is not one of
// the account's keys (a revoked one, or one the filters leave out, is a
// valid cursor), or on "ending_before" if both are given.
//
// Keys are ordered by insertion sequence, not by creation time, so that
// keys created in the same second still page without gaps or repeats.
// Every filter is a condition of the query that pages, so that a page of
// a filtered list is full and has_more exact.
func (s Store) ListKeys(ctx context.Context, f pihu.KeyFilter) ([]*pihu.Key, bool, error) {
	if err := f.Validate(); err != nil {
		return nil, false, err
	}
	revoked := "revoked IS NULL"
	if f.Revoked {
		revoked = "revoked IS NOT NULL"
	}
	q := AccountPage("api_keys", s.Dialect.Keys.Columns, f.AccountID, f.Environment, revoked,
		pihu.Page{Limit: f.Limit, StartingAfter: f.StartingAfter, EndingBefore: f.EndingBefore},
		"this account's API keys")
	for _, c := range keyFilters(s.Dialect, f) {
		q.Where += " AND " + c.where
		q.Args = append(q.Args, c.args...)
	}
	return page(ctx, s, q, s.Dialect.Keys.Scan)
}

// condition is a condition of a query's WHERE, with its arguments.
type condition struct {
	where string
	args  []any
}

// keyFilters are the conditions of the filters f sets, one a filter (a
// filter more is a line more here), ANDed by ListKeys.
func keyFilters(d *Dialect, f pihu.KeyFilter) []condition {
	var cs []condition
	add := func(set bool, where string, args ...any) {
		if set {
			cs = append(cs, condition{where, args})
		}
	}
	add(f.Enabled != nil, "enabled = ?", f.Enabled != nil && *f.Enabled)
	add(f.NamePrefix != "", "substr(name, 1, ?) = ?", utf8.RuneCountInString(f.NamePrefix), f.NamePrefix)
	add(f.Role != "", keyHoldsRole, f.Role)
	add(f.Identity != "", "identity_id = ?", f.Identity)
	add(f.RotatedFrom != "", "rotated_from = ?", f.RotatedFrom)
	granting := d.Strings(f.Permission.GrantedBy().Strings())
	add(f.Permission != "", "("+d.HoldsAny+" OR "+roleHolds(d.HoldsAny)+")", granting, granting)
	for _, name := range slices.Sorted(maps.Keys(f.Metadata)) {
		add(true, d.HasMetadata, name, f.Metadata[name])
	}
	return cs
}

// keyHoldsRole is the condition that a key (the row of api_keys) holds
// the role of an id.
const keyHoldsRole = `EXISTS (SELECT 1 FROM key_roles WHERE key_roles.key_id = api_keys.id AND key_roles.role_id = ?)`

// roleHolds is the condition that one of a key's roles (not deleted) meets
// cond, which sees the role's permissions as the column "permissions".
func roleHolds(cond string) string {
	return `EXISTS (SELECT 1 FROM key_roles JOIN roles ON roles.id = key_roles.role_id
		WHERE key_roles.key_id = api_keys.id AND roles.deleted IS NULL AND ` + cond + `)`
}

// ListAuditEvents returns a page of the account's audit events, newest
// first, and whether more follow, with the cursor rules of ListKeys. A
// filter on a target keeps any event of the list's environment a valid
// cursor: a page of one key's history continues after an event of
// another.
func (s Store) ListAuditEvents(ctx context.Context, f pihu.AuditFilter) ([]*pihu.AuditEvent, bool, error) {
	q := AccountPage("audit_events", s.Dialect.Events.Columns, f.AccountID, f.Environment, "",
		pihu.Page{Limit: f.Limit, StartingAfter: f.StartingAfter, EndingBefore: f.EndingBefore},
		"this account's audit events")
	if f.Target != "" {
		q.Where += " AND target = ?"
		q.Args = append(q.Args, f.Target)
	}
	switch {
	case f.Targets == nil:
	case len(f.Targets) == 0:
		q.Where += " AND 1 = 0"
	default:
		q.Where += " AND target IN (?" + strings.Repeat(", ?", len(f.Targets)-1) + ")"
		for _, t := range f.Targets {
			q.Args = append(q.Args, t)
		}
	}
	if len(f.Actions) > 0 {
		// A resource's actions by substr, not LIKE, whose _ is a wildcard.
		var or []string
		for _, a := range f.Actions {
			if prefix, ok := strings.CutSuffix(a, "*"); ok {
				or = append(or, "substr(action, 1, ?) = ?")
				q.Args = append(q.Args, len(prefix), prefix)
			} else {
				or = append(or, "action = ?")
				q.Args = append(q.Args, a)
			}
		}
		q.Where += " AND (" + strings.Join(or, " OR ") + ")"
	}
	if f.Actor != "" {
		q.Where += " AND actor = ?"
		q.Args = append(q.Args, f.Actor)
	}
	if !f.Since.IsZero() {
		q.Where += " AND created >= ?"
		q.Args = append(q.Args, s.Dialect.Time(f.Since))
	}
	if !f.Until.IsZero() {
		q.Where += " AND created < ?"
		q.Args = append(q.Args, s.Dialect.Time(f.Until))
	}
	return page(ctx, s, q, s.Dialect.Events.Scan)
}

// Candidate returns the candidate id in scope s. Returns
// pihu.CandidateNotFound if it does not exist, was deleted, or is outside
// s.
func (s Store) Candidate(ctx context.Context, sc pihu.Scope, id string) (*pihu.Candidate, error) {
	c := Candidates
	return one(ctx, s, "candidate "+id, c.Scan, pihu.CandidateNotFound(id), `SELECT `+c.Columns+` FROM candidates
		WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`, id, sc.AccountID, string(sc.Environment))
}

// ListCandidates returns a page of the candidates in scope sc, newest
// first, and whether more follow. Returns EParameterInvalid on
// "starting_after" if that id was never a candidate in sc; a deleted
// candidate's id is a valid cursor.
func (s Store) ListCandidates(ctx context.Context, sc pihu.Scope, p pihu.Page) ([]*pihu.Candidate, bool, error) {
	return page(ctx, s, ScopedPage("candidates", Candidates.Columns, sc, p), Candidates.Scan)
}

// Interview returns the interview id in scope sc. Returns
// pihu.InterviewNotFound if it does not exist, was deleted, or is outside
// sc.
func (s Store) Interview(ctx context.Context, sc pihu.Scope, id string) (*pihu.Interview, error) {
	c := Interviews
	return one(ctx, s, "interview "+id, c.Scan, pihu.InterviewNotFound(id), `SELECT `+c.Columns+` FROM interviews
		WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`, id, sc.AccountID, string(sc.Environment))
}

// ListInterviews returns a page of the interviews in scope sc, as
// ListCandidates does.
func (s Store) ListInterviews(ctx context.Context, sc pihu.Scope, p pihu.Page) ([]*pihu.Interview, bool, error) {
	return page(ctx, s, ScopedPage("interviews", Interviews.Columns, sc, p), Interviews.Scan)
}

// WebhookEndpoint returns the endpoint id in scope sc. Returns
// pihu.WebhookEndpointNotFound if it does not exist, was deleted, or is
// outside sc.
func (s Store) WebhookEndpoint(ctx context.Context, sc pihu.Scope, id string) (*pihu.WebhookEndpoint, error) {
	c := s.Dialect.Endpoints
	return one(ctx, s, "webhook endpoint "+id, c.Scan, pihu.WebhookEndpointNotFound(id), `SELECT `+c.Columns+` FROM webhook_endpoints
		WHERE id = ? AND account_id = ? AND environment = ? AND deleted IS NULL`, id, sc.AccountID, string(sc.Environment))
}

// ListWebhookEndpoints returns a page of the endpoints in scope sc, newest
// first, and whether more follow.
func (s Store) ListWebhookEndpoints(ctx context.Context, sc pihu.Scope, p pihu.Page) ([]*pihu.WebhookEndpoint, bool, error) {
	q := ScopedPage("webhook_endpoints", s.Dialect.Endpoints.Columns, sc, p)
	q.Items = "this list's webhook endpoints"
	return page(ctx, s, q, s.Dialect.Endpoints.Scan)
}

// ListDeliveries returns a page of the deliveries to endpoint endpointID
// in scope sc, newest first, and whether more follow. Returns
// pihu.WebhookEndpointNotFound if the endpoint is not in sc.
func (s Store) ListDeliveries(ctx context.Context, sc pihu.Scope, endpointID string, p pihu.Page) ([]*pihu.Delivery, bool, error) {
	if _, err := s.WebhookEndpoint(ctx, sc, endpointID); err != nil {
		return nil, false, err
	}
	return page(ctx, s, PageQuery{
		Table: "webhook_deliveries", Columns: Deliveries.Columns,
		Where: "endpoint_id = ?", Args: []any{endpointID},
		Limit: p.Limit, StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore,
		CursorWhere: "endpoint_id = ?", CursorArgs: []any{endpointID},
		Items: "this endpoint's deliveries",
	}, Deliveries.Scan)
}
