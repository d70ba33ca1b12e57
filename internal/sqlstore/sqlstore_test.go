package sqlstore

import (
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`WHERE id = ? AND account_id = ?`, `WHERE id = $1 AND account_id = $2`},
		{`SET a = '?', b = ? WHERE "c?" = ?`, `SET a = '?', b = $1 WHERE "c?" = $2`},
		{`VALUES (?, 'it''s ?', ?)`, `VALUES ($1, 'it''s ?', $2)`},
	} {
		if got := Rebind(tt.in); got != tt.want {
			t.Errorf("Rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Rebind(tt.in); got != tt.want { // from the cache
			t.Errorf("Rebind(%q) again = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPageLimit(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{-1, 10}, {0, 10}, {1, 1}, {100, 100}, {101, 100}} {
		if got := pageLimit(tt.in); got != tt.want {
			t.Errorf("pageLimit(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestTimeValue_Scan(t *testing.T) {
	at := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		src  any
		want *time.Time
	}{
		{nil, nil},
		{at.Unix(), &at},
		{at.In(time.FixedZone("x", 3600)), &at},
	} {
		var v TimeValue
		if err := v.Scan(tt.src); err != nil {
			t.Fatalf("Scan(%v): %v", tt.src, err)
		}
		if (v.T == nil) != (tt.want == nil) || v.T != nil && (!v.T.Equal(*tt.want) || v.T.Location() != time.UTC) {
			t.Errorf("Scan(%v) = %v, want %v in UTC", tt.src, v.T, tt.want)
		}
	}
	var v TimeValue
	if err := v.Scan("2024"); err == nil {
		t.Error(`Scan("2024") = nil, want an error`)
	}
}
