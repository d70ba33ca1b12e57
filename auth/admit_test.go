package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/ratelimit"
)

// brokenLimiter fails every decision.
type brokenLimiter struct{ ratelimit.Limiter }

func (brokenLimiter) Allow(context.Context, string, ratelimit.Limit) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("limiter down")
}

// TestAdmission runs the ordered checks on one key per case and checks
// the outcome, what was spent and what was counted: every refusal is
// counted once as refused and observed once, an admission once as allowed.
func TestAdmission(t *testing.T) {
	ctx := context.Background()
	ten := pihu.Credits{Remaining: 10}
	one := pihu.Credits{Remaining: 0}
	for _, tc := range []struct {
		name       string
		allowed    []string
		rateLimit  string
		credits    *pihu.Credits
		limiter    ratelimit.Limiter
		need       auth.Need
		before     int // requests admitted before this one
		want       auth.Outcome
		missing    pihu.Permission
		remaining  int64 // credits left, when the key has credits
		rateTold   bool  // the decision carries the limiter's result
		notCharged bool  // Check only
	}{
		{name: "Admitted", need: auth.Need{ClientIP: "203.0.113.7", Permissions: []pihu.Permission{"candidate:read"}}, want: auth.Admitted, rateTold: true},
		{name: "AddressOutside", allowed: []string{"10.0.0.0/8"}, need: auth.Need{ClientIP: "203.0.113.7"}, want: auth.RefusedAddress},
		{name: "AddressUnknown", allowed: []string{"10.0.0.0/8"}, need: auth.Need{}, want: auth.RefusedAddress},
		// A key acting on itself is admitted from anywhere.
		{name: "SelfFromAnywhere", allowed: []string{"10.0.0.0/8"}, need: auth.Need{ClientIP: "203.0.113.7", Self: true}, want: auth.Admitted, rateTold: true},
		{name: "AddressInside", allowed: []string{"10.0.0.0/8"}, need: auth.Need{ClientIP: "10.1.2.3"}, want: auth.Admitted, rateTold: true},
		{name: "RateLimited", rateLimit: "2/m", before: 2, need: auth.Need{ClientIP: "203.0.113.7"}, want: auth.RefusedRateLimit, rateTold: true},
		// The address is checked before the limit, which it does not spend.
		{name: "AddressBeforeLimit", allowed: []string{"10.0.0.0/8"}, rateLimit: "2/m", before: 2, need: auth.Need{ClientIP: "203.0.113.7"}, want: auth.RefusedAddress},
		{name: "PermissionMissing", need: auth.Need{Permissions: []pihu.Permission{"candidate:read", "webhook:write"}}, want: auth.RefusedPermission, missing: "webhook:write", rateTold: true},
		// A gateway may ask for a key of one environment.
		{name: "EnvironmentOther", need: auth.Need{Environment: pihu.Test, Permissions: []pihu.Permission{"candidate:read"}}, want: auth.RefusedEnvironment, rateTold: true},
		{name: "EnvironmentSame", need: auth.Need{Environment: pihu.Live}, want: auth.Admitted, rateTold: true},
		// The environment is checked before the permissions.
		{name: "EnvironmentBeforePermission", need: auth.Need{Environment: pihu.Test, Permissions: []pihu.Permission{"webhook:write"}}, want: auth.RefusedEnvironment, rateTold: true},
		// The limit is spent before the permission is looked at.
		{name: "LimitBeforePermission", rateLimit: "1/m", before: 1, need: auth.Need{Permissions: []pihu.Permission{"webhook:write"}}, want: auth.RefusedRateLimit, rateTold: true},
		{name: "CreditsSpent", credits: &ten, need: auth.Need{Cost: 4}, want: auth.Admitted, remaining: 6, rateTold: true},
		{name: "CreditsShort", credits: &one, need: auth.Need{Cost: 1}, want: auth.RefusedCredits, remaining: 0, rateTold: true},
		// A permission refused spends no credit.
		{name: "PermissionBeforeCredits", credits: &ten, need: auth.Need{Cost: 1, Permissions: []pihu.Permission{"webhook:write"}}, want: auth.RefusedPermission, missing: "webhook:write", remaining: 10, rateTold: true},
		// A replay is admitted without spending.
		{name: "ReplaySpendsNothing", credits: &ten, need: auth.Need{Cost: 1}, want: auth.Admitted, remaining: 10, rateTold: true, notCharged: true},
		// A limiter that fails lets the request through.
		{name: "LimiterDown", limiter: brokenLimiter{}, rateLimit: "1/m", need: auth.Need{}, want: auth.Admitted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, owner, _, now := setup(t)
			clock := func() time.Time { return *now }
			req := pihu.KeyRequest{Name: tc.name, Permissions: pihu.Permissions{"candidate:*"}, AllowedIPs: tc.allowed, Credits: tc.credits}
			k, _, err := pihu.NewKey(owner.AccountID, req, nil, *now)
			if err != nil {
				t.Fatal(err)
			}
			k.RateLimit = pihu.StoredRateLimit(tc.rateLimit)
			if err := store.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			limiter := tc.limiter
			if limiter == nil {
				limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock})
			}
			a := auth.New(store, auth.Options{Now: clock})
			var observed []auth.Outcome
			var limiterErrors int
			adm := auth.NewAdmission(a, auth.AdmissionOptions{
				Limiter: limiter, DefaultLimit: ratelimit.PerMinute(100), Credits: store, Now: clock,
				Observe:      func(d auth.Decision) { observed = append(observed, d.Outcome) },
				LimiterError: func(context.Context, error) { limiterErrors++ },
			})
			for range tc.before {
				if d, err := adm.Admit(ctx, k, auth.Need{ClientIP: "10.1.2.3"}); err != nil || !d.Allowed() {
					t.Fatalf("a request before: %v, %v", d.Outcome, err)
				}
			}
			observed = nil
			d, err := adm.Check(ctx, k, tc.need)
			if err == nil && d.Allowed() {
				err = adm.Charge(ctx, &d, tc.need.Cost, !tc.notCharged)
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tc.want || d.Missing != tc.missing {
				t.Errorf("outcome: got %v (missing %q), want %v (missing %q)", d.Outcome, d.Missing, tc.want, tc.missing)
			}
			if d.RateDecided != tc.rateTold {
				t.Errorf("rate decided: got %v, want %v", d.RateDecided, tc.rateTold)
			}
			if tc.limiter != nil && limiterErrors != 1 {
				t.Errorf("limiter errors told: got %d, want 1", limiterErrors)
			}
			if len(observed) != 1 || observed[0] != tc.want {
				t.Errorf("observed: got %v, want [%v]", observed, tc.want)
			}
			if tc.credits != nil {
				stored, err := store.Key(ctx, k.AccountID, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := stored.Credits.At(*now); got != tc.remaining {
					t.Errorf("credits left: got %d, want %d", got, tc.remaining)
				}
			}
			from := now.Add(-time.Hour)
			usage, err := a.Usage(ctx, k.AccountID, k.ID, from, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			want := pihu.UsageCount{KeyID: k.ID, Hour: now.Truncate(time.Hour), Allowed: int64(tc.before)}
			if tc.want == auth.Admitted {
				want.Allowed++
			} else {
				want.Refused++
				want.By[refusalOf[tc.want]]++
			}
			checkCounts(t, "usage", usage, want)
		})
	}
}

// TestOutcome_Code: each refusal has the error code the API answers with.
func TestOutcome_Code(t *testing.T) {
	for o, want := range map[auth.Outcome]string{
		auth.Admitted: "", auth.RefusedAddress: pihu.EIPNotAllowed, auth.RefusedRateLimit: pihu.ERateLimited,
		auth.RefusedPermission: pihu.EInsufficientPermissions, auth.RefusedCredits: pihu.EUsageExceeded,
	} {
		if got := o.Code(); got != want {
			t.Errorf("%v: got %q, want %q", o, got, want)
		}
	}
}

// TestAdmission_ErrStoredRateLimit: a key whose stored rate limit does not
// parse (only a key written around the API has one) is a fault for every
// request made with it, never a request run under another limit; an
// address outside its allowed_ips is still refused first.
func TestAdmission_ErrStoredRateLimit(t *testing.T) {
	ctx := context.Background()
	store, owner, _, now := setup(t)
	clock := func() time.Time { return *now }
	req := pihu.KeyRequest{Name: "bad", Permissions: pihu.Permissions{"candidate:*"}, AllowedIPs: []string{"10.0.0.0/8"}}
	k, secret, err := pihu.NewKey(owner.AccountID, req, nil, *now)
	if err != nil {
		t.Fatal(err)
	}
	k.SetStoredRestrictions("often", k.AllowedIPs.Strings())
	if err := store.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	a := auth.New(store, auth.Options{Now: clock})
	adm := auth.NewAdmission(a, auth.AdmissionOptions{
		Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{Now: clock}), DefaultLimit: ratelimit.PerMinute(100), Credits: store, Now: clock,
	})
	for i := range 2 { // a miss, then a hit
		got, err := a.AuthenticateGuarded(ctx, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.RateLimit.String() != "often" {
			t.Errorf("use %d: rate limit shown as %q, want it as stored", i, got.RateLimit)
		}
		_, err = adm.Check(ctx, got, auth.Need{ClientIP: "10.1.2.3"})
		if err == nil || !strings.Contains(err.Error(), "key "+k.ID+" has an invalid stored rate limit often") {
			t.Errorf("use %d: got %v; want the fault", i, err)
		}
		if d, err := adm.Check(ctx, got, auth.Need{ClientIP: "203.0.113.7"}); err != nil || d.Outcome != auth.RefusedAddress {
			t.Errorf("use %d from outside: got %v, %v; want %v", i, d.Outcome, err, auth.RefusedAddress)
		}
	}
}

// refusalOf is the reason each refusal counts under in usage: the error
// code the client gets.
var refusalOf = map[auth.Outcome]pihu.Refusal{
	auth.RefusedAddress:     pihu.RefusalAddress,
	auth.RefusedRateLimit:   pihu.RefusalRateLimit,
	auth.RefusedPermission:  pihu.RefusalPermission,
	auth.RefusedEnvironment: pihu.RefusalPermission,
	auth.RefusedCredits:     pihu.RefusalCredits,
}

// TestAdmission_RefusalCodes: the reason a refusal counts under in usage
// is named by the error code its door answers with.
func TestAdmission_RefusalCodes(t *testing.T) {
	for o, r := range refusalOf {
		if r.Code() != o.Code() {
			t.Errorf("%v counts as %s, answered %s", o, r.Code(), o.Code())
		}
	}
}
