package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newCertificate writes a self-signed ECDSA certificate for 127.0.0.1,
// named cn, to certFile and keyFile (each replaced atomically, as a
// renewal tool does), and returns it.
func newCertificate(tb testing.TB, cn, certFile, keyFile string) *x509.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	writeAtomic(tb, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeAtomic(tb, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func writeAtomic(tb testing.TB, path string, b []byte) {
	tb.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// servedCertificate returns the certificate the server at addr presents.
func servedCertificate(tb testing.TB, addr string) *x509.Certificate {
	tb.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestServe_TLS serves HTTPS with a certificate it generates: the API
// answers with HSTS, TLS 1.1 and plain HTTP are refused, and after the
// files are replaced and the process gets SIGHUP it serves the new
// certificate; a broken file at a SIGHUP keeps the one before.
func TestServe_TLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := newCertificate(t, "first", certFile, keyFile)
	s := startServer(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	addr := strings.TrimPrefix(s.url, "http://")
	if !strings.Contains(s.stderr.String(), "url=https://"+addr) {
		t.Errorf("the listening line does not give the https URL:\n%s", s.stderr.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(first)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}

	res, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET /healthz over TLS: got %d", res.StatusCode)
	}
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security: got %q, want max-age=31536000", got)
	}
	if res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("TLS version: got %+v, want 1.2 or later", res.TLS)
	}

	t.Run("TLS11Refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("PlainHTTPRefused", func(t *testing.T) {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("plain HTTP to the TLS port: got %d, want 400", res.StatusCode)
			}
		}
	})

	t.Run("ReloadOnSIGHUP", func(t *testing.T) {
		second := newCertificate(t, "second", certFile, keyFile)
		if got := servedCertificate(t, addr); !got.Equal(first) {
			t.Fatalf("the new certificate is served before SIGHUP")
		}
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitForCertificate(t, addr, second)

		// A broken pair at the next SIGHUP is logged, and the last good
		// certificate stays.
		writeAtomic(t, keyFile, []byte("not a key"))
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.stderr.String(), "was not reloaded"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no log of the failed reload:\n%s", s.stderr.String())
			}
		}
		if got := servedCertificate(t, addr); !got.Equal(second) {
			t.Errorf("after a failed reload: got the certificate %q, want %q", got.Subject.CommonName, "second")
		}
	})
	s.stop(t)
}

// waitForCertificate waits until the server at addr presents want.
func waitForCertificate(tb testing.TB, addr string, want *x509.Certificate) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := servedCertificate(tb, addr)
		if got.Equal(want) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after SIGHUP: got the certificate %q, want %q", got.Subject.CommonName, want.Subject.CommonName)
		}
	}
}

// TestServe_TLSFlags checks that a certificate without its key, or files
// that cannot be read, stop serve at start with a message.
func TestServe_TLSFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"CertWithoutKey", []string{"--tls-cert", filepath.Join(dir, "c.pem")}, 2, "--tls-cert and --tls-key go together"},
		{"MissingFiles", []string{"--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, 1, "reading the TLS certificate"},
		{"BadDrainTimeout", []string{"--drain-timeout", "soon"}, 2, "drain-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pihuCLI(t, "", "", append([]string{"serve", "--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(dir, "pihu.db")}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("got exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
}
