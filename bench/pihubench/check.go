package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// checkFlags are what both Check commands send: the request Envoy would
// describe for a GET of -path with the key, from 127.0.0.1, asking for
// -permission through the route's context extensions.
type checkFlags struct {
	key, path, permission string
}

func (f *checkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.key, "key", "", "the key Envoy's request carries")
	fs.StringVar(&f.path, "path", "/v1/candidates", "the path of the request Envoy asks about")
	fs.StringVar(&f.permission, "permission", "candidate:read", "the permission the route asks for (a context extension)")
}

func (f *checkFlags) request() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: f.path, Host: "api.example.com", Scheme: "http", Protocol: "HTTP/1.1",
			Headers: map[string]string{"authorization": "Bearer " + f.key, "user-agent": "pihubench", "accept": "*/*"},
		}},
		ContextExtensions: map[string]string{"permission": f.permission},
	}}
}

func dialCheck(addr string) (*grpc.ClientConn, authv3.AuthorizationClient, error) {
	if err := loopback("http://" + addr); err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return conn, authv3.NewAuthorizationClient(conn), nil
}

// bareServer answers every Check with one response, as a bare gRPC
// server answering OK would.
type bareServer struct {
	authv3.UnimplementedAuthorizationServer
	res *authv3.CheckResponse
}

func (b *bareServer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return b.res, nil
}

// barecheck serves, for every Check, the response pihu gave to one: the
// floor that pihu's Check is compared with.
func barecheck(args []string) error {
	fs := flag.NewFlagSet("barecheck", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	from := fs.String("from", "", "pihu's ext_authz address (host:port)")
	var f checkFlags
	f.register(fs)
	fs.Parse(args)
	conn, client, err := dialCheck(*from)
	if err != nil {
		return err
	}
	res, err := client.Check(context.Background(), f.request())
	conn.Close()
	if err != nil {
		return err
	}
	if code := res.GetStatus().GetCode(); code != int32(codes.OK) {
		return fmt.Errorf("pihu denied the request (code %d): %v", code, res.GetDeniedResponse())
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, &bareServer{res: res})
	return g.Serve(ln)
}

// checkload calls Check on -addr from -c concurrent streams of one
// connection (as one Envoy worker does) for -d, and prints the calls a
// second and the latency percentiles; every answer must be OK.
func checkload(args []string) error {
	fs := flag.NewFlagSet("checkload", flag.ExitOnError)
	addr := fs.String("addr", "", "the ext_authz address (host:port)")
	conc := fs.Int("c", 32, "concurrent streams")
	d := fs.Duration("d", 5*time.Second, "how long (at most 1m)")
	rate := fs.Float64("rate", 0, "calls a second in all, spread over the streams (0: as fast as answered)")
	var f checkFlags
	f.register(fs)
	fs.Parse(args)
	if *d <= 0 || *d > time.Minute || *conc < 1 || *conc > 1024 {
		return errors.New("checkload: -d must be within 1m and -c from 1 to 1024")
	}
	conn, client, err := dialCheck(*addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	req := f.request()
	// The calls run without a deadline and stop when -d has passed: a
	// deadline on them would end the last in flight with an error that
	// is no answer of the server's (gRPC's own timer can fire before the
	// context's).
	ctx := context.Background()
	end := time.Now().Add(*d)
	var (
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	// With -rate, each stream starts a call every interval (later if the
	// last is not answered yet): the latency of a server that keeps up,
	// not of a queue that the load keeps full.
	var interval time.Duration
	if *rate > 0 {
		interval = time.Duration(float64(*conc) / *rate * float64(time.Second))
	}
	for i := range *conc {
		wg.Go(func() {
			var own []time.Duration
			next := time.Now().Add(interval * time.Duration(i) / time.Duration(*conc))
			for t := time.Now(); t.Before(end); t = time.Now() {
				if interval > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(interval)
					t = time.Now()
				}
				res, err := client.Check(ctx, req)
				if err == nil && res.GetStatus().GetCode() != int32(codes.OK) {
					err = fmt.Errorf("denied (code %d)", res.GetStatus().GetCode())
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				own = append(own, time.Since(t))
			}
			mu.Lock()
			all = append(all, own...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	if len(all) == 0 {
		return errors.New("checkload: no call completed")
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	fmt.Printf("calls %d rps %.0f p50 %s p99 %s\n", len(all), float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99))
	return nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
