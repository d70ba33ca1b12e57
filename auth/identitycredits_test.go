package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/ratelimit"
)

// TestAdmission_IdentityCredits: a key of an identity with credits spends
// the identity's, which all its keys share; a key with credits of its own
// needs both, and a request either refuses spends neither. The refusal is
// usage_exceeded naming the identity. With the store as the spender and
// with leases alike.
func TestAdmission_IdentityCredits(t *testing.T) {
	for _, leased := range []bool{false, true} {
		name := "Store"
		if leased {
			name = "Leases"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store, owner, _, now := setup(t)
			// Leases are given back at the real time (Close): the clock
			// starts there, a minute after the balances were set.
			*now = time.Now().UTC().Truncate(time.Second)
			clock := func() time.Time { return *now }
			i, err := pihu.NewIdentity(owner, pihu.IdentityRequest{ExternalID: "org_acme",
				Credits: &pihu.Credits{Remaining: 1000, Refill: &pihu.Refill{Interval: pihu.RefillDaily, Amount: 1000}}}, now.Add(-time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if err := store.CreateIdentity(ctx, i); err != nil {
				t.Fatal(err)
			}
			mk := func(name string, credits *pihu.Credits) *pihu.Key {
				req := pihu.KeyRequest{Name: name, Permissions: pihu.Permissions{"candidate:*"}, Credits: credits, IdentityID: i.ID}
				k, _, err := pihu.NewKey(owner.AccountID, req, nil, now.Add(-time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				if err := store.CreateKey(ctx, k); err != nil {
					t.Fatal(err)
				}
				stored, err := store.Key(ctx, owner.AccountID, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				return stored
			}
			shared := mk("shared", nil)
			own := mk("own", &pihu.Credits{Remaining: 5})
			var spender auth.CreditSpender = store
			if leased {
				leases := auth.NewCreditLeases(store, auth.CreditLeaseOptions{Now: clock})
				t.Cleanup(func() { leases.Close() })
				spender = leases
			}
			a := auth.New(store, auth.Options{Now: clock})
			adm := auth.NewAdmission(a, auth.AdmissionOptions{
				Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock}), DefaultLimit: ratelimit.PerMinute(100000),
				Credits: spender, Now: clock,
			})
			admit := func(k *pihu.Key, cost int64) auth.Decision {
				t.Helper()
				d, err := adm.Admit(ctx, k, auth.Need{Cost: cost})
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			left := func(id string) int64 {
				t.Helper()
				if leased {
					// What the process holds goes back first.
					if err := spender.(*auth.CreditLeases).Close(); err != nil {
						t.Fatal(err)
					}
					leases := auth.NewCreditLeases(store, auth.CreditLeaseOptions{Now: clock})
					t.Cleanup(func() { leases.Close() })
					spender = leases
					adm = auth.NewAdmission(a, auth.AdmissionOptions{
						Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock}), DefaultLimit: ratelimit.PerMinute(100000),
						Credits: spender, Now: clock,
					})
				}
				sp, err := store.SpendCredits(ctx, id, 0, *now)
				if err != nil {
					t.Fatal(err)
				}
				return sp.Remaining
			}

			// The identity's keys spend its one balance.
			for range 100 {
				if d := admit(shared, 3); !d.Allowed() || d.IdentitySpend == nil || d.Spend != nil {
					t.Fatalf("a key of the identity: %v, identity spend %v, own %v", d.Outcome, d.IdentitySpend, d.Spend)
				}
			}
			if d := admit(own, 2); !d.Allowed() || d.Spend == nil || d.IdentitySpend == nil {
				t.Fatalf("a key with its own credits too: %v", d.Outcome)
			}
			if got := left(i.ID); got != 1000-300-2 {
				t.Errorf("identity's credits: got %d, want %d", got, 1000-300-2)
			}
			if got := left(own.ID); got != 3 {
				t.Errorf("key's own credits: got %d, want 3", got)
			}

			// Its own credits short: refused, and the identity's given back.
			d := admit(own, 4)
			if d.Outcome != auth.RefusedCredits || d.IdentityCredits {
				t.Errorf("own credits short: %v (identity's: %v), want the key's refusal", d.Outcome, d.IdentityCredits)
			}
			if msg := d.Err("", *now).Error(); !strings.Contains(msg, "PATCH /v1/auth/api-keys/"+own.ID) {
				t.Errorf("the key's refusal: %q", msg)
			}
			if got := left(i.ID); got != 698 {
				t.Errorf("identity's credits after the key's refusal: got %d, want 698 (nothing spent)", got)
			}

			// The identity's short: refused, the key's own untouched.
			d = admit(own, 699)
			if d.Outcome != auth.RefusedCredits || !d.IdentityCredits || d.Spend == nil || d.Spend.NextRefill == nil {
				t.Fatalf("identity's credits short: %+v, want the identity's refusal with its refill", d)
			}
			msg := d.Err("", *now).Error()
			if !strings.Contains(msg, "identity "+i.ID) || !strings.Contains(msg, "PATCH /v1/identities/"+i.ID) {
				t.Errorf("the identity's refusal: %q", msg)
			}
			var refill bool
			for _, h := range d.AppendHeaders(nil, *now) {
				refill = refill || h.Name == auth.HeaderCreditsRefill
			}
			if !refill {
				t.Errorf("the identity's refusal has no %s header", auth.HeaderCreditsRefill)
			}
			if got := left(own.ID); got != 3 {
				t.Errorf("key's own credits after the identity's refusal: got %d, want 3", got)
			}
			if got := left(i.ID); got != 698 {
				t.Errorf("identity's credits after its refusal: got %d, want 698", got)
			}

			// The next day's refill.
			*now = now.Add(24 * time.Hour)
			if d := admit(shared, 999); !d.Allowed() || d.IdentitySpend.Remaining != 1 {
				t.Errorf("after the refill: %v, %+v", d.Outcome, d.IdentitySpend)
			}
		})
	}
}
