package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlstore"
)

// CreateKey stores k, revocation and last use included, and the audit
// events given, atomically. An id or digest already stored, or an
// unknown account, is an error (EInternal), and then nothing is stored.
//
// Keys created at the same time are committed together (group commit): a
// commit waits for the disk (fsync), and one commit for many keys lets
// concurrent clients create many more keys a second than the disk
// commits, each still on disk before its CreateKey returns. Each key is
// in a savepoint of its own, so that one that fails stores nothing and
// fails alone.
func (db *DB) CreateKey(ctx context.Context, k *pihu.Key, events ...*pihu.AuditEvent) error {
	req := &createRequest{k: k, events: events, result: make(chan error, 1)}
	req.actor, req.hasActor = pihu.ActorFromContext(ctx)
	return submit(ctx, db, &db.pending, req)
}

// groupRequest is a write waiting to be committed with others (see
// submit): run does it inside the group's transaction, and done receives
// its outcome once the group is committed.
type groupRequest interface {
	run(ctx context.Context, tx *sql.Tx) error
	// failed is the error of this request when the group's commit
	// failed with err.
	failed(err error) error
	done() chan error
}

// submit queues req on queue and waits for its outcome: either the
// writer that holds the write slot commits it with what else is waiting,
// or this goroutine takes the slot and commits everything queued, its
// own request included unless the writer before it took it.
func submit[R groupRequest](ctx context.Context, db *DB, queue *[]R, req R) error {
	db.pendingMu.Lock()
	*queue = append(*queue, req)
	db.pendingMu.Unlock()
	select {
	case err := <-req.done(): // another writer committed it
		return err
	case db.writer <- struct{}{}:
		commitGroups(context.WithoutCancel(ctx), db, queue)
		<-db.writer
		return <-req.done()
	}
}

// createRequest is a key waiting to be committed.
type createRequest struct {
	k      *pihu.Key
	events []*pihu.AuditEvent
	result chan error
	// actor is the actor of the context CreateKey was called with, if
	// hasActor: the group's transaction runs with another request's
	// context, so each request checks its own.
	actor    pihu.Actor
	hasActor bool
}

// checkOwnActor checks, inside the group's transaction, the actor of a
// request of a group (see pihu.Actor), if it has one.
func checkOwnActor(ctx context.Context, t sqlstore.Tx, a pihu.Actor, has bool) error {
	if !has {
		return nil
	}
	return sqlstore.CheckActor(ctx, t, dialect, a, "")
}

// maxGroup is the most requests (key creations, or spends of credits)
// committed in one transaction.
const maxGroup = 256

// commitGroups commits the requests queued, in transactions of at most
// maxGroup, and hands each its outcome. The caller holds the write slot
// (db.writer).
func commitGroups[R groupRequest](ctx context.Context, db *DB, queue *[]R) {
	for {
		db.pendingMu.Lock()
		group := (*queue)[:min(len(*queue), maxGroup)]
		*queue = (*queue)[len(group):]
		if len(*queue) == 0 {
			*queue = nil
		}
		db.pendingMu.Unlock()
		if len(group) == 0 {
			return
		}
		db.groups++
		errs := make([]error, len(group))
		err := func() error {
			tx, err := db.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			for i, req := range group {
				errs[i] = req.run(ctx, tx)
			}
			return tx.Commit()
		}()
		for i, req := range group {
			if errs[i] == nil && err != nil {
				errs[i] = req.failed(err)
			}
			req.done() <- errs[i]
		}
	}
}

func (req *createRequest) run(ctx context.Context, tx *sql.Tx) error {
	return createInSavepoint(ctx, tx, newTxn(tx), req)
}

func (req *createRequest) failed(err error) error {
	return fmt.Errorf("sqlite: create key %s: %w", req.k.ID, err)
}

func (req *createRequest) done() chan error { return req.result }

// createInSavepoint stores one key and its events inside the group's
// transaction, or nothing if any of it fails.
func createInSavepoint(ctx context.Context, tx *sql.Tx, t sqlstore.Tx, req *createRequest) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT create_key`); err != nil {
		return fmt.Errorf("sqlite: create key %s: %w", req.k.ID, err)
	}
	err := checkOwnActor(ctx, t, req.actor, req.hasActor)
	if err == nil {
		err = sqlstore.CreateKey(ctx, t, req.k, req.events)
		if _, ok := err.(*pihu.Error); err != nil && !ok {
			err = fmt.Errorf("sqlite: %w", err) // InsertKey names the key
		}
	}
	if err != nil {
		tx.ExecContext(ctx, `ROLLBACK TO create_key`)
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE create_key`); rerr != nil && err == nil {
		err = fmt.Errorf("sqlite: create key %s: %w", req.k.ID, rerr)
	}
	return err
}

// scanKey reads one row of sqlstore.KeyReadColumns.
func scanKey(row rowScanner) (*pihu.Key, error) {
	var (
		k                          pihu.Key
		perms                      string
		created                    int64
		expires, lastUsed, revoked sql.Null[int64]
		rotatedFrom, allowed       sql.Null[string]
		createdBy, metadata        sql.Null[string]
		rateLimit                  string
		allowedIPs                 []string
		leaked, roles              sql.Null[string]
		identity, idExt            sql.Null[string]
		idMeta, idLimit, idNamed   sql.Null[string]
		idRemaining                sql.Null[int64]
		named                      string
		c                          credits
		enabled                    bool
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.Name, &k.Environment, &perms, &k.Digest, &k.Hint,
		&created, &expires, &lastUsed, &revoked, &rotatedFrom, &rateLimit, &allowed, &createdBy,
		&metadata, &c.remaining, &c.interval, &c.amount, &c.day, &c.refilled, &k.Imported, &leaked, &enabled, &identity, &named, &roles,
		&idExt, &idMeta, &idLimit, &idNamed, &idRemaining); err != nil {
		return nil, err
	}
	k.Disabled = !enabled
	if err := sqlstore.KeyJSON(&k, nullPtr(&metadata), nullPtr(&leaked)); err != nil {
		return nil, err
	}
	k.Credits = c.credits()
	if err := json.Unmarshal([]byte(perms), &k.Permissions); err != nil {
		return nil, fmt.Errorf("permissions of key %s: %w", k.ID, err)
	}
	k.Created = fromUnix(created)
	k.Expires = fromNullUnix(expires)
	k.LastUsed = fromNullUnix(lastUsed)
	k.Revoked = fromNullUnix(revoked)
	k.RotatedFrom = rotatedFrom.V
	k.CreatedBy = createdBy.V
	if allowed.Valid {
		if err := json.Unmarshal([]byte(allowed.V), &allowedIPs); err != nil {
			return nil, fmt.Errorf("allowed_ips of key %s: %w", k.ID, err)
		}
	}
	k.SetStoredRestrictions(rateLimit, allowedIPs)
	k.RateLimits = pihu.StoredNamedLimits(named)
	k.Roles = sqlstore.SplitRoles(nullPtr(&roles))
	var remaining *int64
	if idRemaining.Valid {
		remaining = &idRemaining.V
	}
	sqlstore.KeyIdentity(&k, nullPtr(&identity), nullPtr(&idExt), nullPtr(&idMeta), nullPtr(&idLimit), nullPtr(&idNamed), remaining)
	return &k, nil
}

// KeyByDigest returns the key whose secret has the given SHA-256, revoked
// or expired keys included. Returns ENotFound if there is none.
func (db *DB) KeyByDigest(ctx context.Context, digest []byte) (*pihu.Key, error) {
	k, err := scanKey(db.keyByDigest.QueryRowContext(ctx, digest))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pihu.ErrNoKeyMatches
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: key by digest: %w", err)
	}
	return k, nil
}

// credits are the columns of a key's credits.
type credits struct {
	remaining, amount, day, refilled sql.Null[int64]
	interval                         sql.Null[string]
}

// scanCredits reads a row of sqlstore.CreditColumns.
func scanCredits(row rowScanner) (*pihu.Credits, error) {
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
	out := &pihu.Credits{Remaining: c.remaining.V, Refilled: fromUnix(c.refilled.V)}
	if c.interval.Valid {
		out.Refill = &pihu.Refill{Interval: c.interval.V, Amount: c.amount.V, Day: int(c.day.V)}
	}
	return out
}

// SpendCredits spends cost credits of key id at now, after the refill due
// by then, inside an immediate transaction: it holds the database's write
// lock from its start, so no other spend, in this process or another,
// reads the credits between this one's read and its write. A refused
// spend writes nothing. A key without credits is OK with Remaining -1.
//
// Spends are committed together as keys are (group commit, see
// CreateKey): every request made with a key that has credits spends, and
// one commit (one fsync) for all the spends waiting lets concurrent
// requests spend far more often than the disk commits. Spends of a group
// run one after the other inside its transaction, each seeing the ones
// before, so the group is as exact as spends one by one.
func (db *DB) SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error) {
	req := &spendRequest{id: id, cost: cost, now: now, result: make(chan error, 1)}
	req.actor, req.hasActor = pihu.ActorFromContext(ctx)
	err := submit(ctx, db, &db.spends, req)
	return req.out, err
}

// spendRequest is a spend waiting to be committed.
type spendRequest struct {
	id     string
	cost   int64
	now    time.Time
	out    pihu.Spend // set before result is sent
	result chan error
	// actor, if hasActor, is the actor of SpendCredits's context, as
	// createRequest's.
	actor    pihu.Actor
	hasActor bool
}

func (req *spendRequest) run(ctx context.Context, tx *sql.Tx) error {
	if req.hasActor {
		if err := checkOwnActor(ctx, newTxn(tx), req.actor, true); err != nil {
			return err
		}
	}
	var err error
	req.out, err = spend(ctx, tx, req.id, req.cost, req.now)
	return err
}

// spend is one spend of credits inside the group's transaction: what
// sqlstore.Spend does (and creditHolder what sqlstore.LockCredits does,
// with no row to lock), on the *sql.Tx itself. This is the hot path of
// SQLite's writes: through sqlstore's interfaces the arguments of each
// query escape to the heap, 9 allocations more a spend.
func spend(ctx context.Context, tx *sql.Tx, id string, cost int64, now time.Time) (pihu.Spend, error) {
	// An identity's id names the credits all its keys share.
	identity := pihu.IsIdentityID(id)
	read, write := `SELECT remaining, refill_interval, refill_amount, refill_day, refilled FROM api_keys WHERE id = ?`,
		`UPDATE api_keys SET remaining = ?, refilled = ? WHERE id = ? AND remaining = ?`
	if identity {
		read, write = `SELECT remaining, refill_interval, refill_amount, refill_day, refilled FROM identities WHERE id = ? AND deleted IS NULL`,
			`UPDATE identities SET remaining = ?, refilled = ? WHERE id = ? AND remaining = ?`
	} else {
		holder, err := creditHolder(ctx, tx, id)
		if err != nil {
			return pihu.Spend{}, fmt.Errorf("sqlite: spend credits of key %s: %w", id, err)
		}
		id = holder
	}
	var c credits
	err := tx.QueryRowContext(ctx, read, id).
		Scan(&c.remaining, &c.interval, &c.amount, &c.day, &c.refilled)
	if errors.Is(err, sql.ErrNoRows) {
		if identity {
			return pihu.Spend{}, pihu.IdentityNotFound(id)
		}
		return pihu.Spend{}, pihu.KeyIDNotFound(id)
	}
	if err != nil {
		return pihu.Spend{}, fmt.Errorf("sqlite: spend credits of key %s: %w", id, err)
	}
	cur := c.credits()
	if cur == nil {
		return pihu.Spend{OK: true, Remaining: -1}, nil
	}
	out, next := cur.Spend(cost, now)
	if !out.OK || cost == 0 && unixTime(next.Refilled) == c.refilled.V {
		return out, nil
	}
	res, err := tx.ExecContext(ctx, write,
		next.Remaining, unixTime(next.Refilled), id, c.remaining.V)
	if err != nil {
		return pihu.Spend{}, fmt.Errorf("sqlite: spend credits of key %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return pihu.Spend{}, fmt.Errorf("sqlite: credits of key %s changed during the spend", id)
	}
	return out, nil
}

// creditHolder is the key whose credits a spend of key id takes: id
// itself or, while id is in the grace period of a rotation, its successor
// (and that one's, if it was rotated in turn). A rotated key and its
// successor share one balance, so a grace period doubles no credit.
func creditHolder(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	for range pihu.MaxRotations - 1 {
		var next string
		err := tx.QueryRowContext(ctx, `SELECT id FROM api_keys WHERE rotated_from = ? ORDER BY created, id LIMIT 1`, id).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
		id = next
	}
	return id, nil
}

func (req *spendRequest) failed(err error) error {
	req.out = pihu.Spend{}
	return fmt.Errorf("sqlite: spend credits of key %s: %w", req.id, err)
}

func (req *spendRequest) done() chan error { return req.result }

// nullPtr is the string n holds, nil for NULL.
func nullPtr(n *sql.Null[string]) *string {
	if !n.Valid {
		return nil
	}
	return &n.V
}
