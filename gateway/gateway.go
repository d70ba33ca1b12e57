// Package gateway is what the doors for gateways share: the forward-auth
// endpoint of package http (nginx auth_request, Caddy forward_auth,
// Traefik forwardAuth, APISIX forward-auth) and Envoy's Check (package
// extauthz). A gateway asks pihu about a request it is about to forward:
// this package turns what the gateway's config and the operator's route
// table (--gateway-routes) require of that request into an auth.Need, and
// the key that passes into the headers the upstream receives. The
// decision itself is the admission's (auth.Admission), as for every door.
package gateway

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// The headers a gateway passes to its upstream for a request pihu
// admitted. A client may send them too: every documented gateway config
// removes or overwrites them, and Check's OK response removes them
// (IdentityHeaders), so that the upstream believes only pihu's.
const (
	HeaderKeyID       = "X-Pihu-Key-Id"
	HeaderAccountID   = "X-Pihu-Account-Id"
	HeaderEnvironment = "X-Pihu-Environment"
	// HeaderPermissions is the key's permissions (an access token's own),
	// comma-separated.
	HeaderPermissions = "X-Pihu-Permissions"
	// HeaderKind is KindAPIKey or KindAccessToken.
	HeaderKind = "X-Pihu-Kind"
	// HeaderIdentityID and HeaderExternalID are the id and external_id
	// of the key's identity, for a key that has one (empty otherwise).
	HeaderIdentityID = "X-Pihu-Identity-Id"
	HeaderExternalID = "X-Pihu-External-Id"
)

// Kinds of credential a request was made with.
const (
	KindAPIKey      = "api_key"
	KindAccessToken = "access_token"
)

// IdentityHeaders are the names of the headers AppendIdentity sets.
var IdentityHeaders = []string{HeaderKeyID, HeaderAccountID, HeaderEnvironment, HeaderPermissions, HeaderKind, HeaderIdentityID, HeaderExternalID}

// AppendIdentity appends to dst the headers that tell the upstream who
// made a request admitted with k: its key id (an access token's parent's),
// account, environment, rights (its permissions and its roles'; a
// token's are its own) and kind; and for a key of an identity (an access
// token's parent's), the identity's id and external_id.
func AppendIdentity(dst []pihu.Header, k *pihu.Key) []pihu.Header {
	kind := KindAPIKey
	if k.Token != nil {
		kind = KindAccessToken
	}
	if i := k.Identity; i != nil {
		dst = append(dst, pihu.Header{Name: HeaderIdentityID, Value: i.ID}, pihu.Header{Name: HeaderExternalID, Value: i.ExternalID})
	}
	return append(dst,
		pihu.Header{Name: HeaderKeyID, Value: k.ID},
		pihu.Header{Name: HeaderAccountID, Value: k.AccountID},
		pihu.Header{Name: HeaderEnvironment, Value: string(k.Environment)},
		pihu.Header{Name: HeaderPermissions, Value: joinPermissions(k.Rights())},
		pihu.Header{Name: HeaderKind, Value: kind})
}

// joinPermissions is ps, comma-separated, in one allocation.
func joinPermissions(ps pihu.Permissions) string {
	n := 0
	for _, p := range ps {
		n += len(p) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(p))
	}
	return b.String()
}

// Parameters a gateway's config gives per location: the query parameters
// of the forward-auth URL, or the context extensions of Envoy's
// per-route ext_authz settings.
const (
	// ParamPermission is a permission the request needs; repeatable (in
	// Envoy's context extensions, a comma-separated list).
	ParamPermission = "permission"
	// ParamEnvironment is the environment the key must be of: live or
	// test.
	ParamEnvironment = "environment"
	// ParamCost is how many credits the request spends of a key that has
	// credits (default 1; 0 checks that one is left without spending).
	ParamCost = "cost"
	// ParamRateLimit is a named limit the request spends: its name, or
	// its name, a colon and the cost ("tokens:10"; default 1);
	// repeatable (in Envoy's context extensions, a comma-separated
	// list).
	ParamRateLimit = "ratelimit"
)

// Params are the requirements a gateway's config gives for a location.
type Params struct {
	Permissions []pihu.Permission
	Environment pihu.Environment
	// Cost is nil when not given.
	Cost *int64
	// RateLimits are the named limits to spend; nil when none is given.
	RateLimits []auth.LimitSpend
}

// ParseParams reads the parameters get returns the values of. Returns
// EParameterInvalid, naming the parameter, for a permission that is not
// one, an environment other than live or test, a cost that is not a whole
// number from 0 to pihu.MaxCredits, or an environment or cost given more
// than once.
func ParseParams(get func(name string) []string) (Params, error) {
	var p Params
	for _, v := range get(ParamPermission) {
		p.Permissions = append(p.Permissions, pihu.Permission(v))
	}
	if err := pihu.Permissions(p.Permissions).CheckFormat(ParamPermission); err != nil {
		return p, pihu.ParamErrorf(pihu.EParameterInvalid, ParamPermission, "%s", pihu.ErrorMessage(err))
	}
	for _, v := range get(ParamRateLimit) {
		name, cost, hasCost := strings.Cut(v, ":")
		s := auth.LimitSpend{Name: name, Cost: 1}
		if hasCost {
			n, err := strconv.Atoi(cost)
			if err != nil || n < 0 || n > pihu.MaxLimitCost {
				return p, pihu.ParamErrorf(pihu.EParameterInvalid, ParamRateLimit,
					"%q must be the name of a limit, or its name and a cost from 0 to %d, such as \"tokens:10\".", ParamRateLimit, pihu.MaxLimitCost)
			}
			s.Cost = n
		}
		p.RateLimits = append(p.RateLimits, s)
	}
	if err := auth.CheckSpends(p.RateLimits, ParamRateLimit); err != nil {
		return p, err
	}
	env, err := once(get, ParamEnvironment)
	if err != nil {
		return p, err
	}
	if env != nil {
		if p.Environment, err = ParseEnvironment(*env, ParamEnvironment); err != nil {
			return p, err
		}
	}
	cost, err := once(get, ParamCost)
	if err != nil || cost == nil {
		return p, err
	}
	n, err := strconv.ParseInt(*cost, 10, 64)
	if err != nil || n < 0 || n > pihu.MaxCredits {
		return p, pihu.ParamErrorf(pihu.EParameterInvalid, ParamCost,
			"%q must be a whole number from 0 to %d: the credits the request spends (0 checks that some are left without spending).", ParamCost, int64(pihu.MaxCredits))
	}
	p.Cost = &n
	return p, nil
}

// ParseEnvironment reads the environment of param: live or test.
func ParseEnvironment(s, param string) (pihu.Environment, error) {
	if e := pihu.Environment(s); e == pihu.Live || e == pihu.Test {
		return e, nil
	}
	return "", pihu.ParamErrorf(pihu.EParameterInvalid, param, "%q must be \"live\" or \"test\": the environment the key must be of.", param)
}

// once is the value of a parameter that may be given once: nil if absent.
func once(get func(string) []string, name string) (*string, error) {
	vs := get(name)
	switch len(vs) {
	case 0:
		return nil, nil
	case 1:
		return &vs[0], nil
	}
	return nil, pihu.ParamErrorf(pihu.EParameterInvalid, name, "%q is given %d times; give it once.", name, len(vs))
}

// Need is what a request asks of its key: what its route requires (nil
// without a route table) and what the gateway's config adds (p), for the
// client at ip. Permissions add up; an environment given by both must be
// the same (else EParameterInvalid on "environment"); the cost is the
// config's if given, else the route's, else 1.
func Need(route *Route, p Params, ip string) (auth.Need, error) {
	need := auth.Need{ClientIP: ip, Permissions: p.Permissions, Environment: p.Environment, Cost: 1, RateLimits: p.RateLimits}
	if route == nil {
		if p.Cost != nil {
			need.Cost = *p.Cost
		}
		return need, nil
	}
	need.Permissions = append(append([]pihu.Permission(nil), route.Permissions...), p.Permissions...)
	switch {
	case route.Environment == "":
	case need.Environment == "":
		need.Environment = route.Environment
	case need.Environment != route.Environment:
		return need, pihu.ParamErrorf(pihu.EParameterInvalid, ParamEnvironment,
			"The gateway asks for a %s key and its route table for a %s key on %q; make them agree.", need.Environment, route.Environment, route.Pattern)
	}
	switch {
	case p.Cost != nil:
		need.Cost = *p.Cost
	case route.Cost != nil:
		need.Cost = *route.Cost
	}
	if len(route.RateLimits) > 0 {
		// The route's limits, but those the config names, whose cost
		// is the config's; then the config's.
		spends := make([]auth.LimitSpend, 0, len(route.RateLimits)+len(p.RateLimits))
		for _, s := range route.RateLimits {
			if !slices.ContainsFunc(p.RateLimits, func(t auth.LimitSpend) bool { return t.Name == s.Name }) {
				spends = append(spends, auth.LimitSpend{Name: s.Name, Cost: s.cost()})
			}
		}
		need.RateLimits = append(spends, p.RateLimits...)
		if err := auth.CheckSpends(need.RateLimits, ParamRateLimit); err != nil {
			return need, err
		}
	}
	return need, nil
}
