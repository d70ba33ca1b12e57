// Package postgrestest gives tests a PostgreSQL database of their own: a
// fresh schema in the database that PIHU_TEST_POSTGRES_URL names, dropped
// when the test ends, so that runs never collide. Tests that need
// PostgreSQL skip, with a message, when the variable is unset.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable naming the test database.
const EnvURL = "PIHU_TEST_POSTGRES_URL"

// URL returns the test database's URL, or skips the test when EnvURL is
// unset.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		tb.Skip(EnvURL + " is unset: set it to a PostgreSQL database (such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the tests on PostgreSQL")
	}
	return u
}

// NewSchema creates a schema of a random name in the test database, drops
// it with everything in it when the test ends, and returns the database's
// URL with search_path set to it and synchronous_commit off: a commit
// returns before its WAL reaches the disk, which changes nothing a test
// of the shared server sees (durability is tried by the fault tests, on
// servers of their own) and saves a flush for each of the migrations
// every test's Open applies. It skips the test when EnvURL is unset.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	base := URL(tb)
	b := make([]byte, 8)
	rand.Read(b)
	name := "pihu_test_" + hex.EncodeToString(b)
	exec(tb, base, `CREATE SCHEMA `+name)
	tb.Cleanup(func() { exec(tb, base, `DROP SCHEMA `+name+` CASCADE`) })
	return WithParam(tb, WithParam(tb, base, "synchronous_commit", "off"), "search_path", name)
}

// WithParam returns databaseURL with the query parameter name set to value.
func WithParam(tb testing.TB, databaseURL, name, value string) string {
	tb.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		tb.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on a connection of its own.
func exec(tb testing.TB, databaseURL, sql string) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
