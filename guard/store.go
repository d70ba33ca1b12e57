// Package guard keeps a server going through an outage of its store, in
// one place that every call to the store goes through (Store wraps a
// pihu.Store):
//
//   - a circuit breaker (Breaker) stops sending calls to a store that keeps
//     failing for its unavailability: once open, every call fails at once
//     with pihu.EUnavailable (a 503 with Retry-After in the API), instead
//     of each waiting out its deadline, and a probe in the background asks
//     the store, with a growing backoff, until it answers;
//   - the store may be missing: a server started while its database is
//     unreachable runs without it (calls fail as above, readiness says so)
//     and connects in the background, with backoff;
//   - on a store that can fail over (pihu.PrimaryStore: PostgreSQL), the
//     primary it writes to is checked when it connects, after an outage
//     and periodically, against the primary the fleet of instances has
//     recorded (pihu.Primary.Admit): an old primary come back writable,
//     another cluster or a standby is refused until that changes.
//
// Each change of state (connecting, up, down, refused) is logged once,
// with counts, rather than each failed call.
package guard

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pihu-ai/pihu"
)

// State is the state of the store behind a Store.
type State int32

const (
	// Connecting: the store has not been opened yet (the database was
	// unreachable when the server started).
	Connecting State = iota
	// Up: calls go through.
	Up
	// Down: the breaker is open; calls fail at once until a probe
	// succeeds.
	Down
	// Refused: the store answers, but it is not a primary this instance
	// may write to (see pihu.Primary.Admit); calls fail at once until a
	// check admits it.
	Refused
)

// States are the states, in order, as String names them.
var States = []State{Connecting, Up, Down, Refused}

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Up:
		return "up"
	case Down:
		return "down"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Fleet is where the instances sharing a database record the primary they
// write to (Redis, in package redisbus), so that an instance given another
// one can tell. Implementations are safe for concurrent use.
type Fleet interface {
	// RaisePrimary records p as the fleet's primary if there is no record
	// yet or the record is of the same system and an earlier timeline,
	// in one atomic step, and returns the record as it then stands.
	RaisePrimary(ctx context.Context, p pihu.Primary) (pihu.Primary, error)
}

// Options configure a Store; zero values take the defaults.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per change of state (default
	// slog.Default()).
	Logger *slog.Logger
	// Breaker configures the breaker (see BreakerOptions); its Now is
	// the Store's.
	Breaker BreakerOptions
	// CheckInterval is how often the primary of a store that is up is
	// checked (default 5 s).
	CheckInterval time.Duration
	// Fleet, if set, shares the record of the primary with the other
	// instances. Nil: each instance checks against what it has seen
	// itself and what the database recorded.
	Fleet Fleet
	// Prepare, if set, is run on the store when it is first up, before
	// any call goes through (the first start's account); an error of
	// code pihu.EUnavailable makes the Store try again later, any other
	// is returned by Connect.
	Prepare func(ctx context.Context, s pihu.Store) error
}

// Opener opens the store, such as sqlite.Open or postgres.Open.
type Opener func(ctx context.Context) (pihu.Store, error)

// Store is a pihu.Store guarded as the package comment says. It is safe
// for concurrent use. Its methods of pihu.Store are in store_gen.go, each
// a call through do.
//
//go:generate go run gen.go
type Store struct {
	opts    Options
	breaker *Breaker

	inner  atomic.Pointer[storeBox] // nil until opened
	state  atomic.Int32
	failed atomic.Int64 // calls failed at once since the last change of state
	// failedTotal counts every call failed at once.
	failedTotal atomic.Int64
	wake        chan struct{}
	logger      *slog.Logger
	checkMu     sync.Mutex // one check of the primary at a time

	mu       sync.Mutex // guards what follows
	since    time.Time  // when the state began
	reason   string     // why the store is not up, for readiness and logs
	seen     pihu.Primary
	attempts int // to connect, since the first
	lastErr  string
	prepared bool // Prepare has run
	// unchecked is set once the primary could not be read for a reason
	// other than unavailability (a role not allowed to): logged once,
	// and the check is skipped.
	unchecked bool
	// fleetFailing is set while the fleet's record cannot be read:
	// logged once.
	fleetFailing bool
	// refusal is why the last server AdmitConn refused was refused, if
	// none was admitted since.
	refusal string
}

type storeBox struct{ s pihu.Store }

var _ pihu.Store = (*Store)(nil)

// New returns a Store with no store yet (Connecting): give it one with
// Connect or Run.
func New(opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 5 * time.Second
	}
	opts.Breaker.Now = opts.Now
	s := &Store{opts: opts, breaker: NewBreaker(opts.Breaker), wake: make(chan struct{}, 1), logger: opts.Logger}
	s.breaker.Trip()
	s.since = opts.Now()
	s.reason = reasonConnecting
	return s
}

// errUnavailable is what calls get while the store is not up: the same
// words as the stores' own, since clients need no more.
var errUnavailable = pihu.Errorf(pihu.EUnavailable, "The database is unreachable at the moment; try again in a few seconds.")

// State returns the state of the store and, unless it is up, why, in a
// sentence for readiness.
func (s *Store) State() (State, string) {
	st := State(s.state.Load())
	if st == Up {
		return Up, ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return st, s.reason
}

// FailedFast counts the calls failed at once, without reaching the store,
// since the Store was made.
func (s *Store) FailedFast() int64 { return s.failedTotal.Load() }

// do sends one call to the store if the breaker lets it, and records how
// it went.
func (s *Store) do(ctx context.Context, call func(pihu.Store) error) error {
	box := s.inner.Load()
	if box == nil || State(s.state.Load()) != Up || !s.breaker.Allow() {
		s.failed.Add(1)
		s.failedTotal.Add(1)
		return errUnavailable
	}
	err := call(box.s)
	switch {
	case pihu.ErrorCode(err) != pihu.EUnavailable:
		// An answer, a refusal of the store's own (not found…) or a
		// fault that is not the store's unavailability: it answered.
		s.breaker.Success()
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up (a client that went away, a health check
		// that timed out on its side): that says nothing of the store.
	default:
		if s.breaker.Failure() {
			s.setState(Down, reasonDown, err)
			s.signal()
		}
	}
	return err
}

// Close closes the store, if it was opened.
func (s *Store) Close() error {
	if box := s.inner.Load(); box != nil {
		return box.s.Close()
	}
	return nil
}

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// The reasons readiness gives, which anyone may read: the errors, which
// name the database's host, are for the log.
const (
	reasonConnecting = "The database has not been reached since the server started; it is tried again with backoff."
	reasonDown       = "The database does not answer; it is probed with backoff."
)

// setState moves to state st, for reason (and the error that made it,
// for the log), and logs the change once, with what happened in the state
// left. Not for Connecting's own retries.
func (s *Store) setState(st State, reason string, errs ...error) {
	s.mu.Lock()
	prev := State(s.state.Load())
	if prev == st {
		s.reason = reason
		s.mu.Unlock()
		return
	}
	now := s.opts.Now()
	lasted := now.Sub(s.since).Round(time.Millisecond)
	s.since, s.reason = now, reason
	s.state.Store(int32(st))
	failed := s.failed.Swap(0)
	attempts := s.attempts
	s.mu.Unlock()

	switch {
	case st == Up && prev == Connecting:
		s.logger.Info("database connected", "after", lasted, "attempts", attempts, "calls_failed", failed)
	case st == Up:
		s.logger.Info("database back: calls go through again", "was", prev.String(), "for", lasted, "calls_failed", failed)
	case st == Down:
		s.logger.Warn("database down: its calls fail at once (503) until a probe gets an answer", "err", errors.Join(errs...))
	case st == Refused:
		s.logger.Error("database refused: "+reason, "was", prev.String())
	}
}

// Connect makes one attempt to open the store with open, check its
// primary and prepare it; on success the Store is up (or refused, if the
// check refuses the primary). It returns the attempt's error: with
// pihu.EUnavailable, Run may try again later; any other is final (a bad
// URL, a migration that fails).
func (s *Store) Connect(ctx context.Context, open Opener) error {
	s.mu.Lock()
	s.attempts++
	s.mu.Unlock()
	st, err := open(ctx)
	if err != nil {
		return err
	}
	if err := s.check(ctx, st); err != nil && State(s.state.Load()) != Refused {
		st.Close()
		return err
	}
	if State(s.state.Load()) == Refused {
		// Kept, so that the probes check it again.
		s.inner.Store(&storeBox{st})
		return nil
	}
	if err := s.up(ctx, st); err != nil {
		st.Close()
		return err
	}
	s.inner.Store(&storeBox{st})
	s.breaker.Probed(true)
	s.setState(Up, "")
	return nil
}

// up runs Prepare on st the first time the store is up.
func (s *Store) up(ctx context.Context, st pihu.Store) error {
	s.mu.Lock()
	prepared := s.prepared
	s.mu.Unlock()
	if prepared || s.opts.Prepare == nil {
		return nil
	}
	if err := s.opts.Prepare(ctx, st); err != nil {
		return err
	}
	s.mu.Lock()
	s.prepared = true
	s.mu.Unlock()
	return nil
}

// Run keeps the store up until ctx is done: it opens it with open while it
// is missing, probes it while down or refused, and checks its primary
// every CheckInterval while up. It returns nil when ctx is done, or the
// error of an attempt to open the store that is not unavailability (see
// Connect).
func (s *Store) Run(ctx context.Context, open Opener) error {
	for {
		box := s.inner.Load()
		switch {
		case box == nil:
			if err := s.Connect(ctx, open); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if pihu.ErrorCode(err) != pihu.EUnavailable {
					return err
				}
				s.connectFailed(err)
				s.breaker.Probed(false)
			}
		case State(s.state.Load()) != Up:
			s.probe(ctx, box.s)
		default:
			if err := s.check(ctx, box.s); err != nil && State(s.state.Load()) == Refused {
				// The server of a connection already open is refused:
				// the connections are dropped, so that the next ones
				// (checked as they are made, see AdmitConn) go to an
				// acceptable primary, if the URL names one.
				reset(box.s)
			}
		}
		wait := s.opts.CheckInterval
		if State(s.state.Load()) != Up {
			wait = jitter(s.breaker.ProbeIn())
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// reset drops the connections of st, if it keeps any (postgres.DB).
func reset(st pihu.Store) {
	if r, ok := st.(interface{ Reset() }); ok {
		r.Reset()
	}
}

// connectFailed records a failed attempt of Run to connect: refused, if a
// server was refused since the last one admitted (see AdmitConn), else
// unreachable, logged if it fails otherwise than the last one (or is the
// first).
func (s *Store) connectFailed(err error) {
	if s.refusedSince() {
		return
	}
	msg := err.Error()
	s.mu.Lock()
	first, changed := s.lastErr == "", msg != s.lastErr
	s.lastErr = msg
	s.reason = reasonConnecting
	attempts := s.attempts
	s.mu.Unlock()
	switch {
	case first:
		// One warning an outage (docs/deploy.md: "each of these is
		// logged once").
		s.logger.Warn("database unreachable: serving without it, not ready, and trying again with backoff", "attempts", attempts, "err", msg)
	case changed:
		// A database starting up answers "connection refused", then "the
		// database system is starting up": news, not a second outage.
		s.logger.Info("database still not reached, with another error", "attempts", attempts, "err", msg)
	}
}

// refusedSince moves to Refused, and reports true, if a server was
// refused (AdmitConn) since the last one admitted: a connection that
// fails then fails for that.
func (s *Store) refusedSince() bool {
	s.mu.Lock()
	refusal := s.refusal
	s.mu.Unlock()
	if refusal == "" {
		return false
	}
	s.breaker.Trip()
	s.setState(Refused, refusal)
	return true
}

// jitter returns d give or take a tenth, so that instances probing one
// database do not do it in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/10 + rand.N(d/5+1)
}

// probe asks the store whether it answers (and admits its primary), and
// closes or keeps the breaker open accordingly.
func (s *Store) probe(ctx context.Context, st pihu.Store) {
	pctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := st.Ping(pctx)
	if err == nil {
		err = s.check(pctx, st)
	}
	if err == nil {
		err = s.up(pctx, st)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.breaker.Probed(false)
		if State(s.state.Load()) == Refused {
			reset(st)
		} else {
			s.refusedSince()
		}
		return
	}
	s.breaker.Probed(true)
	s.setState(Up, "")
}

// checkTimeout bounds one probe or check of the primary.
const checkTimeout = 5 * time.Second

// AdmitConn checks the primary p of a new connection to the database,
// before the connection is used, against the primaries this instance and
// the fleet have seen (see pihu.Primary.Admit), and raises the fleet's
// record if it is admitted. A refusal is noted, so that the connection's
// failure is reported as the refusal it is; with a multi-host URL the
// driver tries the next host. postgres.Options.CheckPrimary calls it.
func (s *Store) AdmitConn(ctx context.Context, p pihu.Primary) error {
	if err := s.admit(ctx, p); err != nil {
		s.mu.Lock()
		s.refusal = pihu.ErrorMessage(err)
		s.mu.Unlock()
		return err
	}
	return nil
}

// admit checks p against what this instance has seen, the fleet's record
// and more records (the database's own), and if it is admitted, raises
// what this instance has seen and the fleet's record.
func (s *Store) admit(ctx context.Context, p pihu.Primary, more ...pihu.Primary) error {
	s.mu.Lock()
	seen := s.seen
	s.mu.Unlock()
	records := append([]pihu.Primary{seen}, more...)
	if err := seen.Admit(p); err == nil && !p.Standby && s.opts.Fleet != nil {
		fleet, err := s.opts.Fleet.RaisePrimary(ctx, p)
		s.fleetRead(err)
		if err == nil {
			records = append(records, fleet)
		}
	}
	for _, r := range records {
		if err := r.Admit(p); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.seen = s.seen.Newer(p)
	s.refusal = ""
	s.mu.Unlock()
	return nil
}

// check checks the primary st writes to, if it can tell (on a connection
// of its pool: one made before the fleet moved on, perhaps), against what
// AdmitConn checks and the database's own record, and records it there.
// A refusal moves to Refused (probe moves back, when a check passes). It
// returns the check's error: a refusal, or the failure to check.
func (s *Store) check(ctx context.Context, st pihu.Store) error {
	ps, ok := st.(pihu.PrimaryStore)
	if !ok {
		return nil
	}
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	s.mu.Lock()
	seen, unchecked := s.seen, s.unchecked
	s.mu.Unlock()
	if unchecked {
		return nil
	}
	p, err := ps.Primary(ctx)
	if pihu.ErrorCode(err) == pihu.EUnavailable {
		return err
	} else if err != nil {
		s.mu.Lock()
		s.unchecked = true
		s.mu.Unlock()
		s.logger.Warn("cannot read which primary the database is (system identifier and timeline): the check that instances do not split across two primaries is off", "err", err)
		return nil
	}
	var db pihu.Primary
	if seen.Admit(p) == nil && !p.Standby {
		// Only a primary this instance may write to gets a record
		// written in the database.
		if db, err = ps.RecordPrimary(ctx, p); err != nil {
			return err
		}
	}
	if err := s.admit(ctx, p, db); err != nil {
		s.breaker.Trip()
		s.setState(Refused, pihu.ErrorMessage(err))
		return err
	}
	return nil
}

// fleetRead logs, once until it works again, that the fleet's record of
// the primary could not be read: the check then relies on this instance's
// memory and the database's record.
func (s *Store) fleetRead(err error) {
	s.mu.Lock()
	changed := (err != nil) != s.fleetFailing
	s.fleetFailing = err != nil
	s.mu.Unlock()
	switch {
	case changed && err != nil:
		s.logger.Warn("cannot read the fleet's record of the primary: checking against what this instance and the database have seen until it can", "err", err)
	case changed:
		s.logger.Info("the fleet's record of the primary can be read again")
	}
}
