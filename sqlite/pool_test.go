package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// TestDB_Pool: concurrent reads reuse the connections they opened, rather
// than opening and closing one per read above two at a time (database/sql's
// default of 2 idle connections), and never open more than maxConns.
func TestDB_Pool(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "pihu.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := pihu.Timestamp(time.Now())
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "A", Created: now}
	k, _, _ := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, now)
	if err := db.CreateAccount(ctx, a, k); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 * maxConns {
		wg.Go(func() {
			for range 50 {
				if _, err := db.KeyByDigest(ctx, k.Digest); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.Account(ctx, a.ID); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := db.db.Stats()
	if st.MaxIdleClosed != 0 || st.MaxLifetimeClosed != 0 || st.MaxIdleTimeClosed != 0 {
		t.Errorf("connections closed and reopened: %d for want of idle room, %d for lifetime, %d for idle time; want none",
			st.MaxIdleClosed, st.MaxLifetimeClosed, st.MaxIdleTimeClosed)
	}
	if st.OpenConnections > maxConns {
		t.Errorf("open connections: got %d, want at most %d", st.OpenConnections, maxConns)
	}
}

// TestDB_CreateKeyGroupCommit: keys created while another write holds the
// write lock are committed together, in one transaction, and one that
// fails (its id already stored) fails alone.
func TestDB_CreateKeyGroupCommit(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "pihu.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := pihu.Timestamp(time.Now())
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "A", Created: now}
	owner, _, _ := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, now)
	if err := db.CreateAccount(ctx, a, owner); err != nil {
		t.Fatal(err)
	}

	const n = 10
	keys := make([]*pihu.Key, n)
	for i := range keys {
		keys[i], _, _ = pihu.NewKey(a.ID, pihu.KeyRequest{Name: "k", Permissions: pihu.Permissions{"candidate:read"}}, owner, now)
		keys[i].CreatedBy = owner.ID
	}
	keys[3].ID = owner.ID // already stored: this one fails

	db.writer <- struct{}{} // another write is under way
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() { errs[i] = db.CreateKey(ctx, k) })
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		db.pendingMu.Lock()
		waiting := len(db.pending)
		db.pendingMu.Unlock()
		if waiting == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys waiting, want %d", waiting, n)
		}
	}
	before := db.groups
	<-db.writer
	wg.Wait()

	if got := db.groups - before; got != 1 {
		t.Errorf("commits: got %d, want 1 for %d keys", got, n)
	}
	for i, k := range keys {
		_, err := db.KeyByDigest(ctx, k.Digest)
		if i == 3 {
			if errs[i] == nil || pihu.ErrorCode(err) != pihu.ENotFound {
				t.Errorf("the key with a taken id: got %v and %v, want an error and nothing stored", errs[i], err)
			}
			continue
		}
		if errs[i] != nil || err != nil {
			t.Errorf("key %d: got %v, then %v", i, errs[i], err)
		}
	}
}
