package main

import "testing"

// TestFleetKey: the record of the primary in Redis is one per database and
// schema, whatever hosts the URL names (a multi-host URL and a single host
// of it share one), and none for SQLite.
func TestFleetKey(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"postgres://pihu@db1:5432,db2:5432/pihu?target_session_attrs=read-write", "pihu:primary:pihu:"},
		{"postgres://pihu@db2:5432/pihu?sslmode=disable", "pihu:primary:pihu:"},
		{"postgres://pihu@db1/pihu?search_path=auth", "pihu:primary:pihu:auth"},
		{"sqlite:pihu.db", ""},
	} {
		if got := fleetKey(tc.url); got != tc.want {
			t.Errorf("fleetKey(%q): got %q, want %q", tc.url, got, tc.want)
		}
	}
}
