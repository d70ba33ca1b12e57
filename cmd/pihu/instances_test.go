package main_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/internal/redistest"
	"github.com/pihu-ai/pihu/postgres/postgrestest"
	"github.com/redis/go-redis/v9"
)

// status sends a GET of path with key and returns the status code.
func status(tb testing.TB, url, path, key string) int {
	tb.Helper()
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// statusOf is status for a goroutine of its own: 0 when the request
// failed.
func statusOf(url, key string) int {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// waitRedis waits until every server's /readyz says redis is want.
func waitRedis(tb testing.TB, want string, servers ...*server) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range servers {
		for {
			code, body := do(tb, "GET", s.url+"/readyz", "", "")
			if code == 200 && body["redis"] == want {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("/readyz: got %d %v, want 200 with redis %q", code, body, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// createKey creates a key through s with the owner key, and returns its id
// and secret.
func createKey(tb testing.TB, s *server, owner, body string) (id, secret string) {
	tb.Helper()
	code, k := do(tb, "POST", s.url+"/v1/auth/api-keys", owner, body)
	if code != 200 {
		tb.Fatalf("create: got %d %v", code, k)
	}
	id, _ = k["id"].(string)
	secret, _ = k["key"].(string)
	return id, secret
}

// TestServe_SeveralInstances runs two `pihu serve` on one SQLite file and
// one Redis of the test's own: a key created on one works on the other, a
// key's limit holds across both together, a key warm in the second's cache
// is refused there within a second of its revocation on the first (and
// loses a permission of its role within a second of the role's change), and
// with Redis stopped, valid keys keep working and limits still hold (per
// instance) until it is back.
func TestServe_SeveralInstances(t *testing.T) {
	severalInstances(t)
}

// TestServe_SeveralInstancesPostgres is TestServe_SeveralInstances on one
// PostgreSQL database (a schema of its own) instead of one SQLite file: the
// deployment docs/deploy.md describes.
func TestServe_SeveralInstancesPostgres(t *testing.T) {
	severalInstances(t, "--database", postgrestest.NewSchema(t))
}

// severalInstances runs the checks of TestServe_SeveralInstances on two
// servers started with args (the database) and a Redis of the test's own.
func severalInstances(t *testing.T, args ...string) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	one := startServer(t, dir, append([]string{"--redis", rs.URL()}, args...)...)
	owner := ownerKey(t, one)
	two := startServer(t, dir, append([]string{"--redis", rs.URL()}, args...)...)
	waitRedis(t, "ok", one, two)

	t.Run("KeyCreatedOnOneWorksOnTheOther", func(t *testing.T) {
		_, secret := createKey(t, one, owner, `{"name":"across","permissions":["candidate:read"]}`)
		if code := status(t, two.url, "/v1/auth/whoami", secret); code != 200 {
			t.Errorf("whoami on the second instance: got %d, want 200", code)
		}
	})

	t.Run("LimitHoldsAcrossBoth", func(t *testing.T) {
		_, secret := createKey(t, one, owner, `{"name":"limited","permissions":["candidate:read"],"rate_limit":"6/h"}`)
		allowed := 0
		for i := range 12 {
			s := []*server{one, two}[i%2]
			switch code := status(t, s.url, "/v1/auth/whoami", secret); code {
			case 200:
				allowed++
			case 429:
			default:
				t.Fatalf("request %d: got %d", i+1, code)
			}
		}
		if allowed != 6 {
			t.Errorf("12 requests at 6/h alternating between the instances: got %d allowed, want 6", allowed)
		}
	})

	t.Run("IdentityLimitSharedAcrossBoth", func(t *testing.T) {
		code, idt := do(t, "POST", one.url+"/v1/identities", owner, `{"external_id":"user_42","rate_limit":"6/h"}`)
		if code != 200 {
			t.Fatalf("create identity: got %d %v", code, idt)
		}
		var secrets []string
		for _, name := range []string{"a", "b", "c"} {
			_, secret := createKey(t, one, owner, `{"name":"`+name+`","permissions":["candidate:read"],"identity_id":"`+idt["id"].(string)+`"}`)
			secrets = append(secrets, secret)
		}
		allowed := 0
		for i := range 18 {
			s := []*server{one, two}[i%2]
			switch code := status(t, s.url, "/v1/auth/whoami", secrets[i%3]); code {
			case 200:
				allowed++
			case 429:
			default:
				t.Fatalf("request %d: got %d", i+1, code)
			}
		}
		if allowed != 6 {
			t.Errorf("18 requests with three keys of an identity of 6/h, alternating between the instances: got %d allowed, want 6 in all", allowed)
		}
	})

	t.Run("IdentityNamedLimitSharedAcrossBoth", func(t *testing.T) {
		code, idt := do(t, "POST", one.url+"/v1/identities", owner, `{"external_id":"org_tokens","ratelimits":{"tokens":"1000/h"}}`)
		if code != 200 {
			t.Fatalf("create identity: got %d %v", code, idt)
		}
		var secrets []string
		for _, name := range []string{"a", "b"} {
			_, secret := createKey(t, one, owner, `{"name":"`+name+`","permissions":["candidate:read"],"identity_id":"`+idt["id"].(string)+`"}`)
			secrets = append(secrets, secret)
		}
		spent := 0
		for i := range 10 {
			s := []*server{one, two}[i%2]
			code, v := do(t, "POST", s.url+"/v1/auth/verify", owner, `{"key":"`+secrets[i%2]+`","ratelimits":[{"name":"tokens","cost":150}]}`)
			if code != 200 {
				t.Fatalf("verify %d: got %d %v", i+1, code, v)
			}
			if v["valid"] == true {
				spent += 150
			}
		}
		if spent != 900 {
			t.Errorf("10 verifications of 150 tokens with two keys of an identity of 1000/h, alternating between the instances: got %d spent, want 900 in all", spent)
		}
	})

	t.Run("IdentityChangedOnOneSeenOnTheOtherWithinASecond", func(t *testing.T) {
		code, idt := do(t, "POST", one.url+"/v1/identities", owner, `{"external_id":"org_before"}`)
		if code != 200 {
			t.Fatalf("create identity: got %d %v", code, idt)
		}
		id := idt["id"].(string)
		_, secret := createKey(t, one, owner, `{"name":"acme","permissions":["candidate:read"],"identity_id":"`+id+`"}`)
		for range 3 { // warm in the second instance's cache
			if code := status(t, two.url, "/v1/auth/whoami", secret); code != 200 {
				t.Fatalf("whoami on the second instance: got %d", code)
			}
		}
		if code, body := do(t, "PATCH", one.url+"/v1/identities/"+id, owner, `{"external_id":"org_after"}`); code != 200 {
			t.Fatalf("change on the first instance: got %d %v", code, body)
		}
		changed := time.Now()
		for {
			_, body := do(t, "GET", two.url+"/v1/auth/whoami", secret, "")
			if i, _ := body["identity"].(map[string]any); i["external_id"] == "org_after" {
				break
			}
			if time.Since(changed) > time.Second {
				t.Fatalf("the second instance still answered the old identity %s after its change on the first", time.Since(changed))
			}
		}
		t.Logf("a key warm in the second instance showed its identity's change there %s after it returned on the first", time.Since(changed))
	})

	t.Run("LeasedLimitHoldsUnderLoad", func(t *testing.T) {
		// 120/m is decided from leases of 2 requests in each instance;
		// 8 clients on each send 25 requests at once. Together the
		// instances admit no more than one exact limiter could in the time
		// the run takes (the burst, plus one every 500 ms), and no fewer
		// than the burst less what each may hold unspent.
		_, secret := createKey(t, one, owner, `{"name":"leased","permissions":["candidate:read"],"rate_limit":"120/m"}`)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for _, s := range []*server{one, two} {
			for range 8 {
				wg.Go(func() {
					for range 25 {
						switch code := statusOf(s.url+"/v1/auth/whoami", secret); code {
						case 200:
							admitted.Add(1)
						case 429:
						default:
							t.Errorf("got %d, want 200 or 429", code)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		elapsed := time.Since(start)
		most, least := 120+int64(elapsed/(500*time.Millisecond))+1, int64(120-2*2)
		got := admitted.Load()
		t.Logf("400 requests at 120/m over two instances in %s: %d admitted (between %d and %d)", elapsed.Round(time.Millisecond), got, least, most)
		if got < least || got > most {
			t.Errorf("400 requests at 120/m over two instances in %s: got %d admitted, want %d to %d", elapsed, got, least, most)
		}
	})

	t.Run("RevokedOnOneRefusedOnTheOtherWithinASecond", func(t *testing.T) {
		id, secret := createKey(t, one, owner, `{"name":"revoked","permissions":["candidate:read"]}`)
		for range 3 { // warm in the second instance's cache
			if code := status(t, two.url, "/v1/auth/whoami", secret); code != 200 {
				t.Fatalf("whoami on the second instance: got %d", code)
			}
		}
		if code, body := do(t, "DELETE", one.url+"/v1/auth/api-keys/"+id, owner, ""); code != 200 {
			t.Fatalf("revoke on the first instance: got %d %v", code, body)
		}
		revoked := time.Now()
		requests := 0
		for {
			code, body := do(t, "GET", two.url+"/v1/auth/whoami", secret, "")
			requests++
			if code == 401 {
				if e, _ := body["error"].(map[string]any); e["code"] != "revoked_api_key" {
					t.Errorf("got 401 %v, want revoked_api_key", body)
				}
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("the second instance still accepted the key %s (%d requests) after its revocation on the first", time.Since(revoked), requests)
			}
		}
		took := time.Since(revoked)
		t.Logf("a key warm in the second instance was refused there %s after its revocation on the first returned (%d requests)", took, requests)
	})

	t.Run("DisabledOnOneRefusedOnTheOtherWithinASecond", func(t *testing.T) {
		id, secret := createKey(t, one, owner, `{"name":"disabled","permissions":["candidate:read"]}`)
		for range 3 { // warm in the second instance's cache
			if code := status(t, two.url, "/v1/auth/whoami", secret); code != 200 {
				t.Fatalf("whoami on the second instance: got %d", code)
			}
		}
		for _, enabled := range []bool{false, true} {
			if code, body := do(t, "PATCH", one.url+"/v1/auth/api-keys/"+id, owner, fmt.Sprintf(`{"enabled":%t}`, enabled)); code != 200 {
				t.Fatalf("PATCH enabled %t on the first instance: got %d %v", enabled, code, body)
			}
			changed := time.Now()
			for {
				code, body := do(t, "GET", two.url+"/v1/auth/whoami", secret, "")
				e, _ := body["error"].(map[string]any)
				if enabled && code == 200 || !enabled && code == 401 && e["code"] == "disabled_api_key" {
					break
				}
				if time.Since(changed) > time.Second {
					t.Fatalf("enabled %t on the first instance: the second still answered %d %v after %s", enabled, code, body, time.Since(changed))
				}
			}
			t.Logf("enabled %t on the first instance was seen by the second after %s", enabled, time.Since(changed))
		}
	})
	t.Run("RoleChangedOnOneSeenOnTheOtherWithinASecond", func(t *testing.T) {
		code, role := do(t, "POST", one.url+"/v1/roles", owner, `{"name":"readers","permissions":["candidate:read"]}`)
		if code != 200 {
			t.Fatalf("create a role: got %d %v", code, role)
		}
		roleID, _ := role["id"].(string)
		_, secret := createKey(t, one, owner, `{"name":"with a role","roles":["`+roleID+`"]}`)
		for range 3 { // warm in the second instance's cache, with its roles
			if code := status(t, two.url, "/v1/candidates", secret); code != 200 {
				t.Fatalf("candidates on the second instance: got %d", code)
			}
		}
		if code, body := do(t, "PATCH", one.url+"/v1/roles/"+roleID, owner, `{"permissions":["interview:read"]}`); code != 200 {
			t.Fatalf("change the role on the first instance: got %d %v", code, body)
		}
		changed := time.Now()
		requests := 0
		for status(t, two.url, "/v1/candidates", secret) != 403 {
			requests++
			if time.Since(changed) > time.Second {
				t.Fatalf("the second instance still let the key read candidates %s (%d requests) after its role lost the permission on the first", time.Since(changed), requests)
			}
		}
		if code := status(t, two.url, "/v1/interviews", secret); code != 200 {
			t.Errorf("interviews on the second instance, through the changed role: got %d, want 200", code)
		}
		t.Logf("a key warm in the second instance lost its role's permission there %s after the role changed on the first (%d requests)", time.Since(changed).Round(time.Millisecond), requests+1)
	})

	t.Run("RedisStopped", func(t *testing.T) {
		_, limited := createKey(t, one, owner, `{"name":"limited while down","permissions":["candidate:read"],"rate_limit":"6/h"}`)
		_, valid := createKey(t, one, owner, `{"name":"valid while down","permissions":["candidate:read"]}`)
		rs.Stop()
		// Valid keys are not refused: the first request after Redis went
		// away already falls back to the limits in process.
		for i := range 10 {
			for _, s := range []*server{one, two} {
				if code := status(t, s.url, "/v1/auth/whoami", valid); code != 200 {
					t.Fatalf("a valid key with Redis stopped, request %d: got %d, want 200", i+1, code)
				}
			}
		}
		waitRedis(t, "degraded", one, two)
		// Nor let through without limit: each instance holds the key to
		// its limit in process, so the pair allows at most twice it.
		for _, s := range []*server{one, two} {
			allowed := 0
			for range 10 {
				if status(t, s.url, "/v1/auth/whoami", limited) == 200 {
					allowed++
				}
			}
			if allowed != 6 {
				t.Errorf("10 requests at 6/h to one instance with Redis stopped: got %d allowed, want 6", allowed)
			}
		}
		// A revocation the bus cannot carry is seen within the short
		// life cache entries have meanwhile.
		id, secret := createKey(t, one, owner, `{"name":"revoked while down","permissions":["candidate:read"]}`)
		if code := status(t, two.url, "/v1/auth/whoami", secret); code != 200 {
			t.Fatalf("whoami on the second instance: got %d", code)
		}
		if code, body := do(t, "DELETE", one.url+"/v1/auth/api-keys/"+id, owner, ""); code != 200 {
			t.Fatalf("revoke: got %d %v", code, body)
		}
		revoked := time.Now()
		for status(t, two.url, "/v1/auth/whoami", secret) != 401 {
			if time.Since(revoked) > 2*time.Second {
				t.Fatalf("with Redis stopped, the second instance accepted a revoked key for %s", time.Since(revoked))
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("with Redis stopped, a revoked key was refused by the other instance after %s", time.Since(revoked))

		rs.Restart()
		waitRedis(t, "ok", one, two)
		lines := []string{"Redis is unreachable", "Redis subscription lost", "Redis is back", "Redis subscription is back"}
		for _, s := range []*server{one, two} {
			logs := s.logsWith(t, lines...)
			for _, line := range lines {
				if n := strings.Count(logs, line); n != 1 {
					t.Errorf("%q logged %d times, want once:\n%s", line, n, logs)
				}
			}
		}
	})
}

// TestServe_RedisDownAtStart: a Redis that does not answer when serve
// starts does not stop it: it serves with limits in process, says so once
// in the log, and /readyz reports redis degraded with 200.
func TestServe_RedisDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	s := startServer(t, t.TempDir(), "--redis", "redis://"+dead+"/0", "--rate-limit", "3/m")
	owner := ownerKey(t, s)
	waitRedis(t, "degraded", s)
	codes := []int{}
	for range 4 {
		codes = append(codes, status(t, s.url, "/v1/auth/whoami", owner))
	}
	if want := []int{200, 200, 200, 429}; !slices.Equal(codes, want) {
		t.Errorf("4 requests at 3/m with Redis down: got %v, want %v", codes, want)
	}
	logs := s.stderr.String()
	if n := strings.Count(logs, "Redis does not answer"); n != 1 {
		t.Errorf("\"Redis does not answer\" logged %d times, want once:\n%s", n, logs)
	}
	if n := strings.Count(logs, "Redis is unreachable"); n > 1 {
		t.Errorf("\"Redis is unreachable\" logged %d times, want at most once:\n%s", n, logs)
	}
	if strings.Contains(logs, "level=DEBUG") || strings.Contains(logs, "redis: ") {
		t.Errorf("go-redis's own lines reached the log:\n%s", logs)
	}
}

// scriptCalls is how many scripts Redis at url has run.
func scriptCalls(tb testing.TB, url string) int {
	tb.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile(`cmdstat_eval(?:sha)?:calls=(\d+)`).FindAllStringSubmatch(info, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// TestServe_ExactLimits: by default an instance with Redis decides a
// warm key's limit from its lease, with about one call to Redis for
// every ten requests at 1000/m; --exact-limits (or PIHU_EXACT_LIMITS)
// asks Redis on every request.
func TestServe_ExactLimits(t *testing.T) {
	rs := redistest.Start(t)
	for _, tc := range []struct {
		name  string
		args  []string
		env   string
		exact bool
	}{
		{"Leased", nil, "", false},
		{"Flag", []string{"--exact-limits"}, "", true},
		{"Environment", nil, "true", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PIHU_EXACT_LIMITS", tc.env)
			s := startServer(t, t.TempDir(), append([]string{"--redis", rs.URL()}, tc.args...)...)
			owner := ownerKey(t, s)
			waitRedis(t, "ok", s)
			status(t, s.url, "/v1/auth/whoami", owner) // warm: leased if it is to be
			before := scriptCalls(t, rs.URL())
			for i := range 100 {
				if code := status(t, s.url, "/v1/auth/whoami", owner); code != 200 {
					t.Fatalf("request %d: got %d", i+1, code)
				}
			}
			calls := scriptCalls(t, rs.URL()) - before
			if tc.exact && calls < 100 || !tc.exact && calls > 20 {
				t.Errorf("100 requests of a 1000/m key made %d calls to Redis (exact: %v)", calls, tc.exact)
			}
		})
	}
}

// remainingOf is key id's "remaining" as the API shows it through s.
func remainingOf(tb testing.TB, s *server, owner, id string) int64 {
	tb.Helper()
	code, k := do(tb, "GET", s.url+"/v1/auth/api-keys/"+id, owner, "")
	if code != 200 {
		tb.Fatalf("GET key: got %d %v", code, k)
	}
	n, _ := k["remaining"].(float64)
	return int64(n)
}

// TestServe_CreditsLeased: with Redis, two instances spend a key's
// credits from leases: 16 clients on both never spend more than the key
// has, and once both have stopped (SIGTERM) what their leases held is
// back, so the balance is exactly what the 200s did not spend. With
// --exact-credits, every request's credit is spent in the database at
// once.
func TestServe_CreditsLeased(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	one := startServer(t, dir, "--redis", rs.URL())
	owner := ownerKey(t, one)
	two := startServer(t, dir, "--redis", rs.URL())
	waitRedis(t, "ok", one, two)
	hammer := func(secret string) (admitted int64) {
		var n atomic.Int64
		var wg sync.WaitGroup
		for _, s := range []*server{one, two} {
			for range 8 {
				wg.Go(func() {
					for range 20 {
						switch code := statusOf(s.url+"/v1/auth/whoami", secret); code {
						case 200:
							n.Add(1)
						case 403:
						default:
							t.Errorf("got %d, want 200 or 403", code)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		return n.Load()
	}
	plenty, plentySecret := createKey(t, one, owner, `{"name":"plenty","permissions":["candidate:read"],"remaining":1000}`)
	few, fewSecret := createKey(t, one, owner, `{"name":"few","permissions":["candidate:read"],"remaining":150}`)
	if got := hammer(plentySecret); got != 320 {
		t.Errorf("320 requests of a key with 1,000 credits: got %d admitted, want 320", got)
	}
	t.Logf("while the instances run, the database shows %d of the 680 left (the rest in their leases)", remainingOf(t, one, owner, plenty))
	spentFew := hammer(fewSecret)
	if spentFew > 150 {
		t.Errorf("320 requests of a key with 150 credits: got %d admitted, more than it had", spentFew)
	}
	if spentFew < 150-2*3 {
		t.Errorf("320 requests of a key with 150 credits: got %d admitted, want all but what two leases hold (3 each at most)", spentFew)
	}
	// A balance set through one instance is the balance everywhere: the
	// other drops its lease when it hears of the change, and spends the
	// next requests from the new balance.
	code, body := do(t, "PATCH", one.url+"/v1/auth/api-keys/"+plenty, owner, `{"remaining":5000}`)
	if code != 200 {
		t.Fatalf("PATCH remaining: got %d %v", code, body)
	}
	time.Sleep(100 * time.Millisecond) // the invalidation's way through Redis, measured in milliseconds
	for i := range 10 {
		if code := status(t, two.url, "/v1/auth/whoami", plentySecret); code != 200 {
			t.Fatalf("request %d after the PATCH: got %d", i+1, code)
		}
	}
	one.stop(t)
	two.stop(t)
	three := startServer(t, dir, "--redis", rs.URL(), "--exact-credits")
	if got := remainingOf(t, three, owner, plenty); got != 4990 {
		t.Errorf("after both instances stopped: the key set to 5,000 credits, then 10 requests, has %d left, want 4990", got)
	}
	if got := remainingOf(t, three, owner, few); got != 150-spentFew {
		t.Errorf("after both instances stopped: the key of 150 credits has %d left, want %d", got, 150-spentFew)
	}
	// --exact-credits: each request's credit is in the database at once.
	for i := range 5 {
		if code := status(t, three.url, "/v1/auth/whoami", plentySecret); code != 200 {
			t.Fatalf("request %d: got %d", i+1, code)
		}
		if got := remainingOf(t, three, owner, plenty); got != int64(4989-i) {
			t.Fatalf("with --exact-credits, after request %d: %d left, want %d", i+1, got, 4989-i)
		}
	}
}
