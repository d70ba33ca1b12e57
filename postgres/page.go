package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
)

// Page sizes when a list's Limit is out of range.
const (
	defaultLimit = 10
	maxLimit     = 100
)

// pageLimit is the page size a list asks for: 10 below 1, 100 above 100,
// as for keys.
func pageLimit(n int) int {
	switch {
	case n < 1:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// pageQuery is one page of a list, newest first by seq: the rows of table
// matching where (with args, numbered $1 …), after the row whose id is
// startingAfter or before the one whose id is endingBefore.
type pageQuery struct {
	table, columns string
	where          string
	args           []any
	limit          int
	// startingAfter or endingBefore (not both), if set, must be the id of
	// a row matching cursorWhere (with cursorArgs, numbered from $2: $1 is
	// the id), deleted or not, else the page is EParameterInvalid on
	// "starting_after" or "ending_before", with a message naming items,
	// the list's items ("this account's API keys").
	startingAfter string
	endingBefore  string
	cursorWhere   string
	cursorArgs    []any
	items         string
}

// listPage runs q and reads its rows with scan. It fetches one row more
// than the page holds to tell whether more follow: older ones, or with
// endingBefore newer ones, whose page is read oldest first and turned
// round.
func listPage[T any](ctx context.Context, db *DB, q pageQuery, scan func(pgx.Row) (T, error)) ([]T, bool, error) {
	ctx, cancel := withTimeout(ctx, db.CallTimeout)
	defer cancel()
	limit := pageLimit(q.limit)
	query := `SELECT ` + q.columns + ` FROM ` + q.table + ` WHERE ` + q.where
	args := q.args
	if q.startingAfter != "" && q.endingBefore != "" {
		return nil, false, pihu.ErrBothCursors
	}
	order := ` ORDER BY seq DESC LIMIT $`
	for _, c := range []struct{ param, id, op, which, page string }{
		{"starting_after", q.startingAfter, "<", "last", "previous"},
		{"ending_before", q.endingBefore, ">", "first", "next"},
	} {
		if c.id == "" {
			continue
		}
		var seq int64
		err := db.pool.QueryRow(ctx, `SELECT seq FROM `+q.table+` WHERE id = $1 AND `+q.cursorWhere,
			append([]any{c.id}, q.cursorArgs...)...).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, pihu.UnknownCursor(c.param, c.id, q.items)
		}
		if err != nil {
			return nil, false, wrap(q.table+" cursor", err)
		}
		args = append(args[:len(args):len(args)], seq)
		query += ` AND seq ` + c.op + ` $` + strconv.Itoa(len(args))
		if c.op == ">" {
			order = ` ORDER BY seq ASC LIMIT $`
		}
	}
	args = append(args[:len(args):len(args)], limit+1)
	query += order + strconv.Itoa(len(args))

	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, false, wrap("list "+q.table, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, false, wrap("list "+q.table, err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	if q.endingBefore != "" {
		slices.Reverse(out)
	}
	return out, more, nil
}

// scopedPage is the page query of a resource table in scope s: its live
// (undeleted) rows, with any row of s, deleted or not, as a cursor.
func scopedPage(table, columns string, s pihu.Scope, p pihu.Page) pageQuery {
	args := []any{s.AccountID, string(s.Environment)}
	return pageQuery{
		table: table, columns: columns,
		where: "account_id = $1 AND environment = $2 AND deleted IS NULL", args: args,
		limit: p.Limit, startingAfter: p.StartingAfter, endingBefore: p.EndingBefore,
		cursorWhere: "account_id = $2 AND environment = $3", cursorArgs: args,
		items: "this list's " + table,
	}
}

// accountPage is the page query of an account's rows of table (keys or
// events), of one environment if env is set, with where added to the
// rows listed (not to the cursor).
func accountPage(table, columns, accountID string, env pihu.Environment, where string, f pihu.Page, items string) pageQuery {
	q := pageQuery{
		table: table, columns: columns,
		where: "account_id = $1", args: []any{accountID},
		limit: f.Limit, startingAfter: f.StartingAfter, endingBefore: f.EndingBefore,
		cursorWhere: "account_id = $2", cursorArgs: []any{accountID},
		items: items,
	}
	if env != "" {
		// A cursor of the other environment is as unknown as one that
		// never existed: a test key learns nothing about live ones.
		q.where += " AND environment = $2"
		q.args = append(q.args, string(env))
		q.cursorWhere += " AND environment = $3"
		q.cursorArgs = append(q.cursorArgs, string(env))
	}
	if where != "" {
		q.where += " AND " + strings.TrimSpace(where)
	}
	return q
}
