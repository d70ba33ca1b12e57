package http

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/gateway"
)

// The forward-auth endpoint: a gateway (nginx auth_request, Caddy
// forward_auth, Traefik forwardAuth, APISIX forward-auth) asks about each
// request it is about to forward, and passes it on if the answer is a 2xx,
// with the identity headers of the answer (see package gateway). Its
// answer is the admission's, as for a request made to the API: a refusal
// is exactly the API's (status, WWW-Authenticate, Retry-After, RateLimit
// headers and error body), so that a client behind a gateway sees the
// errors of a client calling pihu.

// forwardAuthPath is the path of the forward-auth endpoint.
const forwardAuthPath = "/v1/auth/forward"

// forwardAuthMethods are the methods it takes: nginx, Caddy and Traefik
// send GET, APISIX GET or POST; a gateway that sends the client's own
// method (Traefik's preserveRequestMethod) may send any of them.
var forwardAuthMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Parameters of the forward-auth URL besides the requirements of package
// gateway (permission, environment, cost).
const (
	// paramAuthRequest=1 asks for the answers nginx's auth_request can
	// pass on: it turns any answer but a 2xx, 401 or 403 into a 500, and
	// drops the body of every answer. Every refusal then carries its
	// status in HeaderStatus and its error body in HeaderError, and one
	// that is not a 401 is answered as 403, for the nginx config to
	// answer the client with them (see docs/gateways.md).
	paramAuthRequest = "auth_request"
	// HeaderStatus is the status of a refusal, with auth_request=1.
	HeaderStatus = "X-Pihu-Status"
	// HeaderError is the error body of a refusal, with auth_request=1.
	HeaderError = "X-Pihu-Error"
)

var forwardAuthParams = []string{gateway.ParamPermission, gateway.ParamEnvironment, gateway.ParamCost, gateway.ParamRateLimit, paramAuthRequest}

// forwarded is what a gateway says of the request it asks about: its
// method, URI (path and query) and host, from the headers the gateway
// sets; known only if the gateway is a trusted proxy.
type forwarded struct {
	method, uri, host string
	known             bool
}

// initGateway registers the forward-auth endpoint, with the route table
// of the options.
func (s *Server) initGateway(opts Options) {
	s.gatewayRoutes = opts.GatewayRoutes
	for _, m := range forwardAuthMethods {
		s.handle(m+" "+forwardAuthPath, http.HandlerFunc(s.forwardAuth))
	}
}

// Admission is the admission path of s, for another door of the same
// server to decide through, counting and refusing as the API does
// (Envoy's Check, package extauthz).
func (s *Server) Admission() *auth.Admission { return s.adm }

// forwardAuth decides about the request a gateway is about to forward.
func (s *Server) forwardAuth(w http.ResponseWriter, r *http.Request) {
	orig, err := s.original(r)
	var q forwardQuery
	if q.raw = r.URL.RawQuery; q.raw != "" {
		q.values, q.err = url.ParseQuery(q.raw)
		q.clients = orig.known && q.raw == rawQuery(orig.uri)
	}
	nginx := !q.clients && q.values.Get(paramAuthRequest) == "1"
	if err == nil {
		err = s.forwardDecide(w, r, orig, q)
	}
	if err != nil {
		s.forwardRefuse(w, r, err, nginx)
	}
	if rw, ok := w.(*responseWriter); ok && rw.key != nil {
		s.logForwarded(r, rw, orig, err)
	}
}

// logForwarded records, in the request log, the original request a
// gateway asked about with a key, if the gateway said which it is: its
// method and path (never its query string), and the status and code of
// the decision as the API words it (a refusal's, not the 403 that
// auth_request=1 turns it into).
func (s *Server) logForwarded(r *http.Request, rw *responseWriter, orig forwarded, err error) {
	k := rw.key
	e := pihu.RequestLogEntry{RequestID: requestID(r.Context()), AccountID: k.AccountID, KeyID: k.ID,
		Door: pihu.DoorForward, Status: rw.status, IP: clientIP(r)}
	if err != nil {
		e.Code = pihu.ErrorCode(err)
		e.Status, _ = pihu.ErrorStatus(e.Code)
	}
	if orig.known {
		e.Method, e.Path = orig.method, uriPath(orig.uri)
	}
	if k.Token != nil {
		e.TokenID = k.Token.ID
	}
	s.auth.LogRequest(&e)
	rw.logged = true
}

// forwardQuery is the forward-auth URL's query string, read once: values is what
// could be read of it, err why the rest could not; clients is whether it
// is the original request's own (see forwardNeed).
type forwardQuery struct {
	raw     string
	values  url.Values
	err     error
	clients bool
}

// noStore is the Cache-Control of a decision, shared: a slice of one
// value at its capacity, which an Add would copy, never change.
var noStore = []string{"no-store"}

// forwardDecide authenticates the request's key and admits the original
// request it describes, and answers 200 with the identity headers; or
// returns the error to refuse it with.
func (s *Server) forwardDecide(w http.ResponseWriter, r *http.Request, orig forwarded, q forwardQuery) error {
	need, err := s.forwardNeed(r, orig, q)
	if err != nil {
		return err
	}
	k, err := s.authenticate(w, r)
	if err != nil {
		s.observeAuthFailure(err)
		return err
	}
	if rw, ok := w.(*responseWriter); ok {
		rw.key = k
	}
	d, err := s.check(w, r, k, need)
	if err != nil {
		return err
	}
	if err := s.adm.Charge(r.Context(), &d, need.Cost, true); err != nil {
		return err
	}
	if !d.Allowed() {
		// Only a refusal of the credits is new: an admitted request's
		// headers were set by check.
		return s.refusal(w, r, d)
	}
	var buf [7]pihu.Header
	h := w.Header()
	setHeaders(h, gateway.AppendIdentity(buf[:0], k))
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	return nil
}

// forwardNeed is what the original request needs of its key: what the
// forward-auth URL's parameters and the route table require.
//
// The URL's parameters are the gateway config's. A gateway that sends the
// client's own query string instead (Caddy does, when its uri has none)
// makes the two look alike: when the query is the original request's,
// clients is true, and the parameters it does not take are ignored rather
// than refused, one it cannot read makes none, and a cost can only raise
// what is spent, never lower it.
func (s *Server) forwardNeed(r *http.Request, orig forwarded, q forwardQuery) (auth.Need, error) {
	if err := q.check(); err != nil {
		return auth.Need{}, err
	}
	clients := q.clients
	p, err := gateway.ParseParams(func(name string) []string { return q.values[name] })
	if err != nil {
		if !clients {
			return auth.Need{}, err
		}
		p = gateway.Params{}
	}
	if s.gatewayRoutes != nil && !orig.known {
		return auth.Need{}, pihu.ParamErrorf(pihu.EParameterMissing, "X-Forwarded-Uri",
			"The gateway did not say which request it asks about, so its route cannot be found: it must send X-Forwarded-Method and X-Forwarded-Uri (or X-Original-Method and X-Original-URI), and be one of the server's trusted proxies.")
	}
	cost := p.Cost
	if clients {
		// The client's own query names no limit to spend: it could
		// name one its key does not have to spend less.
		p.Cost, p.RateLimits = nil, nil
	}
	need, err := s.gatewayRoutes.Need(orig.method, orig.host, orig.uri, p, clientIP(r))
	if clients && cost != nil && *cost > need.Cost {
		need.Cost = *cost
	}
	return need, err
}

// check refuses a query string of the gateway's config that is not right:
// one it cannot read, a parameter the endpoint does not take, or
// auth_request with another value than 1. The original request's own
// query string is not the config's, and is not checked (see
// forwardNeed).
func (q forwardQuery) check() error {
	if q.clients {
		return nil
	}
	if q.err != nil {
		return malformedQuery(q.raw)
	}
	// In the order of the names, as every query string of the API.
	for _, name := range slices.Sorted(maps.Keys(q.values)) {
		switch vs := q.values[name]; {
		case !slices.Contains(forwardAuthParams, name):
			return unknownParameter(name, forwardAuthParams)
		case name == paramAuthRequest && (len(vs) > 1 || vs[0] != "1"):
			return pihu.ParamErrorf(pihu.EParameterInvalid, name, "%q takes the value 1, once: auth_request=1 asks for the answers nginx's auth_request can pass on.", name)
		}
	}
	return nil
}

// rawQuery is the query string of a request URI, "" if none.
func rawQuery(uri string) string {
	_, q, _ := strings.Cut(uri, "?")
	return q
}

// original reads what a gateway says of the request it asks about:
// X-Forwarded-Method, X-Forwarded-Uri and X-Forwarded-Host (Caddy,
// Traefik, APISIX), or X-Original-Method and X-Original-URI (nginx) or
// X-Original-URL (ingress-nginx, an absolute URL). They
// are believed from a trusted proxy only (Options.TrustedProxies): from
// any other peer the original request is unknown. Returns
// EParameterInvalid, naming the header, for one that is given twice or
// is not a method or a request URI.
func (s *Server) original(r *http.Request) (forwarded, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !auth.Trusted(host, s.trustedProxies) {
		return forwarded{}, nil
	}
	var f forwarded
	if f.method, err = forwardedHeader(r, "X-Forwarded-Method", "X-Original-Method"); err != nil {
		return f, err
	}
	if f.uri, err = forwardedHeader(r, "X-Forwarded-Uri", "X-Original-Uri", "X-Original-Url"); err != nil {
		return f, err
	}
	if f.method == "" || f.uri == "" {
		return forwarded{}, nil
	}
	if !httpguts.ValidHeaderFieldName(f.method) { // a method is a token, as a header name is
		return f, pihu.ParamErrorf(pihu.EParameterInvalid, "X-Forwarded-Method", "The gateway's X-Forwarded-Method (or X-Original-Method) is not an HTTP method.")
	}
	// A list is the proxies' in turn: the last is the one in front of
	// pihu.
	f.host = r.Header.Get("X-Forwarded-Host")
	f.host = strings.TrimSpace(f.host[strings.LastIndexByte(f.host, ',')+1:])
	if !strings.HasPrefix(f.uri, "/") {
		// An absolute URI (ingress-nginx's X-Original-URL), whose host
		// is the original request's when no X-Forwarded-Host says.
		u, err := url.ParseRequestURI(f.uri)
		if err != nil || u.Host == "" {
			return f, pihu.ParamErrorf(pihu.EParameterInvalid, "X-Forwarded-Uri", "The gateway's X-Forwarded-Uri (or X-Original-URI, X-Original-URL) is not the path and query of a request.")
		}
		if f.host == "" {
			f.host = u.Host
		}
	}
	f.known = true
	return f, nil
}

// uriPath is the path of uri, a request target: a path and query, or an
// absolute URI (whose scheme and host are dropped). Never its query
// string.
func uriPath(uri string) string {
	if !strings.HasPrefix(uri, "/") {
		if u, err := url.ParseRequestURI(uri); err == nil {
			return u.EscapedPath()
		}
	}
	return pihu.PathOnly(uri)
}

// forwardedHeader is the value of the first of names r has, "" for none;
// EParameterInvalid if it is given more than once.
func forwardedHeader(r *http.Request, names ...string) (string, error) {
	for _, name := range names {
		switch vs := r.Header[name]; len(vs) {
		case 0:
			continue
		case 1:
			return vs[0], nil
		default:
			return "", pihu.ParamErrorf(pihu.EParameterInvalid, name, "The gateway sent %s %d times; it must set it once.", name, len(vs))
		}
	}
	return "", nil
}

// forwardRefuse writes the refusal of err: the API's error response; with
// auth_request=1 (nginx), with its status and body in headers too, as a
// 403 unless it is a 401.
func (s *Server) forwardRefuse(w http.ResponseWriter, r *http.Request, err error, nginx bool) {
	status, body := s.errorResponse(w, r, err)
	if !nginx {
		writeJSON(w, status, body)
		return
	}
	b, merr := json.Marshal(body)
	if merr != nil {
		writeJSON(w, status, body)
		return
	}
	h := w.Header()
	h.Set(HeaderStatus, strconv.Itoa(status))
	h.Set(HeaderError, string(b))
	if status != http.StatusUnauthorized {
		status = http.StatusForbidden
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
