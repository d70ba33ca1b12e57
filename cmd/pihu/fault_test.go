package main_test

// The fault suite: `pihu serve` instances on a PostgreSQL server and a
// Redis of the test's own (postgrestest.StartCluster, redistest.Start),
// under a load of a few clients, while the test stops, freezes, restarts
// and fails them over. Each test prints its figures (errors seen by
// clients, time to recover, acknowledged writes lost) in one line starting
// with "fault:", which docs/operations.md records. The durations of the
// issue's scenarios are shortened, with a short --key-cache-ttl, so that
// keys are seen outliving it; docs/operations.md gives the figures of a
// longer run, and its command.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
)

// faultArgs are the flags every instance of the fault suite gets: limits
// out of the way of the load.
var faultArgs = []string{"--rate-limit", "1000000/m", "--failed-auth-limit", "1000000/m"}

// faultOutage is how long the outages of the suite last, unless
// PIHU_FAULT_OUTAGE gives another duration (the longer runs of
// docs/operations.md).
func faultOutage(tb testing.TB, def time.Duration) time.Duration {
	tb.Helper()
	if v := os.Getenv("PIHU_FAULT_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			tb.Fatalf("PIHU_FAULT_OUTAGE=%q: %v", v, err)
		}
		return d
	}
	return def
}

// sample is one request of the load.
type sample struct {
	client     string
	at, took   time.Duration // since the load started
	status     int           // 0: no answer
	retryAfter string
}

// load is a few clients sending requests in a loop, each request
// recorded, until halt.
type load struct {
	start   time.Time
	http    *http.Client
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startLoad() *load {
	return &load{start: time.Now(), stop: make(chan struct{}),
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

// now is the time since the load started.
func (l *load) now() time.Duration { return time.Since(l.start) }

// client runs a client named name that sends the request req makes every
// interval, and hands each answer to seen (if not nil).
func (l *load) client(name string, every time.Duration, req func() *http.Request, seen func(status int, body []byte)) {
	l.wg.Go(func() {
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			at := l.now()
			s := sample{client: name, at: at}
			res, err := l.http.Do(req())
			if err == nil {
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				s.status, s.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
				if seen != nil {
					seen(res.StatusCode, body)
				}
			}
			s.took = l.now() - at
			l.mu.Lock()
			l.samples = append(l.samples, s)
			l.mu.Unlock()
			time.Sleep(every)
		}
	})
}

func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

// of returns the samples of client sent from from to to.
func (l *load) of(client string, from, to time.Duration) []sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sample
	for _, s := range l.samples {
		if s.client == client && s.at >= from && s.at < to {
			out = append(out, s)
		}
	}
	return out
}

// count is how many of samples have status.
func count(samples []sample, status int) int {
	n := 0
	for _, s := range samples {
		if s.status == status {
			n++
		}
	}
	return n
}

// slowest is the longest time a sample of samples took.
func slowest(samples []sample) time.Duration {
	var d time.Duration
	for _, s := range samples {
		d = max(d, s.took)
	}
	return d
}

func newRequest(method, url, key, body string) *http.Request {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// whoami is a request made with key to s.
func whoami(s *server, key string) func() *http.Request {
	return func() *http.Request { return newRequest("GET", s.url+"/v1/auth/whoami", key, "") }
}

// unknownKey is a request with a well-formed key no one created: it needs
// the database.
func unknownKey(s *server) func() *http.Request {
	return func() *http.Request { return newRequest("GET", s.url+"/v1/auth/whoami", pihu.NewSecret(pihu.Live), "") }
}

// acked keeps the keys whose creation was answered 200: acknowledged
// writes.
type acked struct {
	mu      sync.Mutex
	secrets []string
}

// writer is a client that creates keys through s with owner, keeping the
// acknowledged ones in into.
func (l *load) writer(name string, s *server, owner string, into *acked) {
	n := 0
	l.client(name, 20*time.Millisecond, func() *http.Request {
		n++
		return newRequest("POST", s.url+"/v1/auth/api-keys", owner, fmt.Sprintf(`{"name":"fault %d","permissions":["candidate:read"]}`, n))
	}, func(status int, body []byte) {
		if status != 200 {
			return
		}
		var k struct{ Key string }
		json.Unmarshal(body, &k)
		into.mu.Lock()
		into.secrets = append(into.secrets, k.Key)
		into.mu.Unlock()
	})
}

// lost is how many acknowledged keys do not work on s: acknowledged
// writes lost.
func (a *acked) lost(tb testing.TB, s *server) (lost, total int) {
	tb.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, secret := range a.secrets {
		if code := status(tb, s.url, "/v1/auth/whoami", secret); code != 200 {
			lost++
			tb.Errorf("a key whose creation was answered 200 gets %d", code)
		}
	}
	return lost, len(a.secrets)
}

// readyz returns the status and body of s's /readyz.
func readyz(tb testing.TB, s *server) (int, map[string]any) {
	tb.Helper()
	return do(tb, "GET", s.url+"/readyz", "", "")
}

// firstOK is when the first request of client answered 200 after from,
// waiting up to within for one.
func (l *load) firstOK(tb testing.TB, client string, from time.Duration, within time.Duration) time.Duration {
	tb.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(10 * time.Millisecond) {
		for _, s := range l.of(client, from, l.now()) {
			if s.status == 200 {
				return s.at
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: no 200 within %v of %v", client, within, from)
		}
	}
}

// metric returns the value of the series named series (with its labels,
// as the text format writes them) on s's /metrics, -1 if none.
func metric(tb testing.TB, s *server, series string) float64 {
	tb.Helper()
	for _, line := range strings.Split(scrape(tb, s.url+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

var logMessage = regexp.MustCompile(`level=(WARN|ERROR) msg=("(?:[^"\\]|\\.)*"|\S+)`)

// problems counts the warning and error lines of s's log by message.
func problems(s *server) map[string]int {
	out := map[string]int{}
	for _, m := range logMessage.FindAllStringSubmatch(s.stderr.String(), -1) {
		out[m[2]]++
	}
	return out
}

// checkOneLineEach fails unless each warning or error of s's log that
// contains one of msgs appears exactly once, and no other appears more
// than once: one line per change of state, none per request.
func checkOneLineEach(tb testing.TB, s *server, msgs ...string) {
	tb.Helper()
	got := problems(s)
	for _, want := range msgs {
		n := 0
		for msg, c := range got {
			if strings.Contains(msg, want) {
				n += c
			}
		}
		if n != 1 {
			tb.Errorf("%d warnings or errors say %q, want 1", n, want)
		}
	}
	for msg, c := range got {
		if c > 1 {
			tb.Errorf("logged %d times: %s", c, msg)
		}
	}
	if tb.Failed() {
		tb.Logf("log:\n%s", s.stderr.String())
	}
}

// TestFault_PostgresStopped stops PostgreSQL under two instances and a
// load, then starts it again: keys already verified keep working past
// their TTL (0 errors) on the instance whose --stale-if-error covers the
// outage, and fail with 503 once it is spent on the other; unknown keys and
// writes get 503 with Retry-After at once; readiness says degraded, with
// the reason; each change is logged once; it all works again without a
// restart, and no acknowledged write is lost.
func TestFault_PostgresStopped(t *testing.T) {
	pg := postgrestest.StartCluster(t, postgrestest.ClusterOptions{})
	rs := redistest.Start(t)
	outage := faultOutage(t, 6*time.Second)
	common := append([]string{"--redis", rs.URL(), "--key-cache-ttl", "1s"}, faultArgs...)
	a := launchPostgres(t, t.TempDir(), pg.URL(), append(common, "--stale-if-error", "1h")...)
	a.wait(t)
	owner := pgOwnerKey(t, a)
	b := launchPostgres(t, t.TempDir(), pg.URL(), append(common, "--stale-if-error", "2s")...)
	b.wait(t)
	_, warm := createKey(t, a, owner, `{"name":"warm","permissions":["candidate:read"]}`)

	l := startLoad()
	var keys acked
	l.client("warmA", 20*time.Millisecond, whoami(a, warm), nil)
	l.client("warmB", 20*time.Millisecond, whoami(b, warm), nil)
	l.client("unknown", 50*time.Millisecond, unknownKey(a), nil)
	l.writer("write", a, owner, &keys)
	time.Sleep(time.Second)

	pg.Stop()
	down := l.now()
	time.Sleep(min(3*time.Second, outage/2))
	for _, s := range []*server{a, b} {
		code, body := readyz(t, s)
		if code != 200 || body["status"] != "degraded" || body["database"] != "unreachable" || !strings.Contains(fmt.Sprint(body["reason"]), "answered from the cache") {
			t.Errorf("readyz during the outage: got %d %v, want 200 degraded, unreachable, with the reason", code, body)
		}
	}
	if m := metric(t, a, `pihu_store_state{state="down"}`); m != 1 {
		t.Errorf("pihu_store_state{state=\"down\"} during the outage: got %v, want 1", m)
	}
	for _, series := range []string{"pihu_store_failed_fast_total", "pihu_key_cache_stale_total"} {
		if m := metric(t, a, series); m <= 0 {
			t.Errorf("%s during the outage: got %v, want more than 0", series, m)
		}
	}
	time.Sleep(outage - l.now() + down)
	up := l.now()
	pg.Start()
	started := l.now()
	recovered := l.firstOK(t, "write", started, 15*time.Second)
	// Each instance is back once its own breaker's probe finds the
	// database (the probe's backoff reaches 2 s): B, refusing since its
	// stale-if-error was spent, may come back after A's first write.
	back := map[string]time.Duration{}
	for _, client := range []string{"warmA", "warmB"} {
		back[client] = max(recovered, l.firstOK(t, client, started, 15*time.Second))
	}
	time.Sleep(time.Second)
	l.halt()

	// Keys already verified: not one error on A, through the whole outage.
	warmA := l.of("warmA", 0, l.now())
	if n := len(warmA) - count(warmA, 200); n != 0 || len(warmA) == 0 {
		t.Errorf("warm key on the instance with --stale-if-error 1h: %d of %d requests failed, want 0", n, len(warmA))
	}
	// B's stale-if-error (2 s past a TTL of 1 s) is spent within 3 s.
	spent := l.of("warmB", down+3500*time.Millisecond, up)
	if len(spent) == 0 || count(spent, 503) != len(spent) {
		t.Errorf("warm key on the instance with --stale-if-error 2s, 3.5 s into the outage: %d of %d got 503, want all", count(spent, 503), len(spent))
	}
	// Unknown keys and writes: 503 with Retry-After, at once.
	var refused []sample
	for _, client := range []string{"unknown", "write"} {
		during := l.of(client, down, up)
		for _, s := range during {
			if s.status != 503 || s.retryAfter == "" {
				t.Errorf("%s during the outage: got %d (Retry-After %q), want 503 with Retry-After", client, s.status, s.retryAfter)
				break
			}
		}
		refused = append(refused, during...)
	}
	if took := slowest(refused); took > time.Second {
		t.Errorf("the slowest 503 took %v, want under 1 s", took)
	}
	// Back: everything works, on both, without a restart.
	after := l.of("unknown", recovered+500*time.Millisecond, l.now())
	if len(after) == 0 || count(after, 401) != len(after) {
		t.Errorf("unknown keys once back: %d of %d got 401", count(after, 401), len(after))
	}
	for _, client := range []string{"warmA", "warmB"} {
		if after := l.of(client, back[client]+500*time.Millisecond, l.now()); len(after) == 0 || count(after, 200) != len(after) {
			t.Errorf("%s once back: %d of %d got 200", client, count(after, 200), len(after))
		}
	}
	lost, total := keys.lost(t, b)
	checkOneLineEach(t, a, "database down", "answered from the cache", "flushing key uses failed")
	for _, s := range []*server{a, b} {
		if code, body := readyz(t, s); code != 200 || body["status"] != "ok" {
			t.Errorf("readyz once back: got %d %v", code, body)
		}
		if m := metric(t, s, `pihu_store_state{state="up"}`); m != 1 {
			t.Errorf("pihu_store_state{state=\"up\"} once back: got %v, want 1", m)
		}
	}
	fmt.Printf("fault: PostgreSQL stopped %.1f s under load: warm key on --stale-if-error 1h: %d errors in %d requests (TTL 1 s); "+
		"on --stale-if-error 2s: 503 from %.1f s into the outage; unknown keys and writes: %d answers, all 503, the slowest in %v; "+
		"recovered %.2f s after PostgreSQL took connections again, no restart; acknowledged writes %d, lost %d\n",
		(up - down).Seconds(), len(warmA)-count(warmA, 200), len(warmA), firstStatus(l.of("warmB", down, up), 503, down).Seconds(),
		len(refused), slowest(refused).Round(time.Millisecond), (recovered - started).Seconds(), total, lost)
}

// firstStatus is how long after from the first of samples with status
// was sent; -1 s if none.
func firstStatus(samples []sample, status int, from time.Duration) time.Duration {
	for _, s := range samples {
		if s.status == status {
			return s.at - from
		}
	}
	return -time.Second
}

// TestFault_PostgresFrozen freezes PostgreSQL (SIGSTOP: connections open,
// nothing answers) under load: keys already verified keep working, and
// unknown keys and writes get a 503 within 1 s (the database timeout,
// 800 ms by default, then the breaker), not a hang; after SIGCONT it all
// works again without a restart.
func TestFault_PostgresFrozen(t *testing.T) {
	pg := postgrestest.StartCluster(t, postgrestest.ClusterOptions{})
	outage := faultOutage(t, 5*time.Second)
	s := launchPostgres(t, t.TempDir(), pg.URL(), faultArgs...)
	s.wait(t)
	owner := pgOwnerKey(t, s)
	_, warm := createKey(t, s, owner, `{"name":"warm","permissions":["candidate:read"]}`)
	status(t, s.url, "/v1/auth/whoami", warm)

	l := startLoad()
	var keys acked
	l.client("warm", 20*time.Millisecond, whoami(s, warm), nil)
	l.client("unknown", 50*time.Millisecond, unknownKey(s), nil)
	l.writer("write", s, owner, &keys)
	time.Sleep(time.Second)

	pg.Freeze()
	frozen := l.now()
	time.Sleep(outage)
	pg.Thaw()
	thawed := l.now()
	recovered := l.firstOK(t, "write", thawed, 15*time.Second)
	time.Sleep(time.Second)
	l.halt()

	warmed := l.of("warm", 0, l.now())
	if n := len(warmed) - count(warmed, 200); n != 0 {
		t.Errorf("warm key: %d of %d requests failed, want 0", n, len(warmed))
	}
	var refused []sample
	for _, client := range []string{"unknown", "write"} {
		during := l.of(client, frozen, thawed-time.Second)
		if len(during) == 0 || count(during, 503) != len(during) {
			t.Errorf("%s while frozen: %d of %d got 503, want all", client, count(during, 503), len(during))
		}
		refused = append(refused, during...)
	}
	if took := slowest(refused); took > time.Second {
		t.Errorf("the slowest 503 while frozen took %v, want under 1 s", took)
	}
	lost, total := keys.lost(t, s)
	checkOneLineEach(t, s, "database down")
	fmt.Printf("fault: PostgreSQL frozen %.1f s under load: warm key: %d errors in %d requests; unknown keys and writes: %d answers, all 503, the slowest in %v; "+
		"recovered %.2f s after SIGCONT, no restart; acknowledged writes %d, lost %d\n",
		(thawed - frozen).Seconds(), len(warmed)-count(warmed, 200), len(warmed), len(refused), slowest(refused).Round(time.Millisecond),
		(recovered - thawed).Seconds(), total, lost)
}

// TestFault_RedisStoppedDuringRevocation stops Redis, then revokes a key
// through one instance while it is warm in another's cache: the other
// refuses it within 3 s (it trusts its cache for 1 s while its
// subscription is down), readiness says degraded with the reason
// meanwhile, and after Redis is back a revocation lands there at once
// again.
func TestFault_RedisStoppedDuringRevocation(t *testing.T) {
	u := postgrestest.NewSchema(t)
	rs := redistest.Start(t)
	args := append([]string{"--redis", rs.URL()}, faultArgs...)
	a := launchPostgres(t, t.TempDir(), u, args...)
	a.wait(t)
	owner := pgOwnerKey(t, a)
	b := launchPostgres(t, t.TempDir(), u, args...)
	b.wait(t)
	waitRedis(t, "ok", a, b)
	revokeOn := func(s *server, name string) (revokedIn time.Duration) {
		t.Helper()
		id, secret := createKey(t, a, owner, `{"name":"`+name+`","permissions":["candidate:read"]}`)
		if code := status(t, b.url, "/v1/auth/whoami", secret); code != 200 {
			t.Fatalf("%s on b: got %d", name, code)
		}
		if code, body := do(t, "DELETE", a.url+"/v1/auth/api-keys/"+id, owner, ""); code != 200 {
			t.Fatalf("revoke %s: got %d %v", name, code, body)
		}
		revoked := time.Now()
		for status(t, b.url, "/v1/auth/whoami", secret) != 401 {
			if time.Since(revoked) > 10*time.Second {
				t.Fatalf("%s: still accepted by b 10 s after its revocation", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(revoked)
	}

	rs.Stop()
	waitRedis(t, "degraded", a, b)
	if code, body := readyz(t, b); code != 200 || body["status"] != "degraded" || !strings.Contains(fmt.Sprint(body["reason"]), "Redis cannot be reached") {
		t.Errorf("readyz with Redis down: got %d %v, want 200, degraded, with the reason", code, body)
	}
	during := revokeOn(b, "during")
	if during > 3*time.Second {
		t.Errorf("revoked while Redis was down: refused by the other instance after %v, want within 3 s", during)
	}
	rs.Restart()
	waitRedis(t, "ok", a, b)
	after := revokeOn(b, "after")
	if after > time.Second {
		t.Errorf("revoked once Redis was back: refused by the other instance after %v, want within 1 s", after)
	}
	fmt.Printf("fault: Redis stopped: a revocation reached the other instance in %v (bound 3 s); once Redis was back, in %v\n",
		during.Round(time.Millisecond), after.Round(time.Millisecond))
}

// TestFault_StartWithoutPostgres starts an instance while PostgreSQL is
// down: it serves /healthz, is not ready (database "connecting", with the
// reason), logs it once however long it retries, and once PostgreSQL is
// up it connects by itself, makes the first start's account, and serves.
// With --require-database-at-start it exits 1 instead.
func TestFault_StartWithoutPostgres(t *testing.T) {
	pg := postgrestest.StartCluster(t, postgrestest.ClusterOptions{})
	pg.Stop()
	r := pihuIn(t, t.TempDir(), "serve", "--addr", "127.0.0.1:0", "--database", pg.URL(), "--require-database-at-start")
	if r.code != 1 || !strings.Contains(r.stderr, "opening") {
		t.Errorf("--require-database-at-start with the database down: exit %d, %s; want 1 and why", r.code, r.stderr)
	}

	dir := t.TempDir()
	s := launchPostgres(t, dir, pg.URL(), faultArgs...)
	s.wait(t)
	if code, _ := do(t, "GET", s.url+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz: got %d, want 200", code)
	}
	code, body := readyz(t, s)
	if code != 503 || body["database"] != "connecting" || body["reason"] == "" {
		t.Errorf("readyz: got %d %v, want 503 with the database connecting and a reason", code, body)
	}
	if code, _ := do(t, "GET", s.url+"/v1/auth/whoami", pihu.NewSecret(pihu.Live), ""); code != 503 {
		t.Errorf("a request that needs the database: got %d, want 503", code)
	}
	time.Sleep(3 * time.Second) // several attempts
	down := time.Now()
	pg.Start()
	for {
		if code, _ := readyz(t, s); code == 200 {
			break
		}
		if time.Since(down) > 15*time.Second {
			t.Fatalf("not ready 15 s after the database came up:\n%s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	connected := time.Since(down)
	waitFor(t, s, "owner_key_file=")
	owner := ownerKeyIn(t, s, "pihu.owner-key")
	if code := status(t, s.url, "/v1/auth/whoami", owner); code != 200 {
		t.Errorf("the first start's owner key: got %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "pihu.owner-key")); err != nil {
		t.Error(err)
	}
	checkOneLineEach(t, s, "database unreachable")
	if !strings.Contains(s.stderr.String(), "database connected") {
		t.Errorf("no line saying it connected:\n%s", s.stderr.String())
	}
	fmt.Printf("fault: started with PostgreSQL down: /healthz 200, /readyz 503 connecting; ready %.2f s after PostgreSQL took connections, no restart\n", connected.Seconds())
}

// TestFault_Promotion fails a primary over to its streaming replica under
// an instance whose URL names both (target_session_attrs=read-write): the
// instance follows, without a restart or a lost acknowledged write. Then
// the old primary comes back writable, on its old timeline: a new instance
// given only it refuses it (not ready, database "refused", with the
// reason, logged), and the first instance, whose URL names it first,
// stays on the new primary.
func TestFault_Promotion(t *testing.T) {
	primary := postgrestest.StartCluster(t, postgrestest.ClusterOptions{})
	replica := primary.Replica()
	rs := redistest.Start(t)
	both := fmt.Sprintf("postgres://postgres@%s,%s/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2", primary.Host(), replica.Host())
	args := append([]string{"--redis", rs.URL()}, faultArgs...)
	a := launchPostgres(t, t.TempDir(), both, args...)
	a.wait(t)
	owner := pgOwnerKey(t, a)
	_, warm := createKey(t, a, owner, `{"name":"warm","permissions":["candidate:read"]}`)

	l := startLoad()
	var keys acked
	l.client("warm", 20*time.Millisecond, whoami(a, warm), nil)
	l.writer("write", a, owner, &keys)
	time.Sleep(time.Second)

	primary.Stop()
	down := l.now()
	replica.Promote()
	promoted := l.now()
	recovered := l.firstOK(t, "write", promoted, 30*time.Second)
	time.Sleep(time.Second)

	// The old primary comes back writable, on the old timeline.
	primary.Start()
	time.Sleep(2 * time.Second) // A's checks and new connections meet it
	l.halt()
	during := l.of("write", down, recovered)
	for _, s := range during {
		if s.status != 503 {
			t.Errorf("a write during the failover: got %d, want 503", s.status)
			break
		}
	}
	warmed := l.of("warm", 0, l.now())
	if n := len(warmed) - count(warmed, 200); n != 0 {
		t.Errorf("warm key: %d of %d requests failed, want 0", n, len(warmed))
	}
	if code, body := readyz(t, a); code != 200 || body["status"] != "ok" {
		t.Errorf("readyz of the instance on the new primary: got %d %v", code, body)
	}

	c := launchPostgres(t, t.TempDir(), primary.URL(), args...)
	c.wait(t)
	var body map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var code int
		code, body = readyz(t, c)
		if code == 503 && body["database"] == "refused" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz of an instance on the old primary: got %d %v, want 503 refused\n%s", code, body, c.stderr.String())
		}
	}
	if reason := fmt.Sprint(body["reason"]); !strings.Contains(reason, "older timeline") {
		t.Errorf("reason: got %q, want it to say the timeline is older", reason)
	}
	waitFor(t, c, "database refused")
	if m := metric(t, c, `pihu_store_state{state="refused"}`); m != 1 {
		t.Errorf("pihu_store_state{state=\"refused\"}: got %v, want 1", m)
	}
	// A key created on the new primary: A knows it, C does not answer
	// for it (503), rather than call it unknown.
	_, fresh := createKey(t, a, owner, `{"name":"after the split","permissions":["candidate:read"]}`)
	if code := status(t, c.url, "/v1/auth/whoami", fresh); code != 503 {
		t.Errorf("a key of the new primary, on the instance refusing the old one: got %d, want 503", code)
	}
	if code, _ := do(t, "POST", c.url+"/v1/auth/api-keys", owner, `{"name":"split","permissions":["candidate:read"]}`); code == 200 {
		t.Error("a key was created through the instance on the old primary")
	}
	// A wrote it to the new primary, and nothing to the old one since it
	// came back, though its URL names the old one first.
	const q = `SELECT count(*) FROM api_keys WHERE name = 'after the split'`
	if onNew, onOld := replica.Count(q), primary.Count(q); onNew != 1 || onOld != 0 {
		t.Errorf("the key created after the old primary came back: %d on the new primary, %d on the old; want 1 and 0", onNew, onOld)
	}
	// A still writes to the new primary, and every acknowledged key is there.
	lost, total := keys.lost(t, a)
	fmt.Printf("fault: promotion of the replica under load: %d writes answered 503 over %.2f s, none failed otherwise; warm key: %d errors in %d requests; "+
		"acknowledged writes %d, lost %d; old primary back writable: refused by a new instance (readyz 503 refused), the first stayed on the new one\n",
		len(during), (recovered - down).Seconds(), len(warmed)-count(warmed, 200), len(warmed), total, lost)
}
