// Command pihubench is the Go half of the load harness bench/run.sh: a bare
// net/http server answering the exact bytes of pihu's whoami, a fast bulk
// insert of keys into a SQLite database, and the clients that measure cold
// verification and key creation. It talks to loopback addresses only, and
// every loop it runs is bounded in count and time.
//
//	pihubench bare -addr 127.0.0.1:0 -from URL -key KEY   serve whoami's bytes
//	          [-path P]                                   (or those of GET P)
//	pihubench seed -db FILE -n N -secrets FILE            bulk-insert N keys
//	pihubench cold -url URL -secrets FILE -n N -c C       each key once
//	pihubench create -url URL -key KEY -c 8 -d 10s        create keys
//	pihubench logstats -log FILE -path P -skip N          server durations
//	pihubench proxy -to ADDR -delay 1ms                   a slow way to Redis
//	pihubench freeports N                                 N free loopback ports
//	pihubench barecheck -from ADDR -key KEY               serve pihu's Check answer
//	pihubench checkload -addr ADDR -key KEY -c 32 -d 5s   Envoy's Check, concurrently
//	                    [-rate N]                         (N calls a second in all)
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/sqlite"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pihubench bare|seed|cold|create|logstats|proxy|freeports|barecheck|checkload [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{"bare": bare, "seed": seed, "cold": cold, "create": create, "logstats": logstats, "proxy": proxy, "freeports": freeports, "barecheck": barecheck, "checkload": checkload}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "pihubench: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "pihubench:", err)
		os.Exit(1)
	}
}

// loopback refuses any URL whose host is not a loopback address: the
// harness loads only servers on this machine.
func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: the harness only targets loopback addresses", raw)
}

// bare serves, for every request, the body and headers pihu answered to
// one whoami (or one GET of -path, such as the forward-auth endpoint's):
// the floor that pihu's own cost is compared with.
func bare(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	from := fs.String("from", "", "pihu's base URL")
	key := fs.String("key", "", "the key to ask whoami with")
	pprofAddr := fs.String("pprof", "", "loopback address to serve net/http/pprof on, to profile the floor too")
	path := fs.String("path", "/v1/auth/whoami", "the request whose answer to serve: a path and query of pihu's")
	method := fs.String("method", "GET", "the request's method")
	data := fs.String("data", "", "the request's JSON body (for POST /v1/auth/verify); the bare server reads every request's body before answering, as pihu does")
	fs.Parse(args)
	if err := loopback(*from); err != nil {
		return err
	}
	if *pprofAddr != "" {
		if err := loopback("http://" + *pprofAddr); err != nil {
			return err
		}
		pln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "pprof_addr="+pln.Addr().String())
		go http.Serve(pln, nil) // net/http/pprof registers on the default mux
	}
	req, _ := http.NewRequest(*method, *from+*path, strings.NewReader(*data))
	req.Header.Set("Authorization", "Bearer "+*key)
	if *data != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s %v", *path, resp.StatusCode, body, err)
	}
	header := resp.Header.Clone()
	for _, h := range []string{"Date", "Content-Length"} {
		header.Del(h)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}))
}

// seed creates a database holding one account and N keys, the secrets of
// the keys written one a line to a file, as fast as SQLite can take them:
// one transaction a batch, synchronous off (a benchmark's database need
// not survive a crash while it is built).
func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	path := fs.String("db", "", "SQLite file to create")
	n := fs.Int("n", 100_000, "keys to insert")
	secretsPath := fs.String("secrets", "", "file to write the secrets to")
	fs.Parse(args)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, *path)
	if err != nil {
		return err
	}
	now := time.Now()
	a := &pihu.Account{ID: pihu.NewID(pihu.PrefixAccount), Name: "Bench", Created: now}
	owner, ownerSecret, _ := pihu.NewKey(a.ID, pihu.OwnerKeyRequest(), nil, now)
	if err := store.CreateAccount(ctx, a, owner); err != nil {
		return err
	}
	store.Close()

	db, err := sql.Open("sqlite", "file:"+*path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := os.Create(*secretsPath)
	if err != nil {
		return err
	}
	defer f.Close()
	out := bufio.NewWriter(f)
	fmt.Fprintln(out, ownerSecret)
	req := pihu.KeyRequest{Name: "bench", Permissions: pihu.Permissions{"candidate:read"}, Environment: pihu.Live}
	start := time.Now()
	const batch = 20_000
	for done := 0; done < *n; {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		stmt, err := tx.Prepare(`INSERT INTO api_keys (id, account_id, name, environment, permissions, digest, hint, created, rate_limit)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, '')`)
		if err != nil {
			return err
		}
		for i := 0; i < batch && done < *n; i, done = i+1, done+1 {
			k, secret, err := pihu.NewKey(a.ID, req, nil, now)
			if err != nil {
				return err
			}
			if _, err := stmt.Exec(k.ID, a.ID, k.Name, "live", `["candidate:read"]`, k.Digest, k.Hint, now.Unix()); err != nil {
				return err
			}
			fmt.Fprintln(out, secret)
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	// Leave the file as a server leaves it: the WAL written back.
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	fmt.Printf("seeded %d keys in %.1f s\n", *n, time.Since(start).Seconds())
	return nil
}

// readSecrets reads up to n secrets, skipping the first (the owner key).
func readSecrets(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the owner key
	var out []string
	for sc.Scan() && len(out) < n {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

// cold asks whoami once with each of N distinct keys, c requests at a
// time over keep-alive connections, so that every request is a miss of
// the server's cache.
func cold(args []string) error {
	fs := flag.NewFlagSet("cold", flag.ExitOnError)
	base := fs.String("url", "", "pihu's base URL")
	secretsPath := fs.String("secrets", "", "the secrets file of seed")
	n := fs.Int("n", 10_000, "distinct keys to send")
	c := fs.Int("c", 4, "concurrent requests")
	limit := fs.Duration("max", 10*time.Minute, "stop sending after this long")
	fs.Parse(args)
	if err := loopback(*base); err != nil {
		return err
	}
	secrets, err := readSecrets(*secretsPath, *n)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c}, Timeout: 10 * time.Second}
	lat := make([]time.Duration, len(secrets))
	var next, sent, failed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(*limit)
	start := time.Now()
	for range *c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(secrets) || time.Now().After(deadline) {
					return
				}
				req, _ := http.NewRequest("GET", *base+"/v1/auth/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+secrets[i])
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t)
				sent.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	lat = lat[:min(len(lat), int(sent.Load()))] // all sent unless the deadline came first
	slices.Sort(lat)
	fmt.Printf("cold: %d distinct keys, %d concurrent, %.0f req/s, client p50 %s p99 %s, failed %d\n",
		len(lat), *c, float64(len(lat))/elapsed.Seconds(), pct(lat, 50), pct(lat, 99), failed.Load())
	return nil
}

// create makes keys from c concurrent clients for d and reports the rate.
func create(args []string) error {
	fs := flag.NewFlagSet("create", flag.ExitOnError)
	base := fs.String("url", "", "pihu's base URL")
	key := fs.String("key", "", "a key with api_key:write")
	c := fs.Int("c", 8, "concurrent clients")
	d := fs.Duration("d", 10*time.Second, "how long")
	fs.Parse(args)
	if err := loopback(*base); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c}, Timeout: 10 * time.Second}
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr atomic.Value
	stop := time.Now().Add(*d)
	body := `{"name":"bench","permissions":["candidate:read"]}`
	var wg sync.WaitGroup
	start := time.Now()
	for range *c {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("POST", *base+"/v1/auth/api-keys", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+*key)
				req.Header.Set("Content-Type", "application/json")
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t))
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, b))
					continue
				}
				var out struct{ Key string }
				if json.Unmarshal(b, &out) != nil || out.Key == "" {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	fmt.Printf("create: %d clients, %d keys in %.1f s: %.0f keys/s, p50 %s p99 %s, failed %d\n",
		*c, ok.Load(), elapsed.Seconds(), float64(ok.Load())/elapsed.Seconds(), pct(lat, 50), pct(lat, 99), failed.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Println("first failure:", e)
	}
	return nil
}

var durationAttr = regexp.MustCompile(`\bduration=(\S+)`)

// logstats reads pihu's text request log and prints the percentiles of the
// server-side duration of the requests to path, after skipping the first
// skip of them.
func logstats(args []string) error {
	fs := flag.NewFlagSet("logstats", flag.ExitOnError)
	path := fs.String("log", "", "pihu's log (text)")
	p := fs.String("path", "/v1/auth/whoami", "the path to count")
	skip := fs.Int("skip", 0, "requests to skip first")
	fs.Parse(args)
	f, err := os.Open(*path)
	if err != nil {
		return err
	}
	defer f.Close()
	var ds []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "msg=request") || !strings.Contains(line, " path="+*p+" ") {
			continue
		}
		if seen++; seen <= *skip {
			continue
		}
		m := durationAttr.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[1])
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return errors.New("no request lines for " + *p)
	}
	slices.Sort(ds)
	fmt.Printf("server-side %s: %d requests, p50 %s p90 %s p99 %s max %s\n", *p, len(ds), pct(ds, 50), pct(ds, 90), pct(ds, 99), ds[len(ds)-1])
	return nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, len(ds)*p/100)].Round(time.Microsecond)
}

// proxy forwards TCP connections from a loopback address to a loopback
// target (Redis), delaying every byte sent to the target by -delay and
// none of the answer: a round trip to the target as slow as one across a
// network, to show what the latency to Redis costs. It prints the address
// it listens on.
func proxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	to := fs.String("to", "127.0.0.1:6379", "the target's host:port")
	delay := fs.Duration("delay", time.Millisecond, "the delay added to every byte sent to the target")
	fs.Parse(args)
	for _, a := range []string{*addr, *to} {
		if err := loopback("tcp://" + a); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			up, err := net.Dial("tcp", *to)
			if err != nil {
				c.Close()
				return
			}
			go func() {
				io.Copy(c, up)
				c.Close()
			}()
			delayed(up, c, *delay)
			up.Close()
		}()
	}
}

// delayed copies src to dst, each chunk written delay after it was read,
// in order, without waiting for one chunk's delay to read the next.
func delayed(dst io.Writer, src io.Reader, delay time.Duration) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			for range q {
			}
			return
		}
	}
}

// freeports prints N ports free on 127.0.0.1, for servers that cannot
// listen on port 0 and say which port they got (nginx): all held open at
// once, so that they are N different ports.
func freeports(args []string) error {
	n := 1
	if len(args) > 0 {
		if _, err := fmt.Sscan(args[0], &n); err != nil || n < 1 || n > 100 {
			return fmt.Errorf("freeports: %q is not a number from 1 to 100", args[0])
		}
	}
	ports := make([]string, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		_, ports[i], _ = net.SplitHostPort(ln.Addr().String())
	}
	fmt.Println(strings.Join(ports, " "))
	return nil
}
