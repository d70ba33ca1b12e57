package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/pihu-ai/pihu"
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

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// pageQuery is one page of a list, newest first by seq: the rows of table
// matching where (with args), after the row whose id is startingAfter or
// before the one whose id is endingBefore.
type pageQuery struct {
	table, columns string
	where          string
	args           []any
	limit          int
	// startingAfter or endingBefore (not both), if set, must be the id of
	// a row matching cursorWhere (with cursorArgs), deleted or not, else
	// the page is EParameterInvalid on "starting_after" or
	// "ending_before", with a message naming items, the list's items
	// ("this account's API keys").
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
func listPage[T any](ctx context.Context, db *DB, q pageQuery, scan func(rowScanner) (T, error)) ([]T, bool, error) {
	limit := pageLimit(q.limit)
	query := `SELECT ` + q.columns + ` FROM ` + q.table + ` WHERE ` + q.where
	args := q.args
	if q.startingAfter != "" && q.endingBefore != "" {
		return nil, false, pihu.ErrBothCursors
	}
	order := ` ORDER BY seq DESC LIMIT ?`
	for _, c := range []struct{ param, id, op, which, page string }{
		{"starting_after", q.startingAfter, "<", "last", "previous"},
		{"ending_before", q.endingBefore, ">", "first", "next"},
	} {
		if c.id == "" {
			continue
		}
		var seq int64
		err := db.db.QueryRowContext(ctx, `SELECT seq FROM `+q.table+` WHERE id = ? AND `+q.cursorWhere,
			append([]any{c.id}, q.cursorArgs...)...).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, pihu.UnknownCursor(c.param, c.id, q.items)
		}
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: %s cursor: %w", q.table, err)
		}
		query += ` AND seq ` + c.op + ` ?`
		args = append(args[:len(args):len(args)], seq)
		if c.op == ">" {
			order = ` ORDER BY seq ASC LIMIT ?`
		}
	}
	query += order
	args = append(args[:len(args):len(args)], limit+1)

	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: list %s: %w", q.table, err)
	}
	defer rows.Close()
	out := make([]T, 0, limit+1)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: list %s: %w", q.table, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sqlite: list %s: %w", q.table, err)
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
	scope := "account_id = ? AND environment = ?"
	args := []any{s.AccountID, string(s.Environment)}
	return pageQuery{
		table: table, columns: columns,
		where: scope + " AND deleted IS NULL", args: args,
		limit: p.Limit, startingAfter: p.StartingAfter, endingBefore: p.EndingBefore,
		cursorWhere: scope, cursorArgs: args,
		items: "this list's " + table,
	}
}
