package http

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pihu-ai/pihu"
)

// GitHubKeysURL is where GitHub publishes the public keys that sign its
// secret scanning partner reports: the default of serve's
// --github-keys-url.
const GitHubKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// GitHubKeysRefresh is the least time between two loads of GitHub's key
// document: a report signed with a key the cache does not hold loads it
// again only if the last load is at least this old, so that reports with
// made-up identifiers cannot make pihu fetch more often.
const GitHubKeysRefresh = time.Minute

// MaxSecretScanningBody caps the body of a GitHub secret scanning report:
// 1 MiB holds 1,000 matches with URLs of some 900 bytes each. A larger
// body is a 413, and nothing is done.
const MaxSecretScanningBody = 1 << 20

const secretScanningPattern = "POST /v1/secret-scanning/github"

// The headers of a GitHub secret scanning report.
const (
	githubKeyIDHeader     = "Github-Public-Key-Identifier"
	githubSignatureHeader = "Github-Public-Key-Signature"
)

// GitHubKeys are the public keys GitHub signs its secret scanning partner
// reports with (ECDSA P-256), read from GitHub's key document at a URL or
// from a file. The document is loaded on the first report, not before,
// and cached; a report signed with an identifier the cache does not hold
// loads it again, at most once every GitHubKeysRefresh. Safe for
// concurrent use.
type GitHubKeys struct {
	source string // the URL or file, for messages
	load   func(ctx context.Context) ([]byte, error)
	now    func() time.Time

	mu      sync.Mutex
	keys    map[string]*ecdsa.PublicKey
	loaded  time.Time // when the last load was tried; zero: never
	lastErr error     // why the last load failed; nil if it worked
}

// GitHubKeysOptions say where GitHubKeys come from: URL or File, not both.
type GitHubKeysOptions struct {
	// URL is the key document's address (GitHubKeysURL for GitHub.com).
	URL string
	// File is a copy of the document on disk, for servers without
	// internet access; it is read again as a URL would be fetched again,
	// so that replacing it rotates the keys.
	File string
	// Client fetches URL (default: a client with a 10 s timeout).
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewGitHubKeys returns the keys of o. It reads nothing yet. It returns
// an error if o names both a URL and a file, or neither.
func NewGitHubKeys(o GitHubKeysOptions) (*GitHubKeys, error) {
	g := &GitHubKeys{now: o.Now}
	if g.now == nil {
		g.now = time.Now
	}
	switch {
	case o.URL != "" && o.File != "":
		return nil, errors.New("give GitHub's secret scanning keys as a URL or as a file, not both")
	case o.URL != "":
		client := o.Client
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		g.source = o.URL
		g.load = func(ctx context.Context) ([]byte, error) { return fetchKeyDocument(ctx, client, o.URL) }
	case o.File != "":
		g.source = o.File
		g.load = func(context.Context) ([]byte, error) { return os.ReadFile(o.File) }
	default:
		return nil, errors.New("give GitHub's secret scanning keys as a URL or as a file")
	}
	return g, nil
}

// Source is the URL or file the keys come from.
func (g *GitHubKeys) Source() string { return g.source }

func fetchKeyDocument(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return io.ReadAll(io.LimitReader(res.Body, 1<<20))
}

// parseKeyDocument reads GitHub's key document, {"public_keys":
// [{"key_identifier", "key" (PEM), "is_current"}]}: every P-256 key in it,
// by identifier. A document without one is an error.
func parseKeyDocument(b []byte) (map[string]*ecdsa.PublicKey, error) {
	var doc struct {
		PublicKeys []struct {
			ID  string `json:"key_identifier"`
			Key string `json:"key"`
		} `json:"public_keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a key document: %w", err)
	}
	keys := make(map[string]*ecdsa.PublicKey, len(doc.PublicKeys))
	for _, k := range doc.PublicKeys {
		block, _ := pem.Decode([]byte(k.Key))
		if block == nil || k.ID == "" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			continue
		}
		if ec, ok := pub.(*ecdsa.PublicKey); ok && ec.Curve == elliptic.P256() {
			keys[k.ID] = ec
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("the key document holds no ECDSA P-256 key")
	}
	return keys, nil
}

// key returns the public key named id, loading the document if it was
// never loaded, or if id is unknown and the last load is at least
// GitHubKeysRefresh old. Returns EInvalidSignature for an identifier the
// document does not have, and EUnavailable if the document could not be
// loaded and does not give the key.
func (g *GitHubKeys) key(ctx context.Context, id string) (*ecdsa.PublicKey, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if k, ok := g.keys[id]; ok {
		return k, nil
	}
	if now := g.now(); g.loaded.IsZero() || now.Sub(g.loaded) >= GitHubKeysRefresh {
		g.loaded = now
		// A report whose client goes away must not leave the keys
		// unloaded for a minute: the load has the client's own timeout.
		b, err := g.load(context.WithoutCancel(ctx))
		var keys map[string]*ecdsa.PublicKey
		if err == nil {
			keys, err = parseKeyDocument(b)
		}
		if g.lastErr = err; err == nil {
			g.keys = keys
		}
		if k, ok := g.keys[id]; ok {
			return k, nil
		}
	}
	if g.lastErr != nil {
		return nil, &keysUnavailableError{source: g.source, err: g.lastErr}
	}
	return nil, pihu.Errorf(pihu.EInvalidSignature, "The report is signed with the key %q, which is not one of GitHub's secret scanning keys.", pihu.MaskSecrets(id))
}

// keysUnavailableError is a report that cannot be checked because GitHub's
// keys could not be loaded: a 503 for GitHub, which sends it again later.
type keysUnavailableError struct {
	source string
	err    error
}

func (e *keysUnavailableError) Error() string {
	return fmt.Sprintf("GitHub's secret scanning keys (%s) could not be loaded: %v", e.source, e.err)
}

// Verify checks that sig, the base64 of an ASN.1 ECDSA signature, is the
// signature of body's SHA-256 by GitHub's key id. Returns
// EInvalidSignature if it is not, and a *keysUnavailableError when the
// keys cannot be loaded.
func (g *GitHubKeys) Verify(ctx context.Context, id, sig string, body []byte) error {
	if id == "" || sig == "" {
		return pihu.Errorf(pihu.EInvalidSignature, "The report is not signed: send GitHub's %s and %s headers.", githubKeyIDHeader, githubSignatureHeader)
	}
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return pihu.Errorf(pihu.EInvalidSignature, "The %s header is not base64.", githubSignatureHeader)
	}
	pub, err := g.key(ctx, id)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, digest[:], der) {
		return pihu.Errorf(pihu.EInvalidSignature, "The report's signature is not GitHub's signature of its body with the key %q.", pihu.MaskSecrets(id))
	}
	return nil
}

// SecretScanningMatch is one token of a GitHub secret scanning report.
type SecretScanningMatch struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// SecretScanningLabel is the answer about one token of a report: its
// SHA-256 (never the token), its type as reported, and whether it is a
// key of this server ("true_positive") or not ("false_positive").
type SecretScanningLabel struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// Labels of SecretScanningLabel.
const (
	LabelTruePositive  = "true_positive"
	LabelFalsePositive = "false_positive"
)

// githubSecretScanning takes a GitHub secret scanning partner report:
// checks its signature, then handles every token that is a key of this
// server as its account's leak policy says (recordLeaks), and labels each
// token. Nothing is done before the signature is checked.
func (s *Server) githubSecretScanning(w http.ResponseWriter, r *http.Request) {
	if s.githubKeys == nil {
		s.writeError(w, r, pihu.Errorf(pihu.ENotFound,
			"This server takes no GitHub secret scanning reports: it was started with --github-keys-url \"\" and no --github-keys-file."))
		return
	}
	if err := noParameters(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, sig := r.Header.Get(githubKeyIDHeader), r.Header.Get(githubSignatureHeader)
	if id == "" || sig == "" {
		s.writeError(w, r, s.githubKeys.Verify(r.Context(), id, sig, nil))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.writeError(w, r, pihu.Errorf(pihu.EUnsupportedMediaType, "This endpoint accepts only application/json, as GitHub sends it."))
		return
	}
	body, err := readLimited(w, r, MaxSecretScanningBody)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.githubKeys.Verify(r.Context(), id, sig, body); err != nil {
		var unavailable *keysUnavailableError
		if errors.As(err, &unavailable) {
			s.logger.Error("GitHub secret scanning report refused with 503, nothing revoked: cannot check its signature",
				"request_id", requestID(r.Context()), "keys", unavailable.source, "err", pihu.MaskSecrets(unavailable.err.Error()))
			err = pihu.Errorf(pihu.EUnavailable, "GitHub's public keys cannot be loaded to check this report's signature; nothing was done. Send it again later.")
		}
		s.writeError(w, r, err)
		return
	}
	// Only a report GitHub signed reaches the store, Idempotency-Key
	// records included.
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.idempotent(w, r, nil, nil, func(w http.ResponseWriter, r *http.Request) {
		matches, err := parseSecretScanningReport(body)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		labels, err := s.handleSecretScanningReport(r, matches)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, labels)
	})
}

// handleSecretScanningReport records the leaks of a report whose
// signature is good, and labels each of its tokens, in order.
func (s *Server) handleSecretScanningReport(r *http.Request, matches []SecretScanningMatch) ([]SecretScanningLabel, error) {
	now := s.now()
	reported := make([]reportedKey, len(matches))
	for i, m := range matches {
		reported[i] = reportedKey{secret: m.Token, leak: pihu.NewLeak(pihu.ActorGitHubSecretScanning, m.URL, m.Source, now)}
	}
	outcomes, err := s.recordLeaks(r.Context(), reported, clientIP(r), false)
	if err != nil {
		return nil, err
	}
	labels := make([]SecretScanningLabel, len(matches))
	var revoked, flagged int
	for _, o := range outcomes {
		switch o {
		case pihu.LeakRevoked:
			revoked++
		case pihu.LeakFlagged:
			flagged++
		}
	}
	for i, m := range matches {
		sum := sha256.Sum256([]byte(m.Token))
		labels[i] = SecretScanningLabel{TokenHash: hex.EncodeToString(sum[:]), TokenType: m.Type, Label: LabelFalsePositive}
		if _, ok := outcomes[m.Token]; ok {
			labels[i].Label = LabelTruePositive
		}
	}
	s.logger.Info("GitHub secret scanning report", "request_id", requestID(r.Context()),
		"tokens", len(matches), "keys", len(outcomes), "revoked", revoked, "flagged", flagged)
	return labels, nil
}

// parseSecretScanningReport reads a report's body: a JSON array of
// {token, type, url, source} objects (other fields are ignored, as GitHub
// may add some). Returns EInvalidJSON for anything else, and
// EParameterMissing on "[i].token" for a match without a token.
func parseSecretScanningReport(body []byte) ([]SecretScanningMatch, error) {
	invalid := pihu.Errorf(pihu.EInvalidJSON, "The report is not a JSON array of {\"token\", \"type\", \"url\", \"source\"} objects.")
	if !utf8.Valid(body) {
		return nil, invalid
	}
	var matches []SecretScanningMatch
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&matches); err != nil || matches == nil {
		return nil, invalid
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid
	}
	for i, m := range matches {
		if m.Token == "" {
			param := fmt.Sprintf("[%d].token", i)
			return nil, pihu.ParamErrorf(pihu.EParameterMissing, param, "The match %d has no \"token\".", i)
		}
	}
	return matches, nil
}

// readLimited reads the body of r, up to limit bytes. Returns
// EBodyTooLarge if it is longer.
func readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := pihu.Errorf(pihu.EBodyTooLarge, "The request body is larger than %d MiB.", limit>>20)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, pihu.Errorf(pihu.EInvalidJSON, "The request body could not be read.")
	}
	return body, nil
}
