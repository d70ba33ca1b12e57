// Package extauthz serves Envoy's external authorization contract,
// envoy.service.auth.v3.Authorization/Check over gRPC, the one that Envoy,
// Istio, Contour, Gloo and Emissary call before forwarding a request. It
// decides as the API does, through the same admission path (package auth):
// the key in the request's Authorization header (an API key or an access
// token), the failed authentications of the original client's address,
// allowed_ips on that address, the environment and permissions the route
// asks for, the key's rate limit and its credits. An OK response sets the
// identity headers of package gateway on the request for the upstream (and
// removes any other X-Pihu-* header the client sent); a denial carries the
// API's status, headers and JSON error body, for Envoy to answer the
// client with.
//
// It never imports package http: both doors word their answers with the
// shared pieces of the root package, auth and gateway.
package extauthz

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/gateway"
	"github.com/pihu-ai/pihu/metrics"
)

// Server answers Check. Create it with New; it is safe for concurrent use.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	adm       *auth.Admission
	routes    *gateway.Routes
	trusted   []netip.Prefix
	now       func() time.Time
	logger    *slog.Logger
	accessLog *slog.Logger
	metrics   *metrics.Metrics
}

// Options are what a Server needs; Admission is required.
type Options struct {
	// Admission is the admission path the API's server uses
	// (pihuhttp.Server.Admission): one path, one way of counting, one
	// failed-authentication budget per address for both doors.
	Admission *auth.Admission
	// Routes, if not nil, is the operator's route table (serve
	// --gateway-routes), matched against the request Envoy asks about; a
	// request that matches no route is refused (404).
	Routes *gateway.Routes
	// TrustedProxies are the proxies in front of Envoy, if any (serve
	// --trusted-proxies): when the source address Envoy sends is one of
	// them, the client is read from the request's x-forwarded-for as the
	// API reads it. Otherwise the source address is the client.
	TrustedProxies []netip.Prefix
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives faults (default slog.Default()).
	Logger *slog.Logger
	// AccessLog, if not nil, receives one line per Check.
	AccessLog *slog.Logger
	// Metrics, if not nil, records the failed authentications (the
	// admission records its own decisions).
	Metrics *metrics.Metrics
}

// New returns a Server deciding with opts.Admission.
func New(opts Options) *Server {
	s := &Server{adm: opts.Admission, routes: opts.Routes, trusted: opts.TrustedProxies, now: opts.Now,
		logger: opts.Logger, accessLog: opts.AccessLog, metrics: opts.Metrics}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}

// Register registers s as the Authorization service of g.
func (s *Server) Register(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, s) }

// check is one Check being answered.
type check struct {
	id      string
	method  string
	path    string
	ip      string
	headers requestHeaders
	key     *pihu.Key
	code    string // the error code of a denial
	// header collects the headers of the answer.
	header []pihu.Header
}

// Check decides whether Envoy may forward the request it describes. Its
// error is never a refusal (that is a denied CheckResponse) but a request
// Envoy could not have sent, without the attributes of an HTTP request.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := s.now()
	h := req.GetAttributes().GetRequest().GetHttp()
	c := &check{id: string(pihu.AppendRequestID(nil)), method: h.GetMethod(), path: h.GetPath(), headers: headersOf(h)}
	peer := req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress()
	c.ip = auth.ClientAddress(peer, c.headers.values("x-forwarded-for"), s.trusted)
	c.header = append(c.header, pihu.Header{Name: "Request-Id", Value: c.id})
	res, st := s.decide(ctx, c, h.GetHost(), req.GetAttributes().GetContextExtensions())
	s.log(ctx, c, st, start)
	if k := c.key; k != nil {
		e := pihu.RequestLogEntry{RequestID: c.id, AccountID: k.AccountID, KeyID: k.ID, Time: s.now(), Door: pihu.DoorEnvoy,
			Method: c.method, Path: pihu.PathOnly(c.path), Status: st, IP: c.ip, Code: c.code}
		if k.Token != nil {
			e.TokenID = k.Token.ID
		}
		s.adm.LogRequest(&e)
	}
	return res, nil
}

// decide answers c, and the HTTP status of the answer.
func (s *Server) decide(ctx context.Context, c *check, host string, ext map[string]string) (*authv3.CheckResponse, int) {
	need, err := s.need(c, host, ext)
	if err != nil {
		return s.deny(ctx, c, err)
	}
	k, err := s.adm.Authenticate(ctx, c.headers.values("authorization"), c.ip)
	if err != nil {
		s.metrics.AuthFailed(pihu.ErrorCode(err))
		if e, ok := err.(*auth.TooManyFailures); ok {
			c.header = append(e.AppendHeaders(c.header), pihu.Header{Name: "Www-Authenticate", Value: e.Challenge()})
		}
		return s.deny(ctx, c, err)
	}
	c.key = k
	d, err := s.adm.Admit(ctx, k, need)
	if err != nil {
		return s.deny(ctx, c, err)
	}
	c.header = d.AppendHeaders(c.header, s.now())
	if err := d.Err(c.ip, s.now()); err != nil {
		return s.deny(ctx, c, err)
	}
	return s.allow(c), 200
}

// need is what the request needs of its key: what the route's ext_authz
// settings ask for (their context extensions: permission and ratelimit,
// comma-separated lists, environment and cost) and the route table.
func (s *Server) need(c *check, host string, ext map[string]string) (auth.Need, error) {
	p, err := gateway.ParseParams(func(name string) []string {
		v, ok := ext[name]
		switch {
		case !ok:
			return nil
		case name == gateway.ParamPermission, name == gateway.ParamRateLimit:
			return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
		}
		return []string{v}
	})
	if err != nil {
		return auth.Need{}, err
	}
	return s.routes.Need(c.method, host, c.path, p, c.ip)
}

// allow is the OK response: the identity headers for the upstream, in
// place of any the client sent, every other X-Pihu-* header of the client
// removed, and the RateLimit headers for the client.
func (s *Server) allow(c *check) *authv3.CheckResponse {
	var ids [7]pihu.Header
	ok := &authv3.OkHttpResponse{Headers: options(gateway.AppendIdentity(ids[:0], c.key))}
	for _, name := range c.headers.names() {
		if strings.HasPrefix(name, "x-pihu-") && !isIdentity(name) && !slices.Contains(ok.HeadersToRemove, name) {
			ok.HeadersToRemove = append(ok.HeadersToRemove, name)
		}
	}
	ok.ResponseHeadersToAdd = options(c.header)
	return &authv3.CheckResponse{
		Status:       &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
}

func isIdentity(name string) bool {
	for _, h := range gateway.IdentityHeaders {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// deny is the denied response of err: the API's status, headers and
// error body.
func (s *Server) deny(ctx context.Context, c *check, err error) (*authv3.CheckResponse, int) {
	st, body := pihu.NewErrorBody(err, c.id)
	c.code = body.Error.Code
	if body.Error.Code == pihu.EInternal || st == 503 {
		s.logger.LogAttrs(ctx, slog.LevelError, "check failed", slog.String("request_id", c.id), slog.String("err", pihu.MaskSecrets(err.Error())))
	}
	hs := pihu.AppendErrorHeaders(c.header, st, body)
	hs = append(hs, pihu.Header{Name: "Content-Type", Value: "application/json"}, pihu.Header{Name: "Cache-Control", Value: "no-store"})
	b, _ := json.Marshal(body) // an ErrorBody always marshals
	code := codes.PermissionDenied
	if st == 401 {
		code = codes.Unauthenticated
	}
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(code), Message: body.Error.Code},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(st)},
			Headers: options(hs),
			Body:    string(b) + "\n",
		}},
	}, st
}

// options are hs as Envoy's header options, each replacing any header of
// its name. A header given twice (none is) would keep its last value.
func options(hs []pihu.Header) []*corev3.HeaderValueOption {
	out := make([]*corev3.HeaderValueOption, 0, len(hs))
	seen := make(map[string]int, len(hs))
	for _, h := range hs {
		name := strings.ToLower(h.Name)
		o := &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: name, Value: h.Value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}
		if i, ok := seen[name]; ok {
			out[i] = o
			continue
		}
		seen[name] = len(out)
		out = append(out, o)
	}
	return out
}

// requestHeaders are the headers of the request Envoy asks about: from
// header_map, which Envoy sends with encode_raw_headers (one entry per
// header line), or else from headers (the lines of one name joined by
// commas). Names are in lower case, as in HTTP/2.
type requestHeaders struct {
	m  map[string]string
	hm []*corev3.HeaderValue
}

func headersOf(h *authv3.AttributeContext_HttpRequest) requestHeaders {
	return requestHeaders{m: h.GetHeaders(), hm: h.GetHeaderMap().GetHeaders()}
}

// values are the values of the header name (in lower case).
func (rh requestHeaders) values(name string) []string {
	if rh.hm == nil {
		if v, ok := rh.m[name]; ok {
			return []string{v}
		}
		return nil
	}
	var vs []string
	for _, hv := range rh.hm {
		if strings.EqualFold(hv.GetKey(), name) {
			v := hv.GetValue()
			if v == "" {
				v = string(hv.GetRawValue())
			}
			vs = append(vs, v)
		}
	}
	return vs
}

// names are the names of the headers, in lower case.
func (rh requestHeaders) names() []string {
	if rh.hm == nil {
		names := make([]string, 0, len(rh.m))
		for n := range rh.m {
			names = append(names, strings.ToLower(n))
		}
		return names
	}
	names := make([]string, 0, len(rh.hm))
	for _, hv := range rh.hm {
		names = append(names, strings.ToLower(hv.GetKey()))
	}
	return names
}

// log writes the line of one Check: as the API's request line, never a
// key.
func (s *Server) log(ctx context.Context, c *check, st int, start time.Time) {
	if s.accessLog == nil || !s.accessLog.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", c.id),
		slog.String("method", pihu.MaskSecrets(c.method)),
		slog.String("path", pihu.MaskSecrets(strings.SplitN(c.path, "?", 2)[0])),
		slog.Int("status", st),
		slog.Duration("duration", s.now().Sub(start)),
		slog.String("ip", c.ip),
	}
	if c.key != nil {
		attrs = append(attrs, slog.String("key_id", c.key.ID), slog.String("account_id", c.key.AccountID))
		if c.key.Token != nil {
			attrs = append(attrs, slog.String("token_id", c.key.Token.ID))
		}
	}
	s.accessLog.LogAttrs(ctx, slog.LevelInfo, "check", attrs...)
}
