package auth

import (
	"context"
	"errors"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/ratelimit"
)

// Admission is the one path every door takes with a request made with an
// authenticated key or access token: the API's require, verify, the OAuth
// token endpoint, an idempotent replay, and the gateway doors. It runs the
// ordered checks of SPEC §4 and §5 once (the client's address, then the
// key's rate limit, then the environment and the permissions, then the
// credits), counts the
// request in the key's usage and in the metrics once, and returns a
// Decision that each door turns into its own answer (an HTTP error, a
// verify code, an OAuth error, a gRPC denial). A door never checks or
// counts anything of its own.
//
// It is safe for concurrent use.
type Admission struct {
	auth         *Authenticator
	limiter      ratelimit.Limiter
	defaultLimit ratelimit.Limit
	failedAuth   ratelimit.Limit
	credits      CreditSpender
	now          func() time.Time
	events       KeyEvents
	observe      func(Decision)
	limiterError func(context.Context, error)
}

// CreditSpender spends the usage credits of a key, or of an identity
// (its id), which all its keys share: pihu.CreditStore's SpendCredits
// and RefundCredits.
type CreditSpender interface {
	SpendCredits(ctx context.Context, id string, cost int64, now time.Time) (pihu.Spend, error)
	RefundCredits(ctx context.Context, id string, n int64, sp pihu.Spend, now time.Time) (bool, error)
}

// KeyEvents is told of the refusals that are webhook events of their own.
// Implementations must not block.
type KeyEvents interface {
	RateLimited(k *pihu.Key)
	UsageExceeded(k *pihu.Key)
}

// AdmissionOptions configure an Admission. Limiter and Credits are
// required.
type AdmissionOptions struct {
	Limiter ratelimit.Limiter
	// DefaultLimit is the rate limit of a key without its own.
	DefaultLimit ratelimit.Limit
	// FailedAuthLimit is how many failed authentications a client address
	// may make (see Authenticate); default 30/m.
	FailedAuthLimit ratelimit.Limit
	Credits         CreditSpender
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Events, if not nil, is told of rate-limited and out-of-credit keys.
	Events KeyEvents
	// Observe, if not nil, is given every decision, for metrics.
	Observe func(Decision)
	// LimiterError, if not nil, is told when the limiter fails; the
	// request then goes through (a rate limit protects capacity, and
	// refusing everything while it is down would be the outage it is
	// there to prevent).
	LimiterError func(context.Context, error)
}

// NewAdmission returns the admission path of a's keys.
func NewAdmission(a *Authenticator, opts AdmissionOptions) *Admission {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FailedAuthLimit == (ratelimit.Limit{}) {
		opts.FailedAuthLimit = ratelimit.PerMinute(30)
	}
	return &Admission{
		auth: a, limiter: opts.Limiter, defaultLimit: opts.DefaultLimit, failedAuth: opts.FailedAuthLimit, credits: opts.Credits,
		now: opts.Now, events: opts.Events, observe: opts.Observe, limiterError: opts.LimiterError,
	}
}

// Need is what a request asks of the key that makes it.
type Need struct {
	// ClientIP is the address of the client that sent the key, as the
	// door knows it; "" when it does not, which a key with allowed_ips
	// refuses.
	ClientIP string
	// Environment, if not "", is the environment the key must be of: a
	// gateway's location that serves live data only, or test data only.
	Environment pihu.Environment
	// Permissions are the permissions the request needs, each of them.
	Permissions []pihu.Permission
	// Cost is how many credits the request spends of a key that has
	// credits; 0 checks that one is left without spending it.
	Cost int64
	// Self is set when the request acts on the key itself, with its own
	// secret (a key revoking itself, which it may always do): no address
	// restriction applies. Its rate limit does, and it is counted.
	Self bool
	// RateLimits are the named limits the request spends, each with its
	// cost, in order (see pihu.NamedLimits). "requests" (the key's
	// rate_limit, or the default) is spent with the cost given here
	// instead of one; a name neither the key nor its identity defines is
	// not spent, and says so (LimitResult.Defined).
	RateLimits []LimitSpend
}

// LimitSpend is a named limit a request spends, and how much of it.
type LimitSpend struct {
	Name string
	// Cost is how much of the limit the request spends, from 0 (checks
	// that some is left without spending any) to pihu.MaxLimitCost.
	Cost int
}

// CheckSpends checks the named limits a door asks a request to spend:
// each name a limit's (or "requests"), once, each cost from 0 to
// pihu.MaxLimitCost, at most pihu.MaxNamedLimits + 1 of them. Returns
// EParameterInvalid on param otherwise.
func CheckSpends(spends []LimitSpend, param string) error {
	if len(spends) > pihu.MaxNamedLimits+1 {
		return pihu.ParamErrorf(pihu.EParameterInvalid, param, "%q names %d limits; a request may spend at most %d.", param, len(spends), pihu.MaxNamedLimits+1)
	}
	for i, s := range spends {
		if err := pihu.CheckLimitName(s.Name, param); err != nil {
			return err
		}
		if s.Cost < 0 || s.Cost > pihu.MaxLimitCost {
			return pihu.ParamErrorf(pihu.EParameterInvalid, param,
				"The cost of %q must be a whole number from 0 to %d: how much of the limit the request spends (0 checks that some is left without spending).", s.Name, pihu.MaxLimitCost)
		}
		for _, t := range spends[:i] {
			if t.Name == s.Name {
				return pihu.ParamErrorf(pihu.EParameterInvalid, param, "%q names the limit %q twice; name it once, with the whole cost.", param, s.Name)
			}
		}
	}
	return nil
}

// Defined reports whether name is a limit of k: "requests", or one of
// its named limits or its identity's.
func Defined(k *pihu.Key, name string) bool {
	if name == pihu.RequestsLimit {
		return true
	}
	if _, ok := k.RateLimits.Get(name); ok {
		return true
	}
	if k.Identity != nil {
		_, ok := k.Identity.RateLimits.Get(name)
		return ok
	}
	return false
}

// LimitResult is what a request spent of one named limit it asked for.
type LimitResult struct {
	Name string
	Cost int
	// Defined is false for a name neither the key nor its identity
	// defines: nothing was spent, and Limit and Rate are zero.
	Defined bool
	// Decided is false when the limiter failed, and the limit was let
	// through, or when the request was refused before the limit was
	// looked at.
	Decided bool
	// Limit and Rate are the limit (the key's own, or its identity's:
	// the one that refused, or else the one with less left) and what the
	// request left of it.
	Limit ratelimit.Limit
	Rate  ratelimit.Result
	// spent are the limiter keys spent, to give back if the request is
	// refused after all.
	spent []spent
}

// spent is a cost spent of a limiter key under a limit.
type spent struct {
	key   string
	limit ratelimit.Limit
	cost  int
}

// Outcome is what an admission decided.
type Outcome uint8

const (
	// Admitted: the request may run.
	Admitted Outcome = iota
	// RefusedAddress: the key's allowed_ips do not hold the client.
	RefusedAddress
	// RefusedRateLimit: the key's rate limit is spent.
	RefusedRateLimit
	// RefusedPermission: the key lacks Decision.Missing.
	RefusedPermission
	// RefusedCredits: the key's credits do not cover the cost.
	RefusedCredits
	// RefusedEnvironment: the key is not of Decision.Environment.
	RefusedEnvironment
)

func (o Outcome) String() string {
	if o == Admitted {
		return "admitted"
	}
	return o.Code()
}

// Code is the pihu error code of a refusal ("" when admitted).
func (o Outcome) Code() string {
	switch o {
	case RefusedAddress:
		return pihu.EIPNotAllowed
	case RefusedRateLimit:
		return pihu.ERateLimited
	case RefusedPermission, RefusedEnvironment:
		return pihu.EInsufficientPermissions
	case RefusedCredits:
		return pihu.EUsageExceeded
	}
	return ""
}

// refusal is why a refusal with o counts in its key's usage.
func (o Outcome) refusal() pihu.Refusal {
	switch o {
	case RefusedAddress:
		return pihu.RefusalAddress
	case RefusedRateLimit:
		return pihu.RefusalRateLimit
	case RefusedCredits:
		return pihu.RefusalCredits
	}
	return pihu.RefusalPermission
}

// Decision is an admission's answer, with what a door needs to word it.
type Decision struct {
	Key     *pihu.Key
	Outcome Outcome
	// Missing is the first permission needed that the key lacks.
	Missing pihu.Permission
	// Environment is the environment needed, that the key is not of.
	Environment pihu.Environment
	// Limit and Rate are the key's rate limit and what the request left
	// of it, when RateDecided (false before the limit was reached, or
	// when the limiter failed and the request went through).
	Limit       ratelimit.Limit
	Rate        ratelimit.Result
	RateDecided bool
	// Spend is the key's credits after the request, for a key that has
	// credits and got as far as them; when the identity's credits
	// refused the request (IdentityCredits), the identity's.
	Spend *pihu.Spend
	// IdentitySpend is the credits of the key's identity after the
	// request, for a key of an identity with credits that got as far as
	// them.
	IdentitySpend *pihu.Spend
	// IdentityCredits: the request was refused (RefusedCredits) because
	// the identity's credits, which all its keys share, do not cover it.
	IdentityCredits bool
	// Limits are the named limits the request asked for (Need.RateLimits
	// but "requests"), in order, as far as they were spent. RefusedBy is
	// the name of the one that refused the request, "" if none did (or
	// it was "requests", whose result is Limit and Rate).
	Limits    []LimitResult
	RefusedBy string
	// Cost is what the request spent of "requests" (1 unless
	// Need.RateLimits says otherwise).
	Cost int
}

// Allowed reports whether the request may run.
func (d Decision) Allowed() bool { return d.Outcome == Admitted }

// Admit runs every check for a request made with k and, when it passes,
// spends its credits: Check then Charge with run true.
func (a *Admission) Admit(ctx context.Context, k *pihu.Key, need Need) (Decision, error) {
	d, err := a.Check(ctx, k, need)
	if err != nil || !d.Allowed() {
		return d, err
	}
	return d, a.Charge(ctx, &d, need.Cost, true)
}

// Check runs the checks that come before the work: the client's address,
// then one request of the key's rate limit (spent here, so that a refused
// request costs the limit what a guess would), then the environment, then
// the permissions. A
// refusal is counted in the key's usage and observed; a request it admits
// must then be Charged, which counts it. The error is a fault (a key whose
// stored rate limit does not parse), never a refusal.
func (a *Admission) Check(ctx context.Context, k *pihu.Key, need Need) (Decision, error) {
	d := Decision{Key: k}
	if !need.Self && !k.AllowedIPs.Allows(need.ClientIP) {
		return a.refuse(d, RefusedAddress), nil
	}
	own, shared, ok, err := a.limits(k)
	if err != nil {
		return d, err
	}
	d.Cost = 1
	for _, s := range need.RateLimits {
		if s.Name == pihu.RequestsLimit {
			d.Cost = s.Cost
		}
	}
	res, err := a.allow(ctx, k, own, shared, ok, &d)
	switch {
	case err != nil:
		a.limiterFailed(ctx, err)
	case !res.Allowed:
		d.Rate, d.RateDecided = res, true
		if a.events != nil {
			a.events.RateLimited(k)
		}
		return a.refuse(d, RefusedRateLimit), nil
	default:
		d.Rate, d.RateDecided = res, true
	}
	if len(need.RateLimits) > 0 {
		refused, err := a.spendNamed(ctx, k, need.RateLimits, &d)
		if err != nil {
			return d, err
		}
		if refused {
			if a.events != nil {
				a.events.RateLimited(k)
			}
			return a.refuse(d, RefusedRateLimit), nil
		}
	}
	if need.Environment != "" && k.Environment != need.Environment {
		d.Environment = need.Environment
		a.giveBack(ctx, &d)
		return a.refuse(d, RefusedEnvironment), nil
	}
	rights := k.Rights()
	for _, p := range need.Permissions {
		if !rights.Grants(p) {
			d.Missing = p
			a.giveBack(ctx, &d)
			return a.refuse(d, RefusedPermission), nil
		}
	}
	return d, nil
}

// spendNamed spends the named limits of spends but "requests", in order,
// recording each in d.Limits, and reports whether one refused the
// request (d.RefusedBy): what the others spent is then given back. A
// name k and its identity do not define is not spent. The error is a
// fault: a stored limit that does not parse.
func (a *Admission) spendNamed(ctx context.Context, k *pihu.Key, spends []LimitSpend, d *Decision) (bool, error) {
	d.Limits = make([]LimitResult, 0, len(spends))
	for _, s := range spends {
		if s.Name == pihu.RequestsLimit {
			continue
		}
		r := LimitResult{Name: s.Name, Cost: s.Cost}
		own, hasOwn := k.RateLimits.Get(s.Name)
		var shared pihu.RateLimit
		hasShared := false
		if k.Identity != nil {
			shared, hasShared = k.Identity.RateLimits.Get(s.Name)
		}
		if !hasOwn && !hasShared {
			d.Limits = append(d.Limits, r)
			continue
		}
		r.Defined = true
		if err := own.Err(); hasOwn && err != nil {
			return false, errors.New("key " + k.ID + " has an invalid stored rate limit " + s.Name + "=" + own.String())
		}
		if err := shared.Err(); hasShared && err != nil {
			return false, errors.New("identity " + k.Identity.ID + " has an invalid stored rate limit " + s.Name + "=" + shared.String())
		}
		allowed := a.spendOne(ctx, k, s, own, hasOwn, shared, hasShared, &r)
		d.Limits = append(d.Limits, r)
		if !allowed {
			d.RefusedBy = s.Name
			a.giveBack(ctx, d)
			return true, nil
		}
	}
	return false, nil
}

// spendOne spends s of k's named limit: its identity's (shared), keyed
// by the identity's id and the name, and its own, keyed by the key's id
// and the name, where defined; both must admit it, and the result is the
// one that refuses it, or else the one with less left, as for the key's
// rate_limit (see allow). It reports whether the request may go on; a
// limiter that fails lets it (r.Decided stays false).
func (a *Admission) spendOne(ctx context.Context, k *pihu.Key, s LimitSpend, own pihu.RateLimit, hasOwn bool, shared pihu.RateLimit, hasShared bool, r *LimitResult) bool {
	try := func(id string, l pihu.RateLimit) (ratelimit.Result, bool) {
		lim := ratelimit.KeyLimit(l)
		key := id + "/" + s.Name
		res, err := a.limiter.AllowN(ctx, key, lim, s.Cost)
		if err != nil {
			a.limiterFailed(ctx, err)
			return res, false
		}
		if res.Allowed && s.Cost > 0 {
			r.spent = append(r.spent, spent{key: key, limit: lim, cost: s.Cost})
		}
		if !r.Decided || !res.Allowed || res.Remaining < r.Rate.Remaining {
			r.Limit, r.Rate, r.Decided = lim, res, true
		}
		return res, true
	}
	if hasShared {
		if res, ok := try(k.Identity.ID, shared); ok && !res.Allowed {
			return false
		}
	}
	if hasOwn {
		if res, ok := try(k.ID, own); ok && !res.Allowed {
			return false
		}
	}
	return true
}

// giveBack gives back what d's request spent of its named limits: it is
// refused after all, and a limit of tokens (or images…) counts the work
// that runs, not the attempts. Its requests limit stays spent: every
// request counts once, whatever its outcome.
func (a *Admission) giveBack(ctx context.Context, d *Decision) {
	for i := range d.Limits {
		for _, s := range d.Limits[i].spent {
			if err := a.limiter.RefundN(ctx, s.key, s.limit, s.cost); err != nil {
				a.limiterFailed(ctx, err)
			}
		}
		d.Limits[i].spent = nil
	}
}

// limits returns the rate limits of k: its own (or the default) and, for
// a key of an identity with a rate limit, the identity's, which all its
// keys share (ok). The error is a fault: a stored limit that does not
// parse.
func (a *Admission) limits(k *pihu.Key) (own, shared ratelimit.Limit, ok bool, err error) {
	own = a.defaultLimit
	if !k.RateLimit.IsZero() {
		if err := k.RateLimit.Err(); err != nil {
			return own, shared, false, errors.New("key " + k.ID + " has an invalid stored rate limit " + k.RateLimit.String() + ": " + err.Error())
		}
		own = ratelimit.KeyLimit(k.RateLimit)
	}
	i := k.Identity
	if i == nil || i.RateLimit.IsZero() {
		return own, shared, false, nil
	}
	if err := i.RateLimit.Err(); err != nil {
		return own, shared, false, errors.New("identity " + i.ID + " has an invalid stored rate limit " + i.RateLimit.String() + ": " + err.Error())
	}
	return own, ratelimit.KeyLimit(i.RateLimit), true, nil
}

// allow spends one request of k's rate limits (see limits), setting
// d.Limit to the limit its result is of. A key of an identity with a
// rate limit spends the identity's, keyed by the identity's id on the
// memory limiter and on Redis alike, so that all its keys share it; and
// its own too if it has one: both must admit the request, and the one
// that refuses it, or else the one with fewer requests left, is the
// result (a request its own refuses is given back to the identity's).
// Any other key spends its own limit, or the default. The error is the
// limiter's.
func (a *Admission) allow(ctx context.Context, k *pihu.Key, own, shared ratelimit.Limit, ok bool, d *Decision) (ratelimit.Result, error) {
	spend := func(key string, l ratelimit.Limit) (ratelimit.Result, error) {
		if d.Cost == 1 {
			return a.limiter.Allow(ctx, key, l)
		}
		return a.limiter.AllowN(ctx, key, l, d.Cost)
	}
	if !ok {
		d.Limit = own
		return spend(k.ID, own)
	}
	d.Limit = shared
	res, err := spend(k.Identity.ID, shared)
	if err != nil || !res.Allowed || k.RateLimit.IsZero() {
		return res, err
	}
	mine, err := spend(k.ID, own)
	switch {
	case err != nil:
		a.limiterFailed(ctx, err)
	case !mine.Allowed:
		if err := a.limiter.RefundN(ctx, k.Identity.ID, shared, d.Cost); err != nil {
			a.limiterFailed(ctx, err)
		}
		d.Limit = own
		return mine, nil
	case mine.Remaining < res.Remaining:
		d.Limit = own
		return mine, nil
	}
	return res, nil
}

// Charge ends the admission of a request that Check admitted. If run, the
// work is about to run: cost of the key's credits are spent, last, so
// that a request refused for any other reason spends none; d becomes
// RefusedCredits if they do not cover it. A key of an identity with
// credits spends cost of the identity's too, which all its keys share:
// the identity's first, then the key's own if it has some; the request
// needs both, and if the key's own are short what the identity's gave is
// given back (CreditSpender.RefundCredits), so that a refused request
// spends neither. If not run (an idempotent replay, which does not run
// again, or a request its Idempotency-Key refused), nothing is spent.
// Either way the request is counted once. The error is the store's, and
// the request is then counted as allowed (a fault, not a refusal).
//
// The spending is a write, made by ctx's actor (pihu.ActorFromContext):
// the caller, for a door that names one (the API's own requests, verify's
// verifier); where the door names none (forward auth, Envoy's Check), the
// key admitted, so that on every door a key revoked after it was
// authenticated spends nothing (the store re-checks the actor) and the
// request is refused with the revocation's error.
func (a *Admission) Charge(ctx context.Context, d *Decision, cost int64, run bool) error {
	k := d.Key
	if !run {
		// Nothing runs: what it would have cost of its named limits is
		// not spent.
		a.giveBack(ctx, d)
	}
	shared := k.Identity.HasCredits()
	if run && (k.Credits != nil || shared) {
		now := a.now()
		if _, ok := pihu.ActorFromContext(ctx); !ok {
			ctx = pihu.NewContextWithActor(ctx, pihu.Actor{AccountID: k.AccountID, KeyID: k.ID, At: now})
		}
		if shared {
			if refused, err := a.spendIdentity(ctx, d, cost, now); refused || err != nil {
				return err
			}
		}
		if k.Credits != nil {
			sp, err := a.credits.SpendCredits(ctx, k.ID, cost, now)
			if err != nil {
				a.refundIdentity(ctx, d, cost, now)
				a.auth.CountAllowed(k)
				return err
			}
			d.Spend = &sp
			if !sp.OK {
				a.refundIdentity(ctx, d, cost, now)
				if a.events != nil {
					a.events.UsageExceeded(k)
				}
				a.giveBack(ctx, d)
				*d = a.refuse(*d, RefusedCredits)
				return nil
			}
		}
	}
	a.auth.CountAllowed(k)
	if a.observe != nil {
		a.observe(*d)
	}
	return nil
}

// spendIdentity spends cost of the credits of d's identity, which all its
// keys share, and reports whether the request is refused for them (d is
// then the refusal, counted). An identity deleted since the key was read
// is no longer the key's: nothing is spent.
func (a *Admission) spendIdentity(ctx context.Context, d *Decision, cost int64, now time.Time) (refused bool, err error) {
	k := d.Key
	sp, err := a.credits.SpendCredits(ctx, k.Identity.ID, cost, now)
	switch {
	case pihu.ErrorCode(err) == pihu.ENotFound:
	case err != nil:
		a.auth.CountAllowed(k)
		return false, err
	case !sp.OK:
		d.Spend, d.IdentitySpend, d.IdentityCredits = &sp, &sp, true
		if a.events != nil {
			a.events.UsageExceeded(k)
		}
		a.giveBack(ctx, d)
		*d = a.refuse(*d, RefusedCredits)
		return true, nil
	case sp.Remaining >= 0:
		d.IdentitySpend = &sp
	}
	return false, nil
}

// refundIdentity gives back the cost d's identity spent, for a request
// its key's own credits then refused (or could not spend). A refund that
// fails is logged by no one: the credits are lost, never spent twice.
func (a *Admission) refundIdentity(ctx context.Context, d *Decision, cost int64, now time.Time) {
	sp := d.IdentitySpend
	if sp == nil || cost == 0 {
		return
	}
	if ok, err := a.credits.RefundCredits(context.WithoutCancel(ctx), d.Key.Identity.ID, cost, *sp, now); err == nil && ok {
		refunded := *sp
		refunded.Remaining += cost
		d.IdentitySpend = &refunded
	}
}

// refuse counts and observes a refusal of d's key.
func (a *Admission) refuse(d Decision, o Outcome) Decision {
	d.Outcome = o
	a.auth.CountRefused(d.Key, o.refusal())
	if a.observe != nil {
		a.observe(d)
	}
	return d
}
