package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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

// cursor returns the seq of row id of table in scope s, deleted or not, for
// a page's starting_after. An id that was never a row of s is
// EParameterInvalid on "starting_after", naming the list by noun.
func (db *DB) cursor(ctx context.Context, table, noun string, s pihu.Scope, id string) (int64, error) {
	var seq int64
	err := db.db.QueryRowContext(ctx, `SELECT seq FROM `+table+` WHERE id = ? AND account_id = ? AND environment = ?`,
		id, s.AccountID, string(s.Environment)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, pihu.ParamErrorf(pihu.EParameterInvalid, "starting_after",
			"%q is not the id of one of this list's %s; give the id of the last item of the previous page.", pihu.MaskSecrets(id), noun)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s cursor %s: %w", table, id, err)
	}
	return seq, nil
}
