package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/postgres"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
	"github.com/pihu-ai/pihu/storetest"
)

func mustOpen(tb testing.TB, databaseURL string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(tb.Context(), databaseURL)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return db
}

func TestStore(t *testing.T) {
	postgrestest.URL(t)
	storetest.Run(t, func(t *testing.T) pihu.Store {
		return mustOpen(t, postgrestest.NewSchema(t))
	})
}

// migrations returns the versions recorded in schema_migrations, in order.
func migrations(tb testing.TB, databaseURL string) []int {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(tb.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		tb.Fatal(err)
	}
	var versions []int
	for rows.Next() {
		var (
			v  int
			at time.Time
		)
		if err := rows.Scan(&v, &at); err != nil {
			tb.Fatal(err)
		}
		if at.IsZero() {
			tb.Errorf("migration %d: applied_at: got %v, want a time", v, at)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return versions
}

func TestMigrate(t *testing.T) {
	u := postgrestest.NewSchema(t)
	db := mustOpen(t, u)
	applied := migrations(t, u)
	if len(applied) == 0 || applied[0] != 1 {
		t.Fatalf("versions after Open: got %v, want [1 …]", applied)
	}
	createAccount(t, db, "Acme")

	// Applying the migrations again, from the same DB or a new one,
	// changes neither the record nor the data.
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	db.Close()
	db = mustOpen(t, u)
	defer db.Close()
	if got := migrations(t, u); fmt.Sprint(got) != fmt.Sprint(applied) {
		t.Errorf("versions after migrating again: got %v, want %v", got, applied)
	}
	if n, err := db.CountAccounts(t.Context()); err != nil || n != 1 {
		t.Errorf("CountAccounts: got %v (%v), want %v", n, err, 1)
	}
}

// TestMigrate_Concurrent starts several stores at once on one empty
// schema, each with its own pool, as instances starting together do:
// every one must open, and each migration must be recorded once.
func TestMigrate_Concurrent(t *testing.T) {
	const instances = 4
	for round := range 3 {
		u := postgrestest.NewSchema(t)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			dbs   = make([]*postgres.DB, instances)
		)
		for i := range instances {
			wg.Go(func() {
				<-start
				db, err := postgres.Open(t.Context(), u)
				if err != nil {
					t.Errorf("round %d: Open: %v", round, err)
					return
				}
				dbs[i] = db
			})
		}
		close(start)
		wg.Wait()
		for _, db := range dbs {
			if db != nil {
				db.Close()
			}
		}
		if got := migrations(t, u); len(got) == 0 || got[0] != 1 || len(got) != countMigrations(t) {
			t.Errorf("round %d: versions: got %v, want each once", round, got)
		}
	}
}

// countMigrations is the number of migration files shipped.
func countMigrations(tb testing.TB) int {
	tb.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		tb.Fatal(err)
	}
	return len(entries)
}

// TestCreateFirstAccount_TwoPools simulates two `pihu serve` processes
// starting at once on one empty database: each pool is a process with its
// own connections, and exactly one of all the first starts may create an
// account, round after round.
func TestCreateFirstAccount_TwoPools(t *testing.T) {
	const rounds, each = 3, 4
	for round := range rounds {
		u := postgrestest.NewSchema(t)
		dbs := []*postgres.DB{mustOpen(t, u), mustOpen(t, u)}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			wins  int
			start = make(chan struct{})
		)
		for _, db := range dbs {
			for range each {
				wg.Go(func() {
					a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Default"}
					owner, _, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					<-start
					created, err := db.CreateFirstAccount(t.Context(), a, owner)
					if err != nil {
						t.Errorf("CreateFirstAccount: %v", err)
					}
					if created {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				})
			}
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Errorf("round %d: CreateFirstAccount created %d accounts, want 1", round, wins)
		}
		for _, db := range dbs {
			if n, err := db.CountAccounts(t.Context()); err != nil || n != 1 {
				t.Errorf("round %d: CountAccounts: got %v (%v), want 1", round, n, err)
			}
			db.Close()
		}
	}
}

func TestIsURL(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"postgres://localhost/pihu", true},
		{"postgresql://u:p@db:5432/pihu?sslmode=require", true},
		{"POSTGRES://localhost/pihu", true},
		{"sqlite:pihu.db", false},
		{"postgres:pihu", false},
		{"", false},
	} {
		if got := postgres.IsURL(tt.url); got != tt.ok {
			t.Errorf("IsURL(%q): got %v, want %v", tt.url, got, tt.ok)
		}
	}
}

// TestOpen_BadURL checks that a URL that does not parse is refused without
// the password it holds in the message.
func TestOpen_BadURL(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://pihu:s3cret-pw@db.internal:port/pihu")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open: got %v, want an error without the password", err)
	}
}

// TestOpen_NoSchema checks that a search_path naming no schema that
// exists is refused with a message that says so.
func TestOpen_NoSchema(t *testing.T) {
	u := postgrestest.WithParam(t, postgrestest.URL(t), "search_path", "pihu_no_such_schema")
	_, err := postgres.Open(t.Context(), u)
	if err == nil || !strings.Contains(err.Error(), "search_path") {
		t.Errorf("Open: got %v, want an error about the search_path", err)
	}
}

func createAccount(tb testing.TB, db *postgres.DB, name string) *pihu.Account {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: name}
	owner, _, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
	if err != nil {
		tb.Fatalf("NewKey: %v", err)
	}
	if err := db.CreateAccount(tb.Context(), a, owner); err != nil {
		tb.Fatalf("CreateAccount: %v", err)
	}
	return a
}

// TestUnavailable makes the database unreachable under a running store,
// then brings it back: calls fail fast with pihu.EUnavailable (a 503 in the
// API) whether the database refuses connections or stops answering, and
// work again once it is back, without a new store.
func TestUnavailable(t *testing.T) {
	proxy, u := postgrestest.NewProxy(t, postgrestest.NewSchema(t))
	db := mustOpen(t, postgrestest.WithParam(t, u, "connect_timeout", "1"))
	defer db.Close()
	db.CallTimeout = 2 * time.Second
	a := createAccount(t, db, "Acme")

	check := func(name string, within time.Duration) {
		t.Helper()
		start := time.Now()
		_, err := db.Account(t.Context(), a.ID)
		if took := time.Since(start); took > within {
			t.Errorf("%s: the call took %v, want at most %v", name, took, within)
		}
		if code := pihu.ErrorCode(err); code != pihu.EUnavailable {
			t.Errorf("%s: got %v (%s), want %s", name, err, code, pihu.EUnavailable)
		}
		if err := db.Ping(t.Context()); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("%s: Ping: got %v, want %s", name, err, pihu.EUnavailable)
		}
		if _, err := db.CreateFirstAccount(t.Context(), &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "X"}, newOwner(t)); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("%s: CreateFirstAccount: got %v, want %s", name, err, pihu.EUnavailable)
		}
	}
	proxy.Stop()
	check("Refused", time.Second)

	proxy.Start(t)
	if _, err := db.Account(t.Context(), a.ID); err != nil {
		t.Fatalf("Account after the database came back: %v", err)
	}
	proxy.Hang()
	check("Silent", 3*time.Second)

	proxy.Start(t)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := db.Account(t.Context(), a.ID)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Account after the database came back: %v", err)
		}
	}
}

func newOwner(tb testing.TB) *pihu.Key {
	tb.Helper()
	k, _, err := pihu.NewKey("", pihu.OwnerKeyRequest(), nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// TestInstances runs the rules of several instances on one database: two
// pools on one schema.
func TestInstances(t *testing.T) {
	postgrestest.URL(t)
	storetest.RunInstances(t, func(t *testing.T) (pihu.Store, pihu.Store) {
		u := postgrestest.NewSchema(t)
		return mustOpen(t, u), mustOpen(t, u)
	})
}

// TestMigrate_Memberships: a database of before memberships (a user in one
// account, an unused invite holding its email) migrates to people with
// memberships and invites that reserve nothing.
func TestMigrate_Memberships(t *testing.T) {
	u := postgrestest.NewSchema(t)
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(t.Context(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var version int
		fmt.Sscanf(filepath.Base(f), "%d_", &version)
		if version >= 5 {
			break
		}
		script, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(script))
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, version)
	}
	d := storetest.NewTeamsUpgrade()
	at, expires := d.At, d.At.Add(24*time.Hour)
	exec(`INSERT INTO accounts (id, name, created) VALUES ($1, 'Acme', $2), ($3, 'Default', $2)`, d.Account, at, d.SetupAccount)
	insertUser := `INSERT INTO users (id, account_id, email, password_hash, role, created, password_changed) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	exec(insertUser, d.Owner, d.Account, "ada@example.com", "$argon2id$ada", "owner", at, at)
	exec(insertUser, d.Member, d.Account, "carol@example.com", "$argon2id$carol", "viewer", at, at)
	exec(insertUser, d.Invited, d.Account, "bob@example.com", "", "admin", at, nil)
	exec(insertUser, d.SetupUser, d.SetupAccount, nil, "", "owner", at, nil)
	insertLink := `INSERT INTO links (digest, user_id, account_id, purpose, created, expires, used) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	exec(insertLink, storetest.Digest(pihu.NewID("token_")), d.Member, d.Account, "invite", at, expires, at)
	exec(insertLink, storetest.Digest(d.InviteToken), d.Invited, d.Account, "invite", at, expires, nil)
	exec(insertLink, storetest.Digest(d.SetupToken), d.SetupUser, d.SetupAccount, "setup", at, expires, nil)

	db := mustOpen(t, u)
	defer db.Close()
	if got := migrations(t, u); len(got) == 0 || got[len(got)-1] < 5 {
		t.Fatalf("versions after Open: got %v, want up to 5 at least", got)
	}
	storetest.CheckTeamsUpgrade(t, db, d)
}
