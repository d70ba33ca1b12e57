package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/postgres"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
)

// TestPrimary reads the identity of the test server (a primary, never
// failed over or not: a timeline of at least 1) and records it in the
// database: the record never goes back to an earlier timeline, and one of
// another system (a dump restored from another cluster) is replaced, and
// not returned.
func TestPrimary(t *testing.T) {
	db := mustOpen(t, postgrestest.NewSchema(t))
	defer db.Close()
	ctx := t.Context()
	p, err := db.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.SystemID == 0 || p.Timeline < 1 || p.Standby {
		t.Fatalf("Primary: got %+v, want a system identifier, a timeline and not a standby", p)
	}
	record := func(p pihu.Primary, want pihu.Primary) {
		t.Helper()
		got, err := db.RecordPrimary(ctx, p)
		if err != nil || got != want {
			t.Errorf("RecordPrimary(%v): got %+v, %v; want %+v", p, got, err, want)
		}
	}
	record(p, pihu.Primary{})
	record(p, p)
	later := pihu.Primary{SystemID: p.SystemID, Timeline: p.Timeline + 2}
	record(later, p)
	record(p, later) // not lowered
	other := pihu.Primary{SystemID: p.SystemID + 1, Timeline: 1}
	record(other, pihu.Primary{})
	record(other, other)
}

// TestLockTimeout holds a lock on a key from another connection, as a
// transaction stuck in the middle would: a revocation of that key fails
// with EUnavailable within the call's deadline (lock_timeout ends the
// wait on the server), instead of waiting for the lock.
func TestLockTimeout(t *testing.T) {
	u := postgrestest.NewSchema(t)
	db, err := postgres.OpenWith(t.Context(), u, postgres.Options{CallTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := createAccount(t, db, "Acme")
	keys, _, err := db.ListKeys(t.Context(), pihu.KeyFilter{AccountID: a.ID, Limit: 1})
	if err != nil || len(keys) != 1 {
		t.Fatalf("ListKeys: %v %v", keys, err)
	}
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE`, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = db.RevokeKey(t.Context(), a.ID, keys[0].ID, time.Now())
	if code := pihu.ErrorCode(err); code != pihu.EUnavailable {
		t.Errorf("RevokeKey behind a lock: got %v (%s), want %s", err, code, pihu.EUnavailable)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("RevokeKey behind a lock took %v, want it to end within its deadline of 500ms", took)
	}
}

// TestCheckPrimary: every new connection's server is shown to
// Options.CheckPrimary before the connection is used; one it refuses is
// not used (the store cannot open, with EUnavailable), one it admits is,
// and what it saw is the server's identity.
func TestCheckPrimary(t *testing.T) {
	u := postgrestest.NewSchema(t)
	refused := pihu.Errorf(pihu.EUnavailable, "refused")
	_, err := postgres.OpenWith(t.Context(), u, postgres.Options{CheckPrimary: func(context.Context, pihu.Primary) error { return refused }})
	if pihu.ErrorCode(err) != pihu.EUnavailable {
		t.Errorf("a server refused: got %v, want %s", err, pihu.EUnavailable)
	}
	var (
		mu   sync.Mutex
		seen []pihu.Primary
	)
	db, err := postgres.OpenWith(t.Context(), u, postgres.Options{CheckPrimary: func(_ context.Context, p pihu.Primary) error {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.Primary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0] != p {
		t.Errorf("CheckPrimary saw %v, want the server's identity %v", seen, p)
	}
}

// TestCheckPrimary_NotAllowed runs a server of its own where the control
// data is not readable by pihu's role (an administrator revoked
// pg_control_system from PUBLIC, as a managed service might): the store
// opens and works, every connection is used without asking CheckPrimary,
// and Primary fails with an error that is not unavailability, which the
// guard takes as "the check is off".
func TestCheckPrimary_NotAllowed(t *testing.T) {
	c := postgrestest.StartCluster(t, postgrestest.ClusterOptions{})
	c.Exec(`CREATE ROLE pihu LOGIN`)
	c.Exec(`CREATE DATABASE pihu OWNER pihu`)
	c.ExecIn("pihu", `REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC`)
	u := fmt.Sprintf("postgres://pihu@%s/pihu?sslmode=disable", c.Host())
	asked := false
	db, err := postgres.OpenWith(t.Context(), u, postgres.Options{CheckPrimary: func(context.Context, pihu.Primary) error {
		asked = true
		return pihu.Errorf(pihu.EUnavailable, "refused")
	}})
	if err != nil {
		t.Fatalf("OpenWith: %v", err)
	}
	defer db.Close()
	createAccount(t, db, "Acme")
	if asked {
		t.Error("CheckPrimary was asked about a server whose identity cannot be read")
	}
	if _, err := db.Primary(t.Context()); err == nil || pihu.ErrorCode(err) == pihu.EUnavailable {
		t.Errorf("Primary: got %v, want an error that is not %s", err, pihu.EUnavailable)
	}
}
