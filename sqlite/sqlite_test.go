package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pihu.Store {
		return mustOpen(t, sqlitetest.Path(t))
	})
}

// TestInstances runs the rules of several instances on one database: two
// handles on one file.
func TestInstances(t *testing.T) {
	storetest.RunInstances(t, func(t *testing.T) (pihu.Store, pihu.Store) {
		path := sqlitetest.Path(t)
		return mustOpen(t, path), mustOpen(t, path)
	})
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pihu.db")
	db := mustOpen(t, path)
	applied := migrations(t, path)
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
	db = mustOpen(t, path)
	defer db.Close()
	if got := migrations(t, path); fmt.Sprint(got) != fmt.Sprint(applied) {
		t.Errorf("versions after migrating again: got %v, want %v", got, applied)
	}
	if n, err := db.CountAccounts(t.Context()); err != nil || n != 1 {
		t.Errorf("CountAccounts: got %v (%v), want %v", n, err, 1)
	}
}

// TestOpen_Settings checks the connection settings that let two processes
// share the file.
func TestOpen_Settings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pihu.db")
	mustOpen(t, path).Close()
	raw := rawOpen(t, path)
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode: got %v, want %v", mode, "wal")
	}
}

// TestOpen_TwoHandles simulates `pihu serve` and `pihu accounts create`
// writing to the same file at once.
func TestOpen_TwoHandles(t *testing.T) {
	const each = 20
	path := filepath.Join(t.TempDir(), "pihu.db")
	server, cli := mustOpen(t, path), mustOpen(t, path)
	defer server.Close()
	defer cli.Close()

	var wg sync.WaitGroup
	for _, db := range []*sqlite.DB{server, cli} {
		wg.Go(func() {
			for i := range each {
				createAccount(t, db, fmt.Sprintf("Account %d", i))
			}
		})
	}
	wg.Wait()
	for _, db := range []*sqlite.DB{server, cli} {
		if n, err := db.CountAccounts(t.Context()); err != nil || n != 2*each {
			t.Errorf("CountAccounts: got %v (%v), want %v", n, err, 2*each)
		}
	}
}

// TestCreateFirstAccount_TwoHandles simulates two `pihu serve` processes
// starting at once on one empty file: each handle is a process with its own
// connections, and exactly one of all the first starts may create an
// account, round after round.
func TestCreateFirstAccount_TwoHandles(t *testing.T) {
	const rounds, each = 5, 4
	for round := range rounds {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("pihu%d.db", round))
		dbs := []*sqlite.DB{mustOpen(t, path), mustOpen(t, path)}
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

// TestOpen_OddPath checks that a path is a file name, whatever it holds.
func TestOpen_OddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a b?c=1#d%20.db")
	db := mustOpen(t, path)
	defer db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Stat: %v", err)
	}
}

// TestOpen_RelativePath checks the default database, "sqlite:pihu.db": a
// file in the working directory.
func TestOpen_RelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	db := mustOpen(t, "pihu.db")
	defer db.Close()
	if _, err := os.Stat("pihu.db"); err != nil {
		t.Errorf("Stat: %v", err)
	}
}

func TestDB_Now(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "pihu.db"))
	defer db.Close()
	now := time.Date(2024, 2, 20, 12, 0, 0, 900_000_000, time.FixedZone("CET", 3600))
	db.Now = func() time.Time { return now }
	a := createAccount(t, db, "Acme")
	if want := pihu.Timestamp(now); !a.Created.Equal(want) || a.Created.Location() != time.UTC {
		t.Errorf("Created: got %v, want %v", a.Created, want)
	}
}

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		url, path string
		ok        bool
	}{
		{"sqlite:pihu.db", "pihu.db", true},
		{"sqlite://pihu.db", "pihu.db", true},
		{"sqlite:///abs/path.db", "/abs/path.db", true},
		{"sqlite:/abs/path.db", "/abs/path.db", true},
		{"sqlite:data/pihu.db", "data/pihu.db", true},
		{"SQLite:pihu.db", "pihu.db", true},
		{"sqlite:", "", false},
		{"sqlite://", "", false},
		{"sqlite", "", false},
		{"postgres://localhost/pihu", "", false},
		{"pihu.db", "", false},
		{"", "", false},
	} {
		path, ok := sqlite.ParseURL(tt.url)
		if path != tt.path || ok != tt.ok {
			t.Errorf("ParseURL(%q): got %q, %v, want %q, %v", tt.url, path, ok, tt.path, tt.ok)
		}
	}
}

func mustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return db
}

// rawOpen opens path without the store, to look at what it wrote.
func rawOpen(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// migrations returns the versions recorded in schema_migrations, in order.
func migrations(tb testing.TB, path string) []int {
	tb.Helper()
	rows, err := rawOpen(tb, path).Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			tb.Fatal(err)
		}
		if at <= 0 {
			tb.Errorf("migration %d: applied_at: got %v, want a time", v, at)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return versions
}

func createAccount(tb testing.TB, db *sqlite.DB, name string) *pihu.Account {
	tb.Helper()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: name}
	owner, _, err := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, time.Now())
	if err != nil {
		tb.Errorf("NewKey: %v", err)
		return a
	}
	if err := db.CreateAccount(tb.Context(), a, owner); err != nil {
		tb.Errorf("CreateAccount: %v", err)
	}
	return a
}

// TestOpen_NewFileAcrossProcesses opens one new file from three processes
// at once, thirty times over: each must open it. A connection's
// journal_mode(WAL) on a file another process is switching to WAL failed at
// once with SQLITE_BUSY (about one start in 30, in pihu serve's tests)
// until Open retried it.
func TestOpen_NewFileAcrossProcesses(t *testing.T) {
	if path := os.Getenv("PIHU_TEST_SQLITE_OPEN"); path != "" {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		return
	}
	for round := range 30 {
		path := filepath.Join(t.TempDir(), "pihu.db")
		cmds := make([]*exec.Cmd, 3)
		outs := make([]bytes.Buffer, 3)
		for i := range cmds {
			cmds[i] = exec.Command(os.Args[0], "-test.run=^TestOpen_NewFileAcrossProcesses$", "-test.v")
			cmds[i].Env = append(os.Environ(), "PIHU_TEST_SQLITE_OPEN="+path)
			cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("round %d, process %d: %v\n%s", round, i, err, outs[i].String())
			}
		}
	}
}

// TestMigrate_Memberships: a database of before memberships (a user in one
// account, an unused invite holding its email) migrates to people with
// memberships and invites that reserve nothing.
func TestMigrate_Memberships(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pihu.db")
	raw := rawOpen(t, path)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var version int
		fmt.Sscanf(filepath.Base(f), "%d_", &version)
		if version >= 12 {
			break
		}
		script, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(script))
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 1)`, version)
	}
	u := storetest.NewTeamsUpgrade()
	at, expires := u.At.Unix(), u.At.Add(24*time.Hour).Unix()
	exec(`INSERT INTO accounts (id, name, created) VALUES (?, 'Acme', ?), (?, 'Default', ?)`, u.Account, at, u.SetupAccount, at)
	insertUser := `INSERT INTO users (id, account_id, email, password_hash, role, created, password_changed) VALUES (?, ?, ?, ?, ?, ?, ?)`
	exec(insertUser, u.Owner, u.Account, "ada@example.com", "$argon2id$ada", "owner", at, at)
	exec(insertUser, u.Member, u.Account, "carol@example.com", "$argon2id$carol", "viewer", at, at)
	exec(insertUser, u.Invited, u.Account, "bob@example.com", "", "admin", at, nil)
	exec(insertUser, u.SetupUser, u.SetupAccount, nil, "", "owner", at, nil)
	insertLink := `INSERT INTO links (digest, user_id, account_id, purpose, created, expires, used) VALUES (?, ?, ?, ?, ?, ?, ?)`
	exec(insertLink, storetest.Digest(pihu.NewID("token_")), u.Member, u.Account, "invite", at, expires, at)
	exec(insertLink, storetest.Digest(u.InviteToken), u.Invited, u.Account, "invite", at, expires, nil)
	exec(insertLink, storetest.Digest(u.SetupToken), u.SetupUser, u.SetupAccount, "setup", at, expires, nil)
	raw.Close()

	db := mustOpen(t, path)
	defer db.Close()
	if got := migrations(t, path); len(got) == 0 || got[len(got)-1] < 12 {
		t.Fatalf("versions after Open: got %v, want up to 12 at least", got)
	}
	storetest.CheckTeamsUpgrade(t, db, u)
}

// TestBusy holds the write lock of the file from another connection, as
// another process in the middle of a long write would: a write through the
// store waits the busy timeout, then fails with EUnavailable (a 503 with
// Retry-After), not an internal error.
func TestBusy(t *testing.T) {
	defer sqlite.SetBusyTimeout(100 * time.Millisecond)()
	path := filepath.Join(t.TempDir(), "pihu.db")
	db := mustOpen(t, path)
	defer db.Close()
	a := createAccount(t, db, "Acme")
	conn, err := rawOpen(t, path).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(t.Context(), `ROLLBACK`)
	_, err = db.RevokeKey(t.Context(), a.ID, "key_none", time.Now())
	if code := pihu.ErrorCode(err); code != pihu.EUnavailable {
		t.Errorf("a write while another connection holds the write lock: got %v (%s), want %s", err, code, pihu.EUnavailable)
	}
}

// TestOpen_WaitsItsTurnToMigrate: a start that finds the write lock held
// by another process for longer than the busy timeout, while it has a
// migration to apply, waits for its turn instead of failing (a loaded
// machine starting several servers on one new file did fail so); past
// the migration timeout it fails, saying the database is busy.
func TestOpen_WaitsItsTurnToMigrate(t *testing.T) {
	defer sqlite.SetBusyTimeout(50 * time.Millisecond)()
	// A database lacking its last migration, as one a newer pihu opens.
	pending := func() string {
		t.Helper()
		path := sqlitetest.Path(t)
		raw := rawOpen(t, path)
		last := slices.Max(migrations(t, path))
		if _, err := raw.Exec(`DROP TABLE passkey_challenges`); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`DELETE FROM schema_migrations WHERE version = ?`, last); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		return path
	}
	// hold takes the write lock of path for d, from another connection.
	hold := func(path string, d time.Duration) {
		t.Helper()
		conn, err := rawOpen(t, path).Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(t.Context(), `BEGIN IMMEDIATE`); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(d, func() {
			conn.ExecContext(context.Background(), `COMMIT`)
			conn.Close()
		})
	}

	path := pending()
	want := migrations(t, sqlitetest.Path(t))
	hold(path, 500*time.Millisecond) // 10 times the busy timeout
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open while another connection held the write lock for a while: %v", err)
	}
	db.Close()
	if got := migrations(t, path); !slices.Equal(got, want) {
		t.Errorf("migrations after the wait: got %v, want %v", got, want)
	}

	defer sqlite.SetMigrateTimeout(200 * time.Millisecond)()
	path = pending()
	hold(path, 2*time.Second)
	if _, err := sqlite.Open(t.Context(), path); pihu.ErrorCode(err) != pihu.EUnavailable {
		t.Errorf("Open past the migration timeout: got %v, want %s", err, pihu.EUnavailable)
	}
}
