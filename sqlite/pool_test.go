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
