package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

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

// PageQuery is one page of a list, newest first by seq: the rows of Table
// matching Where (with Args), after the row whose id is StartingAfter or
// before the one whose id is EndingBefore.
type PageQuery struct {
	Table, Columns string
	Where          string
	Args           []any
	Limit          int
	// StartingAfter or EndingBefore (not both), if set, must be the id of
	// a row matching CursorWhere (with CursorArgs), deleted or not, else
	// the page is pihu.UnknownCursor, naming Items, the list's items
	// ("this account's API keys").
	StartingAfter string
	EndingBefore  string
	CursorWhere   string
	CursorArgs    []any
	Items         string
}

// ListPage runs q and reads its rows with scan. It fetches one row more
// than the page holds to tell whether more follow: older ones, or with
// EndingBefore newer ones, whose page is read oldest first and turned
// round.
func ListPage[T any](ctx context.Context, c Conn, q PageQuery, scan func(Row) (T, error)) ([]T, bool, error) {
	if q.StartingAfter != "" && q.EndingBefore != "" {
		return nil, false, pihu.ErrBothCursors
	}
	limit := pageLimit(q.Limit)
	query := `SELECT ` + q.Columns + ` FROM ` + q.Table + ` WHERE ` + q.Where
	args := slices.Clip(q.Args)
	order := ` ORDER BY seq DESC LIMIT ?`
	for _, cur := range []struct{ param, id, op string }{
		{"starting_after", q.StartingAfter, "<"},
		{"ending_before", q.EndingBefore, ">"},
	} {
		if cur.id == "" {
			continue
		}
		var seq int64
		err := c.QueryRow(ctx, `SELECT seq FROM `+q.Table+` WHERE id = ? AND `+q.CursorWhere,
			append([]any{cur.id}, q.CursorArgs...)...).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, pihu.UnknownCursor(cur.param, cur.id, q.Items)
		}
		if err != nil {
			return nil, false, fmt.Errorf("%s cursor: %w", q.Table, err)
		}
		query += ` AND seq ` + cur.op + ` ?`
		args = append(args, seq)
		if cur.op == ">" {
			order = ` ORDER BY seq ASC LIMIT ?`
		}
	}
	rows, err := c.Query(ctx, query+order, append(args, limit+1)...)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", q.Table, err)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", q.Table, err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	if q.EndingBefore != "" {
		slices.Reverse(out)
	}
	return out, more, nil
}

// ScopedPage is the page query of a resource table in scope s: its live
// (undeleted) rows, with any row of s, deleted or not, as a cursor.
func ScopedPage(table, columns string, s pihu.Scope, p pihu.Page) PageQuery {
	scope := "account_id = ? AND environment = ?"
	args := []any{s.AccountID, string(s.Environment)}
	return PageQuery{
		Table: table, Columns: columns,
		Where: scope + " AND deleted IS NULL", Args: args,
		Limit: p.Limit, StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore,
		CursorWhere: scope, CursorArgs: args,
		Items: "this list's " + table,
	}
}

// AccountPage is the page query of an account's rows of table (keys or
// events), of one environment if env is set, with where added to the rows
// listed (not to the cursor).
func AccountPage(table, columns, accountID string, env pihu.Environment, where string, p pihu.Page, items string) PageQuery {
	q := PageQuery{
		Table: table, Columns: columns,
		Where: "account_id = ?", Args: []any{accountID},
		Limit: p.Limit, StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore,
		CursorWhere: "account_id = ?", CursorArgs: []any{accountID},
		Items: items,
	}
	if env != "" {
		// A cursor of the other environment is as unknown as one that
		// never existed: a test key learns nothing about live ones.
		q.Where += " AND environment = ?"
		q.Args = append(q.Args, string(env))
		q.CursorWhere += " AND environment = ?"
		q.CursorArgs = append(q.CursorArgs, string(env))
	}
	if where != "" {
		q.Where += " AND " + where
	}
	return q
}

// DeliveriesPage is the page query of the deliveries to endpoint
// endpointID.
func DeliveriesPage(columns, endpointID string, p pihu.Page) PageQuery {
	return PageQuery{
		Table: "webhook_deliveries", Columns: columns,
		Where: "endpoint_id = ?", Args: []any{endpointID},
		Limit: p.Limit, StartingAfter: p.StartingAfter, EndingBefore: p.EndingBefore,
		CursorWhere: "endpoint_id = ?", CursorArgs: []any{endpointID},
		Items: "this endpoint's deliveries",
	}
}
