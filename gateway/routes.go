package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
)

// Routes is an operator's route table (serve --gateway-routes FILE): what
// each route of the services behind a gateway requires of the key of a
// request, for a gateway that asks pihu about every request with the same
// config. Routes are patterns of net/http.ServeMux ("GET /v1/orders/{id}",
// "api.example.com/admin/", "/"), matched as ServeMux matches them: the
// most specific pattern wins, a pattern with a method matches that method
// (GET also HEAD), one without matches every method. A request no route
// matches is refused (404): add the route "/" to let every other request
// through with any valid key, or with what it requires.
//
// The file is JSON:
//
//	{"routes": [
//	  {"route": "GET /v1/interviews/{id}", "permissions": ["interview:read"]},
//	  {"route": "POST /v1/interviews", "permissions": ["interview:write"], "environment": "live", "cost": 5},
//	  {"route": "POST /v1/completions", "ratelimits": [{"name": "tokens", "cost": 100}]},
//	  {"route": "/"}
//	]}
//
// A Routes is safe for concurrent use.
type Routes struct {
	mux *http.ServeMux
}

// Route is one route of a route table and what it requires.
type Route struct {
	// Pattern is the route, a pattern of net/http.ServeMux.
	Pattern string `json:"route"`
	// Permissions are the permissions a key needs on the route (none:
	// any valid key).
	Permissions []pihu.Permission `json:"permissions"`
	// Environment, if set, is the environment the key must be of.
	Environment pihu.Environment `json:"environment"`
	// Cost is the credits the request spends of a key that has credits
	// (nil: 1).
	Cost *int64 `json:"cost"`
	// RateLimits are the named limits the request spends, each with its
	// cost (see auth.Need.RateLimits).
	RateLimits []RouteLimit `json:"ratelimits"`
}

// RouteLimit is a named limit a route spends.
type RouteLimit struct {
	Name string `json:"name"`
	// Cost is how much of it the request spends (nil: 1).
	Cost *int `json:"cost"`
}

func (l RouteLimit) cost() int {
	if l.Cost == nil {
		return 1
	}
	return *l.Cost
}

// ServeHTTP makes a Route a handler of the table's ServeMux, which only
// finds it: it is never served.
func (*Route) ServeHTTP(http.ResponseWriter, *http.Request) {}

// LoadRoutes reads the route table in the file at path (see Routes). The
// error says what is wrong and where, for the operator to fix.
func LoadRoutes(path string) (*Routes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rt, err := ParseRoutes(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rt, nil
}

// ParseRoutes reads a route table (see Routes): a JSON object with a
// non-empty "routes" array, every route a valid ServeMux pattern that
// conflicts with no other, with valid permissions, environment and cost,
// and no field the table does not know.
func ParseRoutes(b []byte) (*Routes, error) {
	var file struct {
		Routes []*Route `json:"routes"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("not a route table: %w (see the example in docs/gateways.md)", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a route table: there is more after its JSON object")
	}
	if len(file.Routes) == 0 {
		return nil, errors.New(`no "routes": every request would be refused; list the routes, or the route "/" for every request`)
	}
	rt := &Routes{mux: http.NewServeMux()}
	for i, r := range file.Routes {
		if r == nil {
			return nil, fmt.Errorf("route %d is null", i+1)
		}
		if err := rt.add(r); err != nil {
			return nil, fmt.Errorf("route %d (%q): %w", i+1, r.Pattern, err)
		}
	}
	return rt, nil
}

// add checks r and adds it to the table.
func (rt *Routes) add(r *Route) (err error) {
	if strings.TrimSpace(r.Pattern) == "" {
		return errors.New(`"route" is missing: give a pattern such as "GET /v1/orders/{id}"`)
	}
	if err := pihu.Permissions(r.Permissions).CheckFormat("permissions"); err != nil {
		return errors.New(pihu.ErrorMessage(err))
	}
	if r.Environment != "" {
		if _, err := ParseEnvironment(string(r.Environment), "environment"); err != nil {
			return errors.New(pihu.ErrorMessage(err))
		}
	}
	if r.Cost != nil && (*r.Cost < 0 || *r.Cost > pihu.MaxCredits) {
		return fmt.Errorf(`"cost" must be a whole number from 0 to %d`, int64(pihu.MaxCredits))
	}
	spends := make([]auth.LimitSpend, len(r.RateLimits))
	for i, l := range r.RateLimits {
		spends[i] = auth.LimitSpend{Name: l.Name, Cost: l.cost()}
	}
	if err := auth.CheckSpends(spends, "ratelimits"); err != nil {
		return errors.New(pihu.ErrorMessage(err))
	}
	// ServeMux panics on a pattern it cannot parse, or that conflicts
	// with one registered before: that is the table's error.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	rt.mux.Handle(r.Pattern, r)
	return nil
}

// Match returns the route of a request, given its method, host (the Host
// header; "" matches only patterns without a host) and URI (its path and
// query, as the client sent them), or nil if no route matches it. A path
// that ServeMux would redirect (one not in its clean form, or a directory
// without its trailing slash) matches no route: its answer is the
// upstream's business, not a route's, and refusing it is the safe side.
func (rt *Routes) Match(method, host, uri string) *Route {
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil
	}
	h, _ := rt.mux.Handler(&http.Request{Method: method, Host: host, URL: u})
	r, _ := h.(*Route)
	return r
}

// Need is what a request needs of its key (see the function Need): what
// the gateway's parameters p ask, and, if rt is not nil, what the route of
// the original request (its method, host and URI) requires. Returns
// ENotFound if rt has no route for the request.
func (rt *Routes) Need(method, host, uri string, p Params, ip string) (auth.Need, error) {
	var route *Route
	if rt != nil {
		if route = rt.Match(method, host, uri); route == nil {
			path, _, _ := strings.Cut(uri, "?")
			return auth.Need{}, pihu.Errorf(pihu.ENotFound, "There is nothing at %s %s behind this gateway: no route of its route table matches it.",
				pihu.MaskSecrets(method), pihu.MaskSecrets(path))
		}
	}
	return Need(route, p, ip)
}
