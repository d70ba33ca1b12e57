package auth

import (
	"context"
	"math"
	"sync"

	"github.com/pihu-ai/pihu"
)

// Request log defaults (see Options.RequestLogRate).
const (
	DefaultRequestLogRate   = 10  // entries a second, per account
	DefaultRequestLogBurst  = 100 // entries at once, per account
	DefaultRequestLogBuffer = 50000
)

// requestLog is the request log's entries not yet flushed, and each
// account's recording budget: a token bucket of rate entries a second
// holding at most burst. An entry over the budget, or over the buffer's
// size while the store cannot take them, is left out and counted under
// its key; the next flush writes one entry saying how many (Omitted), so
// that sampling is visible in the log itself.
type requestLog struct {
	store       pihu.RequestLogStore // nil: no log
	rate, burst float64
	max         int // entries held at most

	mu      sync.Mutex
	entries []pihu.RequestLogEntry
	buckets map[string]*logBucket // by account
	omitted map[omittedKey]int64
}

type logBucket struct {
	tokens float64
	last   int64 // Unix nanoseconds of the last refill
}

type omittedKey struct{ account, key string }

func newRequestLog(store pihu.RequestLogStore, rate float64, burst int, max int) *requestLog {
	if rate <= 0 {
		rate = DefaultRequestLogRate
	}
	if burst <= 0 {
		burst = DefaultRequestLogBurst
	}
	if max <= 0 {
		max = DefaultRequestLogBuffer
	}
	return &requestLog{store: store, rate: rate, burst: float64(burst), max: max,
		buckets: make(map[string]*logBucket), omitted: make(map[omittedKey]int64)}
}

// LogRequest records e in the request log, which the next Flush writes to
// the store: a lock and an append, no store call. Each account records at
// most Options.RequestLogRate entries a second (with a burst of
// RequestLogBurst): one over it is left out and counted, and the log says
// how many were (an entry with Omitted). e's path must hold no query
// string; its method and path are masked (pihu.MaskSecrets) at the flush.
// Does nothing if the Authenticator keeps no request log.
func (a *Authenticator) LogRequest(e *pihu.RequestLogEntry) {
	l := a.reqlog
	if l == nil || l.store == nil {
		return
	}
	now := a.now()
	if e.Time.IsZero() {
		e.Time = now
	}
	ns := now.UnixNano()
	l.mu.Lock()
	b := l.buckets[e.AccountID]
	if b == nil {
		b = &logBucket{tokens: l.burst, last: ns}
		l.buckets[e.AccountID] = b
	}
	if ns > b.last {
		b.tokens = math.Min(l.burst, b.tokens+float64(ns-b.last)*l.rate/1e9)
		b.last = ns
	}
	if b.tokens < 1 || len(l.entries) >= l.max {
		l.omitted[omittedKey{e.AccountID, e.KeyID}]++
		l.mu.Unlock()
		return
	}
	b.tokens--
	l.entries = append(l.entries, *e)
	l.mu.Unlock()
}

// flushRequestLog writes the entries recorded since the last flush, and
// one entry for each key with requests left out, in one store call. What
// it fails to write is kept for the next flush, up to the buffer's size;
// the rest is counted as left out.
func (a *Authenticator) flushRequestLog(ctx context.Context) error {
	l := a.reqlog
	if l == nil || l.store == nil {
		return nil
	}
	l.mu.Lock()
	entries, omitted := l.entries, l.omitted
	l.entries = make([]pihu.RequestLogEntry, 0, cap(entries))
	l.omitted = make(map[omittedKey]int64, len(omitted))
	// Accounts whose budget is full again need no bucket: forget them,
	// so that the map holds the accounts of the last moments only.
	ns := a.now().UnixNano()
	for acct, b := range l.buckets {
		if b.tokens+float64(ns-b.last)*l.rate/1e9 >= l.burst {
			delete(l.buckets, acct)
		}
	}
	l.mu.Unlock()
	if len(entries) == 0 && len(omitted) == 0 {
		return nil
	}
	now := a.now()
	for i := range entries {
		e := &entries[i]
		e.Method, e.Path = pihu.MaskSecrets(e.Method), pihu.MaskSecrets(pihu.PathOnly(e.Path))
	}
	n := len(entries)
	for k, count := range omitted {
		entries = append(entries, pihu.RequestLogEntry{AccountID: k.account, KeyID: k.key, Time: now, Omitted: count})
	}
	err := l.store.AppendRequestLog(ctx, entries)
	if err == nil {
		return nil
	}
	// Put back what fits; count the rest as left out. The omissions
	// written as entries are counts again.
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range entries[n:] {
		l.omitted[omittedKey{e.AccountID, e.KeyID}] += e.Omitted
	}
	for _, e := range entries[:n] {
		if len(l.entries) >= l.max {
			l.omitted[omittedKey{e.AccountID, e.KeyID}]++
			continue
		}
		e.ID = ""
		l.entries = append(l.entries, e)
	}
	return err
}

// RequestLogEnabled reports whether a keeps a request log.
func (a *Authenticator) RequestLogEnabled() bool { return a.reqlog != nil && a.reqlog.store != nil }

// LogRequest records e in the request log of the keys a admits, as
// Authenticator.LogRequest: for a door (Envoy's Check) that has the
// admission only.
func (a *Admission) LogRequest(e *pihu.RequestLogEntry) { a.auth.LogRequest(e) }

// StatusOf is the status a request answered with the error code code ("":
// let through, 200) has, for a door whose answer is not the API's (verify's
// is always 200, whatever it says of the key).
func StatusOf(code string) int {
	if code == "" {
		return 200
	}
	st, _ := pihu.ErrorStatus(code)
	return st
}
