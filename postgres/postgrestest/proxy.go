package postgrestest

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on the loopback in front of the test database, so
// that a test can make the database unreachable and bring it back without
// touching the server other tests use: Stop closes every connection and
// refuses new ones; Hang keeps accepting connections but forwards nothing,
// like a network that drops packets; Start forwards again.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	hang  bool
}

// NewProxy starts a proxy to the host of databaseURL and returns it with
// databaseURL rewritten to go through it. It is stopped when the test
// ends.
func NewProxy(tb testing.TB, databaseURL string) (*Proxy, string) {
	tb.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{target: u.Host, conns: map[net.Conn]bool{}}
	if p.target == "" {
		tb.Fatalf("%s names no host:port", EnvURL)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	tb.Cleanup(p.Stop)
	u.Host = p.addr
	return p, u.String()
}

// Stop closes the listener and every connection: the database is
// unreachable, and connecting is refused at once.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Hang makes the proxy accept connections and hold them silent, and leaves
// the connections already open silent too: nothing answers, and nothing
// says so.
func (p *Proxy) Hang() {
	p.mu.Lock()
	p.hang = true
	p.mu.Unlock()
}

// Start forwards again, on the same address, after Stop or Hang. The
// connections that hung are closed: bytes were lost on them, as a
// partition breaks the connections it outlasts.
func (p *Proxy) Start(tb testing.TB) {
	tb.Helper()
	p.mu.Lock()
	if p.hang {
		for c := range p.conns {
			c.Close()
			delete(p.conns, c)
		}
	}
	p.hang = false
	restart := p.ln == nil
	p.mu.Unlock()
	if !restart {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		tb.Fatal(err)
	}
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

// forward copies bytes both ways between c and the database, while the
// proxy does not hang.
func (p *Proxy) forward(c net.Conn) {
	if !p.track(c) {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(up) {
		c.Close()
		return
	}
	go p.copy(up, c)
	p.copy(c, up)
}

// track records c to be closed by Stop; it is false, and c closed, if the
// proxy is stopped already.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

// copy copies from src to dst in chunks, dropping them while the proxy
// hangs, and closes both when either side ends.
func (p *Proxy) copy(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hang := p.hang
			p.mu.Unlock()
			if !hang {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
