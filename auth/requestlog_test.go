package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// failingLog is a request log whose AppendRequestLog fails while fail is
// set.
type failingLog struct {
	*countingStore
	fail bool
}

func (s *failingLog) AppendRequestLog(ctx context.Context, entries []pihu.RequestLogEntry) error {
	if s.fail {
		return errors.New("database unreachable")
	}
	return s.countingStore.AppendRequestLog(ctx, entries)
}

// TestLogRequest: LogRequest makes no store call; the budget (burst, then
// the rate) decides what is kept, the rest is counted and written as one
// entry per key; a flush that fails keeps everything for the next, and the
// query string is dropped and secrets masked at the flush.
func TestLogRequest(t *testing.T) {
	ctx := context.Background()
	store, k, secret, now := setup(t)
	log := &failingLog{countingStore: store, fail: true}
	a := auth.New(store, auth.Options{Now: func() time.Time { return *now }, RequestLog: log, RequestLogRate: 1, RequestLogBurst: 2})
	entry := func(path string) *pihu.RequestLogEntry {
		return &pihu.RequestLogEntry{RequestID: pihu.NewID(pihu.PrefixRequest), AccountID: k.AccountID, KeyID: k.ID, Door: pihu.DoorAPI, Method: "GET", Path: path, Status: 200}
	}
	reads := store.reads
	a.LogRequest(entry("/a?token=x"))
	a.LogRequest(entry("/b/" + secret))
	a.LogRequest(entry("/c")) // over the burst
	*now = now.Add(time.Second)
	a.LogRequest(entry("/d")) // one refilled
	a.LogRequest(entry("/e")) // over again
	if store.reads != reads {
		t.Errorf("LogRequest read the store")
	}
	if err := a.Flush(ctx); err == nil {
		t.Fatal("Flush: no error from a failing log")
	}
	log.fail = false
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _, err := store.ListRequestLog(ctx, pihu.RequestLogFilter{AccountID: k.AccountID})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var omitted int64
	for _, e := range got {
		if e.Omitted > 0 {
			omitted += e.Omitted
			continue
		}
		paths = append(paths, e.Path)
	}
	if len(paths) != 3 || paths[2] != "/a" || paths[1] == "/b/"+secret || paths[0] != "/d" || omitted != 2 {
		t.Errorf("stored %v and %d omitted; want /d, /b/ masked, /a, and 2 omitted", paths, omitted)
	}
}
