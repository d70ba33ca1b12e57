package http

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CORS (the Fetch standard's cross-origin resource sharing) lets a page of
// another origin call the API from a browser, with an access token in
// Authorization (docs/tokens.md, the browser-app flow). Only the origins
// the operator lists may (Options.CORSOrigins, serve --cors-origins): a
// request from one of them gets Access-Control-Allow-Origin naming it, and
// its preflight is answered here; any other origin gets no CORS header,
// so the browser keeps the answer from its page. Credentials are never
// allowed (no Access-Control-Allow-Credentials): the API takes no cookie,
// and a page must send a token of its own. The dashboard, which works by
// cookies, is never shared.

// CORS response values: what a page may send, and read.
const (
	corsAllowMethods = "GET, POST, PATCH, DELETE"
	corsAllowHeaders = "Authorization, Content-Type, Idempotency-Key"
	corsExpose       = "Request-Id, RateLimit, RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, WWW-Authenticate, " +
		ReplayedHeader + ", " + HeaderCreditsRefill
	// corsMaxAge is how long, in seconds, a browser may keep a preflight's
	// answer: two hours, the most Chromium keeps one.
	corsMaxAge = "7200"
)

// ParseCORSOrigins parses a comma-separated list of the origins whose pages
// may call the API (see Options.CORSOrigins): each a scheme (http or
// https), a host and an optional port, as a browser sends it in Origin
// ("https://app.example.com", "http://localhost:3000"). It returns them
// in that form (lower case, no default port); an empty list is nil. A
// path, a query, a user, or "*" is an error: an origin is listed exactly.
func ParseCORSOrigins(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var out []string
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		bad := fmt.Errorf("%q is not an origin; write each as a browser sends it, such as https://app.example.com or http://localhost:3000 (no path, no wildcard)", entry)
		u, err := url.Parse(entry)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(entry, "?") || strings.HasSuffix(entry, "#") {
			return nil, bad
		}
		host, port := strings.ToLower(u.Hostname()), u.Port()
		if host == "" || strings.Contains(host, "*") {
			return nil, bad
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		origin := u.Scheme + "://" + host
		if port != "" && !(u.Scheme == "http" && port == "80" || u.Scheme == "https" && port == "443") {
			origin += ":" + port
		}
		out = append(out, origin)
	}
	return out, nil
}

// initCORS takes the allowed origins, checked.
func (s *Server) initCORS(origins []string) {
	if len(origins) == 0 {
		return
	}
	s.corsOrigins = make(map[string]bool, len(origins))
	for _, o := range origins {
		if parsed, err := ParseCORSOrigins(o); err != nil || len(parsed) != 1 || parsed[0] != o {
			panic(fmt.Sprintf("pihuhttp.New: Options.CORSOrigins: %q is not an origin as ParseCORSOrigins returns it", o))
		}
		s.corsOrigins[o] = true
	}
}

// corsPath reports whether path is the API's, which pages of the allowed
// origins may call: /v1/… and the public documents under /.well-known/.
func corsPath(path string) bool {
	return strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/.well-known/")
}

// cors adds the CORS headers to the answer to r, a request for the API,
// when it comes from an allowed origin, and answers it itself if it is a
// preflight (an OPTIONS with Access-Control-Request-Method): 204 with what
// may be sent. It reports whether it answered. A request from another
// origin is left as it is, without a CORS header (a preflight of it gets
// the 405 of OPTIONS): the browser refuses its page the answer.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	// The answer depends on Origin: caches must keep one per origin.
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || !s.corsOrigins[origin] {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		h.Set("Access-Control-Expose-Headers", corsExpose)
		return false
	}
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
	return true
}
