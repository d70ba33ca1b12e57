package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pihu-ai/pihu"
)

var _ pihu.PrimaryStore = (*DB)(nil)

// primaryQuery reads the identity of the server: see Primary.
const primaryQuery = `SELECT s.system_identifier,
		GREATEST(c.timeline_id, CASE WHEN pg_is_in_recovery() THEN 0
			ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint END),
		pg_is_in_recovery()
	FROM pg_control_system() s, pg_control_checkpoint() c`

// checkPrimary returns the ValidateConnect of a pool whose new
// connections, once validated by next (target_session_attrs, if any), are
// refused unless check admits their server.
func checkPrimary(next pgconn.ValidateConnectFunc, check func(context.Context, pihu.Primary) error) pgconn.ValidateConnectFunc {
	return func(ctx context.Context, conn *pgconn.PgConn) error {
		if next != nil {
			if err := next(ctx, conn); err != nil {
				return err
			}
		}
		res, err := conn.Exec(ctx, primaryQuery).ReadAll()
		if err == nil && len(res) == 1 && res[0].Err == nil && len(res[0].Rows) == 1 && len(res[0].Rows[0]) == 3 {
			row := res[0].Rows[0]
			var p pihu.Primary
			p.SystemID, err = strconv.ParseInt(string(row[0]), 10, 64)
			if err == nil {
				p.Timeline, err = strconv.ParseInt(string(row[1]), 10, 64)
			}
			p.Standby = string(row[2]) == "t"
			if err == nil {
				return check(ctx, p)
			}
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) || (err == nil && len(res) == 1 && res[0].Err != nil) {
			// Not allowed to read it (a managed server's restricted
			// role): the check is off for this server; the store's
			// guard says so in its log.
			return nil
		}
		return err
	}
}

// Primary returns the identity of the server one of the pool's connections
// is on: the cluster's system identifier, its timeline, and whether it is
// a standby. The timeline is the later of the last checkpoint's
// (pg_control_checkpoint()) and, on a primary, the one it writes its WAL
// on (in the name of the current WAL file): a replica just promoted writes
// on its new timeline at once, while pg_control records it only at the
// checkpoint that follows. Returns EUnavailable if the database cannot be
// reached.
func (db *DB) Primary(ctx context.Context) (pihu.Primary, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	var p pihu.Primary
	err := db.pool.QueryRow(ctx, primaryQuery).Scan(&p.SystemID, &p.Timeline, &p.Standby)
	if err != nil {
		return pihu.Primary{}, wrap("read the primary's identity", err)
	}
	return p, nil
}

// RecordPrimary records p in the table fleet_primary, unless it holds the
// same system on a later timeline already, and returns what it held
// before, if of the same system (a record of another system is a copy's,
// restored from a dump of another cluster, and is replaced).
func (db *DB) RecordPrimary(ctx context.Context, p pihu.Primary) (pihu.Primary, error) {
	var prev pihu.Primary
	err := db.inTx(ctx, "record the primary", func(ctx context.Context, tx pgx.Tx) error {
		prev = pihu.Primary{}
		var rec pihu.Primary
		err := tx.QueryRow(ctx, `SELECT system_identifier, timeline FROM fleet_primary FOR UPDATE`).Scan(&rec.SystemID, &rec.Timeline)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case rec.SystemID == p.SystemID:
			prev = rec
			if rec.Timeline >= p.Timeline {
				return nil // nothing to raise: no write
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO fleet_primary (id, system_identifier, timeline, recorded_at) VALUES (true, $1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET system_identifier = excluded.system_identifier, timeline = excluded.timeline,
				recorded_at = excluded.recorded_at
			WHERE fleet_primary.system_identifier <> excluded.system_identifier OR fleet_primary.timeline < excluded.timeline`, p.SystemID, p.Timeline, ts(db.Now()))
		return err
	})
	return prev, err
}
