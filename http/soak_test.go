package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pihuhttp "github.com/pihu-ai/pihu/http"
	"github.com/pihu-ai/pihu/ratelimit"
)

// soakDuration is how long TestSoak runs: PIHU_SOAK_DURATION, default a
// minute.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("PIHU_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PIHU_SOAK_DURATION=%q: %v", v, err)
		}
		return d
	}
	return time.Minute
}

// memory returns the goroutines and the live heap after a collection.
func memory() (int, uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

// TestSoak runs mixed traffic (create, verify, whoami, list, rotate,
// revoke, candidates) from 32 clients over real sockets for about a minute
// (PIHU_SOAK_DURATION): no request may get a 5xx or fail in transport, and
// at the end, with the clients gone, goroutines and the heap are back near
// where they were a third of the way in. It prints the counts. Run under
// -race in CI.
func TestSoak(t *testing.T) {
	if os.Getenv("PIHU_LONG_TESTS") != "1" {
		t.Skip("a long test: set PIHU_LONG_TESTS=1 to run it (CI does)")
	}
	duration := soakDuration(t)
	// Only errors are logged, to a buffer of their own: a line a request
	// kept in memory would be the heap's growth.
	errs := &lockedWriter{w: &bytes.Buffer{}}
	ts := newTestServer(t, func(o *pihuhttp.Options) {
		o.Logger = slog.New(slog.NewTextHandler(errs, &slog.HandlerOptions{Level: slog.LevelError}))
		o.DefaultLimit = ratelimit.PerSecond(ratelimit.MaxRate)
		o.FailedAuthLimit = ratelimit.PerSecond(ratelimit.MaxRate)
	})
	const workers = 32
	transport := &http.Transport{MaxIdleConnsPerHost: workers}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var (
		statuses sync.Map // int → *atomic.Int64
		total    atomic.Int64
		failures atomic.Int64
	)
	count := func(status int) {
		total.Add(1)
		v, _ := statuses.LoadOrStore(status, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	call := func(method, path, key, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		started := time.Now()
		res, err := client.Do(req)
		if res != nil && res.StatusCode >= 500 {
			t.Logf("a 500 after %v", time.Since(started))
		}
		if err != nil {
			if failures.Add(1) <= 5 {
				t.Errorf("%s %s: %v", method, path, err)
			}
			return 0, nil
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		count(res.StatusCode)
		if res.StatusCode >= 500 {
			if failures.Add(1) <= 5 {
				t.Errorf("%s %s: got %d %s", method, path, res.StatusCode, b)
			}
		}
		var out map[string]any
		json.Unmarshal(b, &out)
		return res.StatusCode, out
	}

	deadline := time.Now().Add(duration)
	var mid struct {
		sync.Once
		goroutines int
		heap       uint64
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			type key struct{ id, secret string }
			var mine []key
			for i := 0; time.Now().Before(deadline); i++ {
				if time.Until(deadline) < duration*2/3 {
					mid.Do(func() { mid.goroutines, mid.heap = memory() })
				}
				switch op := rng.IntN(10); {
				case op == 0 || len(mine) == 0:
					if status, out := call("POST", "/v1/auth/api-keys", ts.Owner, fmt.Sprintf(`{"name":"soak %d-%d","permissions":["candidate:read","candidate:write"]}`, w, i)); status == 200 {
						mine = append(mine, key{out["id"].(string), out["key"].(string)})
					}
				case op <= 3:
					k := mine[rng.IntN(len(mine))]
					call("POST", "/v1/auth/verify", ts.Owner, `{"key":"`+k.secret+`","permissions":["candidate:read"]}`)
				case op <= 5:
					call("GET", "/v1/auth/whoami", mine[rng.IntN(len(mine))].secret, "")
				case op == 6:
					call("GET", "/v1/auth/api-keys?limit=20", ts.Owner, "")
				case op == 7:
					k := mine[rng.IntN(len(mine))]
					call("POST", "/v1/candidates", k.secret, fmt.Sprintf(`{"name":"C %d","email":"c%d@example.com"}`, i, i))
					call("GET", "/v1/candidates?limit=5", k.secret, "")
				case op == 8:
					j := rng.IntN(len(mine))
					if status, out := call("POST", "/v1/auth/api-keys/"+mine[j].id+"/rotate", ts.Owner, `{"expire_old_in":"now"}`); status == 200 {
						mine[j] = key{out["id"].(string), out["key"].(string)}
					}
				default:
					j := rng.IntN(len(mine))
					call("DELETE", "/v1/auth/api-keys/"+mine[j].id, ts.Owner, "")
					mine = append(mine[:j], mine[j+1:]...)
				}
			}
		})
	}
	wg.Wait()
	transport.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond) // the server's side of the connections ends
	goroutines, heap := memory()

	var summary []string
	statuses.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%d: %d", k.(int), v.(*atomic.Int64).Load()))
		return true
	})
	fmt.Printf("soak: %d requests in %v from %d clients (%.0f/s); statuses %v; failures %d\n", total.Load(), duration, workers, float64(total.Load())/duration.Seconds(), summary, failures.Load())
	fmt.Printf("soak: goroutines %d a third of the way in, %d at the end; heap %.1f MiB, then %.1f MiB\n", mid.goroutines, goroutines, float64(mid.heap)/(1<<20), float64(heap)/(1<<20))
	if failures.Load() > 0 {
		errs.mu.Lock()
		first, _, _ := strings.Cut(errs.w.(*bytes.Buffer).String(), "\n")
		errs.mu.Unlock()
		t.Logf("the first error logged: %s", first)
		t.Errorf("%d requests got a 5xx or no answer", failures.Load())
	}
	// The clients are gone: their goroutines and connections are too.
	if goroutines > mid.goroutines {
		t.Errorf("goroutines: %d at the end, more than the %d while %d clients were running", goroutines, mid.goroutines, workers)
	}
	if heap > mid.heap*3/2+4<<20 {
		t.Errorf("heap: %.1f MiB at the end, against %.1f MiB a third of the way in", float64(heap)/(1<<20), float64(mid.heap)/(1<<20))
	}
}
