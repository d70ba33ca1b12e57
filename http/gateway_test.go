package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/gateway"
	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// The gateway tests run the configs of docs/gateways.md, as written there,
// in the real nginx and Caddy: each is started as a child process on a free
// port, between a client and a small upstream that echoes the headers it
// got, with pihu's real server behind it. Only the addresses are changed:
// pihu's (127.0.0.1:8080 in the docs), the upstream's (127.0.0.1:3000) and
// the gateway's own port (8443). A test skips, saying so, when its gateway
// is not installed (.ci/run installs both).

// gatewayConfig is the fenced block that follows the marker
// <!-- gateway-config: name --> in docs/gateways.md.
func gatewayConfig(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "gateways.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- gateway-config: " + regexp.QuoteMeta(name) + " -->\n```\\w*\n(.*?)```")
	m := re.FindSubmatch(doc)
	if m == nil {
		t.Fatalf("docs/gateways.md has no block marked gateway-config: %s", name)
	}
	return string(m[1])
}

// substitute replaces each of the docs' addresses in config, failing if
// one is not there: a config that no longer names them would not be the
// one tested.
func substitute(t *testing.T, config string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(config, pairs[i]) {
			t.Fatalf("the documented config no longer has %q", pairs[i])
		}
	}
	return strings.NewReplacer(pairs...).Replace(config)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// gatewayBinary is the path of a gateway's binary; the test skips
// without it.
func gatewayBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian: apt-get install -y %s): the test of its documented config needs it", name, pkg)
	}
	return bin
}

// startProcess runs a gateway until the test ends, and waits until it
// takes connections on port.
func startProcess(t *testing.T, port string, cmd *exec.Cmd) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited:\n%s", cmd.Path, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s:\n%s", cmd.Path, port, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNginx runs the documented nginx config in front of upstream, with
// pihu at pihuAddr; it returns the gateway's address.
func startNginx(t *testing.T, pihuAddr, upstream string) string {
	bin := gatewayBinary(t, "nginx", "nginx-light")
	port := freePort(t)
	site := substitute(t, gatewayConfig(t, "nginx"),
		"127.0.0.1:8080", pihuAddr, "127.0.0.1:3000", upstream, "listen 8443;", "listen 127.0.0.1:"+port+";")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	// The rest of nginx.conf, as a package installs it: the site goes
	// into its http block. One process, no master, files in dir.
	main := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/site.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, port, exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf")))
	return "127.0.0.1:" + port
}

// startCaddy runs the documented Caddyfile in front of upstream, with
// pihu at pihuAddr; it returns the gateway's address.
func startCaddy(t *testing.T, pihuAddr, upstream string) string {
	bin := gatewayBinary(t, "caddy", "caddy")
	port := freePort(t)
	site := substitute(t, gatewayConfig(t, "caddy"),
		"127.0.0.1:8080", pihuAddr, "127.0.0.1:3000", upstream, ":8443 {", ":"+port+" {")
	dir := t.TempDir()
	// No admin endpoint and no certificates: a site on a port of its own.
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte("{\n\tadmin off\n\tauto_https off\n}\n\n"+site), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	startProcess(t, port, cmd)
	return "127.0.0.1:" + port
}

// echo is the upstream: it answers every request with the headers it got.
type echo struct {
	*httptest.Server
	mu   sync.Mutex
	last http.Header
}

func newEcho(t *testing.T) *echo {
	e := &echo{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.last = r.Header.Clone()
		e.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "upstream")
	}))
	t.Cleanup(e.Close)
	return e
}

// got is the headers of the last request the upstream got, and forgets
// them.
func (e *echo) got() http.Header {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.last
	e.last = nil
	return h
}

// clientFrom is a client whose connections come from the loopback
// address ip (any of 127.0.0.0/8 is this machine's): the client's address
// as the gateway sees it, never the gateway's own (127.0.0.1).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

type gatewayResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r gatewayResponse) errorCode(t *testing.T) pihuhttp.ErrorObject {
	t.Helper()
	var b pihuhttp.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("a refusal that is not pihu's error body (%d %v): %q", r.status, r.header, r.body)
	}
	if r.header.Get("Content-Type") != "application/json" || b.Error.RequestID == "" || r.header.Get("Request-Id") != b.Error.RequestID {
		t.Errorf("a refusal without pihu's headers: %v %s", r.header, r.body)
	}
	return b.Error
}

// testGateway runs the cases every gateway passes, through the gateway
// at addr (started by start), in front of pihu's server ts and the
// upstream up. rateLimitHeaders is whether the config gives the client
// the key's RateLimit headers on an admitted request.
func testGateway(t *testing.T, start func(t *testing.T, pihuAddr, upstream string) string, rateLimitHeaders bool) {
	ts := newTestServer(t, behindProxy(t), func(o *pihuhttp.Options) { o.FailedAuthLimit = ratelimit.PerMinute(3) })
	up := newEcho(t)
	addr := start(t, strings.TrimPrefix(ts.URL, "http://"), strings.TrimPrefix(up.URL, "http://"))
	do := func(from, path, key string, headers map[string]string) gatewayResponse {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), "GET", "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := clientFrom(from).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return gatewayResponse{res.StatusCode, res.Header, b}
	}
	const client = "127.0.0.2"
	forged := map[string]string{}
	for _, h := range gateway.IdentityHeaders {
		forged[h] = "forged"
	}
	forged["X-Pihu-Status"] = "200"
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["interview:read","token:write"]}`)

	t.Run("Allowed", func(t *testing.T) {
		r := do(client, "/v1/interviews/intv_1?page=2&permission=api_key:write&cost=0", reader.Key, forged)
		if r.status != 200 || string(r.body) != "upstream" {
			t.Fatalf("got %d %s, want the upstream's answer", r.status, r.body)
		}
		got := up.got()
		want := map[string]string{gateway.HeaderKeyID: reader.ID, gateway.HeaderAccountID: ts.Account.ID, gateway.HeaderEnvironment: "live",
			gateway.HeaderPermissions: "interview:read,token:write", gateway.HeaderKind: "api_key", "X-Pihu-Status": ""}
		for name, v := range want {
			if vs := got.Values(name); strings.Join(vs, ",") != v {
				t.Errorf("the upstream got %s %q, want %q", name, vs, v)
			}
		}
		if rateLimitHeaders && r.header.Get("RateLimit-Limit") != "1000" {
			t.Errorf("the client got no RateLimit headers: %v", r.header)
		}
	})
	t.Run("AccessToken", func(t *testing.T) {
		tok := ts.mint(t, reader.Key, `{"permissions":["interview:read"]}`)
		if r := do(client, "/v1/interviews", tok.AccessToken, nil); r.status != 200 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if got := up.got(); got.Get(gateway.HeaderKind) != "access_token" || got.Get(gateway.HeaderKeyID) != reader.ID || got.Get(gateway.HeaderPermissions) != "interview:read" {
			t.Errorf("the upstream got %v", got)
		}
	})
	t.Run("NoKey", func(t *testing.T) {
		r := do(client, "/v1/interviews", "", nil)
		if r.status != 401 || r.errorCode(t).Code != "missing_api_key" || r.header.Values("WWW-Authenticate")[0] != `Bearer realm="pihu"` || len(r.header.Values("WWW-Authenticate")) != 1 {
			t.Errorf("got %d %v %s", r.status, r.header, r.body)
		}
	})
	t.Run("PermissionMissing", func(t *testing.T) {
		r := do(client, "/v1/admin/keys", reader.Key, nil)
		e := r.errorCode(t)
		if r.status != 403 || e.Code != "insufficient_permissions" || e.Required != "api_key:write" ||
			!strings.Contains(r.header.Get("WWW-Authenticate"), `scope="api_key:write"`) || r.header.Get("RateLimit-Limit") != "1000" {
			t.Errorf("got %d %v %s", r.status, r.header, r.body)
		}
		if got := up.got(); got != nil {
			t.Error("the upstream got a refused request")
		}
	})
	t.Run("RateLimited", func(t *testing.T) {
		k := ts.newKey(t, ts.Owner, `{"name":"twice","permissions":["interview:read"],"rate_limit":"2/m"}`).Key
		for i := range 2 {
			if r := do(client, "/v1/interviews", k, nil); r.status != 200 {
				t.Fatalf("request %d: got %d %s", i+1, r.status, r.body)
			}
		}
		r := do(client, "/v1/interviews", k, nil)
		if r.status != 429 || r.errorCode(t).Code != "rate_limited" || r.header.Get("Retry-After") != "30" || r.header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("got %d %v %s, want 429 with Retry-After 30", r.status, r.header, r.body)
		}
	})
	t.Run("Revoked", func(t *testing.T) {
		k := ts.newKey(t, ts.Owner, `{"name":"revoked","permissions":["interview:read"]}`)
		if r := do(client, "/v1/interviews", k.Key, nil); r.status != 200 {
			t.Fatalf("before revocation: got %d %s", r.status, r.body)
		}
		if r := ts.do(t, "DELETE", "/v1/auth/api-keys/"+k.ID, ts.Owner, ""); r.status != 200 {
			t.Fatalf("revoking: %d %s", r.status, r.body)
		}
		// The very next request, with no wait.
		if r := do(client, "/v1/interviews", k.Key, nil); r.status != 401 || r.errorCode(t).Code != "revoked_api_key" {
			t.Errorf("after revocation: got %d %s", r.status, r.body)
		}
	})
	t.Run("AllowedIPs", func(t *testing.T) {
		here := ts.newKey(t, ts.Owner, `{"name":"here","permissions":["interview:read"],"allowed_ips":["`+client+`"]}`).Key
		gw := ts.newKey(t, ts.Owner, `{"name":"gateway","permissions":["interview:read"],"allowed_ips":["127.0.0.1"]}`).Key
		if r := do(client, "/v1/interviews", here, nil); r.status != 200 {
			t.Errorf("from the key's allowed address: got %d %s", r.status, r.body)
		}
		if r := do(client, "/v1/interviews", gw, nil); r.status != 403 || r.errorCode(t).Code != "ip_not_allowed" {
			t.Errorf("a key allowed from the gateway's address only: got %d %s, want 403: judged on the client's address", r.status, r.body)
		}
	})
	t.Run("ForgedHeaders", func(t *testing.T) {
		if r := do(client, "/status", "", forged); r.status != 200 {
			t.Fatalf("a location that needs no key: got %d %s", r.status, r.body)
		}
		got := up.got()
		for name := range forged {
			if vs := got.Values(name); len(vs) > 0 {
				t.Errorf("the upstream got the client's %s %q", name, vs)
			}
		}
	})
	t.Run("FailedAuthPerClient", func(t *testing.T) {
		for i, want := range []int{401, 401, 401, 429} {
			r := do("127.0.0.3", "/v1/interviews", forgedKey(), nil)
			if r.status != want {
				t.Errorf("guess %d: got %d %s, want %d", i+1, r.status, r.body, want)
			}
			if want == 429 && (r.header.Get("Retry-After") == "" || r.errorCode(t).Code != "rate_limited") {
				t.Errorf("out of failures: %v %s", r.header, r.body)
			}
		}
		if r := do("127.0.0.4", "/v1/interviews", forgedKey(), nil); r.status != 401 {
			t.Errorf("another client's bad key: got %d, want 401: one client's guesses spend another's budget", r.status)
		}
	})
}

func forgedKey() string { return forged(1)[0] }

// TestGateway_Nginx: the nginx config of docs/gateways.md, in nginx.
func TestGateway_Nginx(t *testing.T) { testGateway(t, startNginx, true) }

// TestGateway_Caddy: the Caddyfile of docs/gateways.md, in Caddy.
func TestGateway_Caddy(t *testing.T) { testGateway(t, startCaddy, false) }
