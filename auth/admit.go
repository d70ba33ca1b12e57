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
	if need.Environment != "" && k.Environment != need.Environment {
		d.Environment = need.Environment
		return a.refuse(d, RefusedEnvironment), nil
	}
	rights := k.Rights()
	for _, p := range need.Permissions {
		if !rights.Grants(p) {
			d.Missing = p
			return a.refuse(d, RefusedPermission), nil
		}
	}
	return d, nil
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
	if !ok {
		d.Limit = own
		return a.limiter.Allow(ctx, k.ID, own)
	}
	d.Limit = shared
	res, err := a.limiter.Allow(ctx, k.Identity.ID, shared)
	if err != nil || !res.Allowed || k.RateLimit.IsZero() {
		return res, err
	}
	mine, err := a.limiter.Allow(ctx, k.ID, own)
	switch {
	case err != nil:
		a.limiterFailed(ctx, err)
	case !mine.Allowed:
		if err := a.limiter.Refund(ctx, k.Identity.ID, shared); err != nil {
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
	shared := k.Identity.HasCredits()
	if run && (k.Credits != nil || shared) {
		now := a.now()
		if _, ok := pihu.ActorFromContext(ctx); !ok {
			ctx = pihu.NewContextWithActor(ctx, pihu.Actor{AccountID: k.AccountID, KeyID: k.ID, At: now})
		}
		if shared {
			sp, err := a.credits.SpendCredits(ctx, k.Identity.ID, cost, now)
			switch {
			case pihu.ErrorCode(err) == pihu.ENotFound:
				// Deleted since the key was read: the key no
				// longer has it.
			case err != nil:
				a.auth.CountAllowed(k)
				return err
			case !sp.OK:
				d.Spend, d.IdentitySpend, d.IdentityCredits = &sp, &sp, true
				if a.events != nil {
					a.events.UsageExceeded(k)
				}
				*d = a.refuse(*d, RefusedCredits)
				return nil
			case sp.Remaining >= 0:
				d.IdentitySpend = &sp
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
