package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
)

// BenchmarkCreditLeases_Spend spends one credit at a time of a key with
// ample credits through CreditLeases on SQLite: the warm path, from the
// lease the process holds, with a store call only when a lease is taken
// (about once every 2% of the balance) or, in the background, reported.
// The balance is large enough that no lease runs out within the
// benchmark's few million spends.
func BenchmarkCreditLeases_Spend(b *testing.B) {
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	k := meteredKey(b, db, pihu.MaxCredits, nil)
	c := auth.NewCreditLeases(db, auth.CreditLeaseOptions{})
	defer c.Close()
	ctx := context.Background()
	now := creditsEpoch.Add(time.Minute)
	for range 2 { // the first spend is exact, the second takes a lease
		if sp, err := c.SpendCredits(ctx, k.ID, 1, now); err != nil || !sp.OK {
			b.Fatalf("spend: %+v, %v", sp, err)
		}
	}
	b.Run("OneKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if sp, err := c.SpendCredits(ctx, k.ID, 1, now); err != nil || !sp.OK {
				b.Fatalf("spend: %+v, %v", sp, err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if sp, err := c.SpendCredits(ctx, k.ID, 1, now); err != nil || !sp.OK {
					b.Errorf("spend: %+v, %v", sp, err)
					return
				}
			}
		})
	})
}
