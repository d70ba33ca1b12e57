package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
)

// certificate is serve's TLS certificate, read from its files at start and
// again at each SIGHUP (reload), so that a renewed certificate is served
// without a restart. Handshakes read it through GetCertificate; a reload
// swaps it atomically, so a handshake sees the old one or the new one,
// never a mix, and connections already open keep theirs.
type certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the certificate and its private key from their
// PEM files.
func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the files again and, if they hold a valid pair, serves it
// from the next handshake on. On an error the certificate served stays
// the one before.
func (c *certificate) reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("reading the TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.current.Store(&pair)
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// tlsConfig is serve's TLS configuration: TLS 1.2 at least (1.0 and 1.1
// are broken and deprecated by RFC 8996), Go's default cipher suites
// (forward secret, AEAD only for TLS 1.2), HTTP/2 and HTTP/1.1.
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// hstsMaxAge is the Strict-Transport-Security lifetime: a year, the
// minimum for browsers' preload lists.
const hstsMaxAge = "max-age=31536000"

// withHSTS adds Strict-Transport-Security to every response served over
// TLS, so that a browser that once reached the server over HTTPS never
// again sends it a session cookie or a key over plain HTTP (RFC 6797).
func withHSTS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", hstsMaxAge)
		}
		h.ServeHTTP(w, r)
	})
}

// checkTLS checks that --tls-cert and --tls-key are given together.
func (c *Config) checkTLS() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return usageError{"--tls-cert and --tls-key go together: give both files (PEM), or neither to serve plain HTTP"}
	}
	return nil
}

// reloadCertificate reloads cert, logging the outcome.
func reloadCertificate(cert *certificate, logger *slog.Logger) {
	if cert == nil {
		logger.Info("SIGHUP: no TLS certificate to reload")
		return
	}
	if err := cert.reload(); err != nil {
		logger.Error("SIGHUP: the TLS certificate was not reloaded; the previous one is still served", "err", err)
		return
	}
	leaf := cert.current.Load().Leaf
	logger.Info("SIGHUP: reloaded the TLS certificate", "cert", cert.certFile, "not_after", leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
}
