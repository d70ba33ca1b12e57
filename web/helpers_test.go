package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/auth"
	"github.com/pihu-ai/pihu/internal/sqlitetest"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/web"
)

// clock is a settable time source shared by the store, the authenticator
// and the dashboard, so that tests move time instead of sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fastPassword keeps argon2id cheap in tests; the hashes still carry
// their parameters, and CheckPassword reads them from there.
var fastPassword = web.PasswordParams{Memory: 64, Time: 1, Threads: 1}

// dashboard is the real dashboard on a temp SQLite file, over httptest.
type dashboard struct {
	*httptest.Server
	Store *sqlite.DB
	Auth  *auth.Authenticator
	Clock *clock
}

// clientHeader names the header a test sets to act from another client
// address (see newDashboard's ClientIP).
const clientHeader = "X-Test-Client"

func newDashboard(tb testing.TB, options ...func(*web.Options)) *dashboard {
	tb.Helper()
	return startDashboard(tb, false, options...)
}

// newTLSDashboard is newDashboard served over HTTPS.
func newTLSDashboard(tb testing.TB) *dashboard {
	tb.Helper()
	return startDashboard(tb, true)
}

func startDashboard(tb testing.TB, tls bool, options ...func(*web.Options)) *dashboard {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	clk := &clock{now: time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)}
	db.Now = clk.Now
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn := auth.New(db, auth.Options{Now: clk.Now, Logger: logger})
	opts := web.Options{
		Store: db, Usage: authn, Auth: authn, Logger: logger, Now: clk.Now, Password: fastPassword,
		ClientIP: func(r *http.Request) string {
			if ip := r.Header.Get(clientHeader); ip != "" {
				return ip
			}
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			return host
		},
	}
	for _, o := range options {
		o(&opts)
	}
	h, err := web.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	return &dashboard{Server: srv, Store: db, Auth: authn, Clock: clk}
}

// browser is a client with its own cookies that does not follow
// redirects, so that tests see each 303.
type browser struct {
	tb     testing.TB
	d      *dashboard
	client *http.Client
	// header is sent with every request.
	header http.Header
}

func (d *dashboard) browser(tb testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, d: d, header: http.Header{}, client: &http.Client{
		Jar:           jar,
		Transport:     d.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	Body string
}

func (b *browser) do(method, path string, form url.Values, header ...string) *page {
	b.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.d.URL+path, body)
	if err != nil {
		b.tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range b.header {
		req.Header[k] = vs
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return &page{Response: res, Body: string(raw)}
}

func (b *browser) get(path string, header ...string) *page { return b.do("GET", path, nil, header...) }
func (b *browser) post(path string, form url.Values, header ...string) *page {
	return b.do("POST", path, form, header...)
}

// created follows the 303 that a form creating something answers with
// (post/redirect/get) to the page that shows it, which it checks is 200.
func (b *browser) created(p *page) *page {
	b.tb.Helper()
	checkStatus(b.tb, p, http.StatusSeeOther)
	next := b.get(p.Header.Get("Location"))
	checkStatus(b.tb, next, http.StatusOK)
	return next
}

// form builds url.Values from name, value pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

const password = "correct horse battery"

// signUp creates an account through the sign-up form and returns its
// owner's browser, signed in.
func (d *dashboard) signUp(tb testing.TB, email string) *browser {
	tb.Helper()
	b := d.browser(tb)
	p := b.post("/signup", form("email", email, "password", password, "account_name", "Acme "+email))
	checkRedirect(tb, p, "/keys")
	return b
}

// login signs email in, in a new browser.
func (d *dashboard) login(tb testing.TB, email string) *browser {
	tb.Helper()
	b := d.browser(tb)
	checkRedirect(tb, b.post("/login", form("email", email, "password", password)), "/keys")
	return b
}

// member adds a member with role to the account of owner, through the
// team form and the invite link (used with the password the helpers sign
// up with), and returns the member's browser.
func (d *dashboard) member(tb testing.TB, owner *browser, email string, role pihu.Role) *browser {
	tb.Helper()
	p := owner.created(owner.post("/team", form("email", email, "role", string(role))))
	link := inviteLink.FindStringSubmatch(p.Body)
	if link == nil {
		tb.Fatalf("no invite link on the team page:\n%s", p.Body)
	}
	token := html(link[1])
	b := d.browser(tb)
	checkRedirect(tb, b.post("/invite", form("token", token, "email", email, "password", password)), "/keys")
	return b
}

var (
	inviteLink = regexp.MustCompile(`value="http://[^"]+/invite\?token=([^"]+)"`)
	secretRe   = regexp.MustCompile(`ph_(live|test)_[0-9A-Za-z]{40,}`)
	keyIDRe    = regexp.MustCompile(`key_[0-9A-Za-z]{22}`)
	timeTagRe  = regexp.MustCompile(`<time [^>]*>|</time>`)
)

// html undoes the escaping of an attribute value.
func html(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#61;", "=", "&#34;", `"`, "&#39;", "'").Replace(s)
}

// createKey creates a key through the form and returns its id and secret:
// live, candidate:read, unless extra (name, value pairs) says otherwise.
func (b *browser) createKey(name string, extra ...string) (id, secret string) {
	b.tb.Helper()
	f := form("name", name, "permissions", "candidate:read", "environment", "live")
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	p := b.created(b.post("/keys", f))
	secret = secretRe.FindString(p.Body)
	id = keyIDRe.FindString(p.Body)
	if secret == "" || id == "" {
		b.tb.Fatalf("no key on the create page:\n%s", p.Body)
	}
	return id, secret
}

// memberOf is the person with email as a member of the account they
// joined first.
func memberOf(tb testing.TB, s pihu.Store, email string) *pihu.User {
	tb.Helper()
	p, err := s.UserByEmail(tb.Context(), email)
	if err != nil {
		tb.Fatal(err)
	}
	accounts, err := s.Memberships(tb.Context(), p.ID)
	if err != nil || len(accounts) == 0 {
		tb.Fatalf("the accounts of %s: got %v, %v", email, accounts, err)
	}
	u, err := s.User(tb.Context(), accounts[0].AccountID, p.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func checkStatus(tb testing.TB, p *page, want int) {
	tb.Helper()
	if p.StatusCode != want {
		tb.Fatalf("%s %s: got %d, want %d\n%s", p.Request.Method, p.Request.URL.Path, p.StatusCode, want, p.Body)
	}
}

func checkRedirect(tb testing.TB, p *page, to string) {
	tb.Helper()
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != to {
		tb.Fatalf("%s %s: got %d to %q, want 303 to %q\n%s", p.Request.Method, p.Request.URL.Path, p.StatusCode, p.Header.Get("Location"), to, p.Body)
	}
}

// checkContains checks that the page says each of want, in its HTML or
// in its HTML without the <time> elements' tags (a time reads as its UTC
// text; app.js shows it in the viewer's time zone).
func checkContains(tb testing.TB, p *page, want ...string) {
	tb.Helper()
	bare := timeTagRe.ReplaceAllString(p.Body, "")
	for _, w := range want {
		if !strings.Contains(p.Body, w) && !strings.Contains(bare, w) {
			tb.Errorf("%s %s: the page does not say %q\n%s", p.Request.Method, p.Request.URL.Path, w, p.Body)
		}
	}
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}
