package guard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/guard"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// flaky is a real SQLite store whose reads of keys and pings fail with
// pihu.EUnavailable while down is set, as a database that stopped
// answering does, and that tells which primary it is, as PostgreSQL does.
type flaky struct {
	*sqlite.DB
	down    atomic.Bool
	calls   atomic.Int64 // KeyByDigest calls that reached it
	mu      sync.Mutex
	primary pihu.Primary
	record  pihu.Primary // what RecordPrimary keeps
	// primaryErr, if set, is Primary's error: a role not allowed to
	// read the control data.
	primaryErr error
}

var errDown = pihu.Errorf(pihu.EUnavailable, "down")

func (f *flaky) KeyByDigest(ctx context.Context, d []byte) (*pihu.Key, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	return f.DB.KeyByDigest(ctx, d)
}

func (f *flaky) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return f.DB.Ping(ctx)
}

func (f *flaky) Primary(ctx context.Context) (pihu.Primary, error) {
	if f.down.Load() {
		return pihu.Primary{}, errDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.primary, f.primaryErr
}

func (f *flaky) RecordPrimary(ctx context.Context, p pihu.Primary) (pihu.Primary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := f.record
	f.record = prev.Newer(p)
	if prev.SystemID != p.SystemID {
		prev = pihu.Primary{}
	}
	return prev, nil
}

func (f *flaky) setPrimary(p pihu.Primary) {
	f.mu.Lock()
	f.primary = p
	f.mu.Unlock()
}

func openFlaky(tb testing.TB) *flaky {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &flaky{DB: db, primary: pihu.Primary{SystemID: 7, Timeline: 1}}
}

// memFleet is the fleet's record, as Redis keeps it, in memory.
type memFleet struct {
	mu sync.Mutex
	p  pihu.Primary
}

func (m *memFleet) RaisePrimary(ctx context.Context, p pihu.Primary) (pihu.Primary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p = m.p.Newer(p)
	return m.p, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// count is how many lines of log contain s.
func (s *syncBuffer) count(sub string) int { return strings.Count(s.String(), sub) }

func newGuard(tb testing.TB, opts guard.Options) (*guard.Store, *syncBuffer) {
	tb.Helper()
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	opts.Breaker = guard.BreakerOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = 10 * time.Millisecond
	}
	return guard.New(opts), logs
}

// run runs g until the test ends.
func run(tb testing.TB, g *guard.Store, open guard.Opener) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, open) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
}

func waitState(tb testing.TB, g *guard.Store, want guard.State) string {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		st, reason := g.State()
		if st == want {
			return reason
		}
		if time.Now().After(deadline) {
			tb.Fatalf("state: got %v (%s), want %v", st, reason, want)
		}
	}
}

// TestStore_EveryCallGuarded calls every method of pihu.Store on a guard
// with no store yet: each fails with EUnavailable, none panics, so that
// no method reaches a store the guard does not let through.
func TestStore_EveryCallGuarded(t *testing.T) {
	g, _ := newGuard(t, guard.Options{})
	v := reflect.ValueOf(g)
	typ := reflect.TypeFor[pihu.Store]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if m.Name == "Close" {
			continue
		}
		fn := v.MethodByName(m.Name)
		args := []reflect.Value{reflect.ValueOf(context.Background())}
		for j := 1; j < fn.Type().NumIn(); j++ {
			args = append(args, reflect.Zero(fn.Type().In(j)))
		}
		var out []reflect.Value
		if fn.Type().IsVariadic() {
			out = fn.CallSlice(args)
		} else {
			out = fn.Call(args)
		}
		err, _ := out[len(out)-1].Interface().(error)
		if pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("%s: got %v, want %s", m.Name, err, pihu.EUnavailable)
		}
	}
	if got, want := g.FailedFast(), int64(typ.NumMethod()-1); got != want {
		t.Errorf("FailedFast: got %d, want %d", got, want)
	}
}

// TestStore_StartWithout starts with a database that does not answer:
// calls fail at once, Run tries again with backoff and logs it once (not
// once an attempt), and once the database answers the store is up,
// prepared once, and logged as connected with the count of attempts.
func TestStore_StartWithout(t *testing.T) {
	f := openFlaky(t)
	var attempts, prepared atomic.Int64
	g, logs := newGuard(t, guard.Options{Prepare: func(ctx context.Context, s pihu.Store) error {
		prepared.Add(1)
		return nil
	}})
	open := func(ctx context.Context) (pihu.Store, error) {
		if attempts.Add(1) < 5 {
			return nil, errDown
		}
		return f, nil
	}
	if err := g.Connect(t.Context(), open); pihu.ErrorCode(err) != pihu.EUnavailable {
		t.Fatalf("Connect: got %v, want %s", err, pihu.EUnavailable)
	}
	if st, reason := g.State(); st != guard.Connecting || !strings.Contains(reason, "not been reached") {
		t.Errorf("state: got %v %q, want connecting with a reason", st, reason)
	}
	if _, err := g.KeyByDigest(t.Context(), make([]byte, 32)); pihu.ErrorCode(err) != pihu.EUnavailable {
		t.Errorf("KeyByDigest before connecting: got %v, want %s", err, pihu.EUnavailable)
	}
	run(t, g, open)
	waitState(t, g, guard.Up)
	if _, err := g.KeyByDigest(t.Context(), make([]byte, 32)); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("KeyByDigest once up: got %v, want %s", err, pihu.ENotFound)
	}
	if n := logs.count("database unreachable"); n != 1 {
		t.Errorf("%d lines say the database is unreachable, want 1 for %d attempts:\n%s", n, attempts.Load(), logs)
	}
	if n := logs.count("database connected"); n != 1 || !strings.Contains(logs.String(), "attempts=5") {
		t.Errorf("want one line saying it connected after 5 attempts:\n%s", logs)
	}
	if prepared.Load() != 1 {
		t.Errorf("Prepare ran %d times, want 1", prepared.Load())
	}
}

// TestStore_StartWithoutChangingError: a database starting up refuses
// connections, then answers that it is starting up. That is one outage,
// one warning; the new error is an Info line.
func TestStore_StartWithoutChangingError(t *testing.T) {
	f := openFlaky(t)
	var attempts atomic.Int64
	g, logs := newGuard(t, guard.Options{})
	open := func(ctx context.Context) (pihu.Store, error) {
		switch n := attempts.Add(1); {
		case n < 3:
			return nil, pihu.Errorf(pihu.EUnavailable, "connection refused")
		case n < 6:
			return nil, pihu.Errorf(pihu.EUnavailable, "the database system is starting up")
		}
		return f, nil
	}
	if err := g.Connect(t.Context(), open); pihu.ErrorCode(err) != pihu.EUnavailable {
		t.Fatalf("Connect: got %v, want %s", err, pihu.EUnavailable)
	}
	run(t, g, open)
	waitState(t, g, guard.Up)
	if n := logs.count("level=WARN"); n != 1 || logs.count("database unreachable") != 1 {
		t.Errorf("%d warnings, want 1 saying the database is unreachable:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"database still not reached, with another error\"") ||
		!strings.Contains(logs.String(), "starting up") {
		t.Errorf("no Info line with the new error:\n%s", logs)
	}
}

// TestStore_Breaker takes the database down under a guard that is up:
// after three calls that fail for it the breaker opens and later calls
// fail at once without reaching it; a call whose caller gave up counts for
// nothing; a probe brings it back when the database answers, and each
// change is logged once, with how many calls failed.
func TestStore_Breaker(t *testing.T) {
	f := openFlaky(t)
	g, logs := newGuard(t, guard.Options{})
	if err := g.Connect(t.Context(), func(context.Context) (pihu.Store, error) { return f, nil }); err != nil {
		t.Fatal(err)
	}
	run(t, g, nil)
	f.down.Store(true)

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for range 5 {
		g.KeyByDigest(canceled, make([]byte, 32))
	}
	if st, _ := g.State(); st != guard.Up {
		t.Fatalf("after calls whose caller gave up: state %v, want up", st)
	}
	for i := range 3 {
		if _, err := g.KeyByDigest(t.Context(), make([]byte, 32)); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Fatalf("call %d: got %v", i, err)
		}
	}
	reason := waitState(t, g, guard.Down)
	if !strings.Contains(reason, "does not answer") {
		t.Errorf("reason: got %q", reason)
	}
	reached := f.calls.Load()
	for range 100 {
		if _, err := g.KeyByDigest(t.Context(), make([]byte, 32)); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Fatalf("while down: got %v", err)
		}
	}
	if got := f.calls.Load() - reached; got != 0 {
		t.Errorf("%d calls reached the database while the breaker was open, want 0", got)
	}
	time.Sleep(50 * time.Millisecond) // a few probes
	f.down.Store(false)
	waitState(t, g, guard.Up)
	if _, err := g.KeyByDigest(t.Context(), make([]byte, 32)); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("once back: got %v, want %s", err, pihu.ENotFound)
	}
	if logs.count("database down") != 1 || logs.count("database back") != 1 || !strings.Contains(logs.String(), "calls_failed=100") {
		t.Errorf("want one line down and one back, with 100 calls failed:\n%s", logs)
	}
}

// TestStore_Split checks the primary behind the guard against the
// fleet's record: an old primary (an older timeline of the same system),
// another cluster and a standby are refused, at connection and by the
// periodic check, with the reason in the state; a primary on the fleet's
// timeline or a newer one is taken, and raises the record.
func TestStore_Split(t *testing.T) {
	connect := func(t *testing.T, f *flaky, fleet guard.Fleet) (*guard.Store, *syncBuffer) {
		t.Helper()
		g, logs := newGuard(t, guard.Options{Fleet: fleet})
		if err := g.Connect(t.Context(), func(context.Context) (pihu.Store, error) { return f, nil }); err != nil {
			t.Fatal(err)
		}
		return g, logs
	}
	t.Run("OldPrimaryAtStart", func(t *testing.T) {
		fleet := &memFleet{p: pihu.Primary{SystemID: 7, Timeline: 2}}
		g, logs := connect(t, openFlaky(t), fleet)
		st, reason := g.State()
		if st != guard.Refused || !strings.Contains(reason, "older timeline") {
			t.Errorf("got %v %q, want refused for an older timeline", st, reason)
		}
		if _, err := g.KeyByDigest(t.Context(), make([]byte, 32)); pihu.ErrorCode(err) != pihu.EUnavailable {
			t.Errorf("a call while refused: got %v", err)
		}
		if logs.count("database refused") != 1 {
			t.Errorf("want one line saying it is refused:\n%s", logs)
		}
		if fleet.p.Timeline != 2 {
			t.Errorf("the fleet's record went back to timeline %d", fleet.p.Timeline)
		}
	})
	t.Run("OtherCluster", func(t *testing.T) {
		g, _ := connect(t, openFlaky(t), &memFleet{p: pihu.Primary{SystemID: 8, Timeline: 1}})
		if st, reason := g.State(); st != guard.Refused || !strings.Contains(reason, "not the PostgreSQL cluster") {
			t.Errorf("got %v %q, want refused for another cluster", st, reason)
		}
	})
	t.Run("Standby", func(t *testing.T) {
		f := openFlaky(t)
		f.primary.Standby = true
		g, _ := connect(t, f, nil)
		if st, reason := g.State(); st != guard.Refused || !strings.Contains(reason, "standby") {
			t.Errorf("got %v %q, want refused for a standby", st, reason)
		}
	})
	t.Run("FailoverThenOldPrimaryBack", func(t *testing.T) {
		fleet := &memFleet{}
		f := openFlaky(t)
		g, _ := connect(t, f, fleet)
		if st, _ := g.State(); st != guard.Up {
			t.Fatalf("state %v, want up", st)
		}
		run(t, g, nil)
		// The replica is promoted: timeline 2, taken, and recorded.
		f.setPrimary(pihu.Primary{SystemID: 7, Timeline: 2})
		for deadline := time.Now().Add(5 * time.Second); fleetTimeline(fleet) != 2; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the fleet's record is %+v, want timeline 2", fleet.p)
			}
		}
		// The old primary comes back and the pool reaches it.
		f.setPrimary(pihu.Primary{SystemID: 7, Timeline: 1})
		waitState(t, g, guard.Refused)
		// Fenced: the new primary again.
		f.setPrimary(pihu.Primary{SystemID: 7, Timeline: 2})
		waitState(t, g, guard.Up)
	})
	t.Run("MemoryWithoutFleet", func(t *testing.T) {
		f := openFlaky(t)
		f.primary = pihu.Primary{SystemID: 7, Timeline: 3}
		g, _ := connect(t, f, nil)
		run(t, g, nil)
		f.setPrimary(pihu.Primary{SystemID: 7, Timeline: 2})
		waitState(t, g, guard.Refused)
	})
	t.Run("ConnectionRefused", func(t *testing.T) {
		// The driver shows every new connection's server to AdmitConn
		// (postgres.Options.CheckPrimary) and fails the connection if it
		// refuses it, as for the only host of a URL that is the old
		// primary; once the server is acceptable, the store is up.
		fleet := &memFleet{p: pihu.Primary{SystemID: 7, Timeline: 2}}
		g, logs := newGuard(t, guard.Options{Fleet: fleet})
		f := openFlaky(t)
		server := &atomic.Pointer[pihu.Primary]{}
		server.Store(&pihu.Primary{SystemID: 7, Timeline: 1})
		open := func(ctx context.Context) (pihu.Store, error) {
			if err := g.AdmitConn(ctx, *server.Load()); err != nil {
				return nil, pihu.Errorf(pihu.EUnavailable, "connect: %v", err)
			}
			return f, nil
		}
		run(t, g, open)
		if reason := waitState(t, g, guard.Refused); !strings.Contains(reason, "older timeline") {
			t.Errorf("reason: got %q", reason)
		}
		if logs.count("database unreachable") != 0 || logs.count("database refused") != 1 {
			t.Errorf("want one line saying it is refused, none unreachable:\n%s", logs)
		}
		f.setPrimary(pihu.Primary{SystemID: 7, Timeline: 2})
		server.Store(&pihu.Primary{SystemID: 7, Timeline: 2})
		waitState(t, g, guard.Up)
	})
	t.Run("Unreadable", func(t *testing.T) {
		// A role not allowed to read which primary it is on: the check
		// is off, said once, and the store works.
		f := openFlaky(t)
		f.primaryErr = errors.New("permission denied for function pg_control_system")
		g, logs := connect(t, f, &memFleet{p: pihu.Primary{SystemID: 8, Timeline: 9}})
		run(t, g, nil)
		time.Sleep(50 * time.Millisecond) // a few periodic checks
		if st, reason := g.State(); st != guard.Up {
			t.Errorf("state %v (%s), want up", st, reason)
		}
		if n := logs.count("is off"); n != 1 {
			t.Errorf("%d lines say the check is off, want 1:\n%s", n, logs)
		}
	})
	t.Run("DatabaseRecord", func(t *testing.T) {
		// Nothing in memory nor in the fleet: the database's own record
		// says it was written on a later timeline.
		f := openFlaky(t)
		f.record = pihu.Primary{SystemID: 7, Timeline: 4}
		g, _ := connect(t, f, nil)
		if st, _ := g.State(); st != guard.Refused {
			t.Errorf("state %v, want refused", st)
		}
	})
}

func fleetTimeline(f *memFleet) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p.Timeline
}

// TestStore_ConnectError: an error that is not unavailability (a bad URL,
// a failed migration) is final: Run returns it.
func TestStore_ConnectError(t *testing.T) {
	g, _ := newGuard(t, guard.Options{})
	bad := errors.New("bad URL")
	if err := g.Run(t.Context(), func(context.Context) (pihu.Store, error) { return nil, bad }); !errors.Is(err, bad) {
		t.Errorf("Run: got %v, want %v", err, bad)
	}
}
