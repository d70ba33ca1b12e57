package client

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pihu-ai/pihu"
)

// Errors of TokenVerifier.Verify, to tell with errors.Is; the error
// returned says more.
var (
	// ErrInvalidToken is a token that is not valid: malformed, another
	// algorithm than EdDSA, a bad signature, an unknown kid, another
	// issuer or audience.
	ErrInvalidToken = errors.New("the access token is not valid")
	// ErrExpiredToken is a token past its exp.
	ErrExpiredToken = errors.New("the access token has expired")
)

// TokenVerifierConfig configures a TokenVerifier.
type TokenVerifierConfig struct {
	// Issuer is the Pihu server's issuer URL (its --issuer, as in the
	// tokens' "iss" and /.well-known/openid-configuration), such as
	// "https://auth.example.com". Required.
	Issuer string
	// JWKSURL is where the public keys are. Default: Issuer +
	// "/.well-known/jwks.json".
	JWKSURL string
	// Audience is the "aud" a token must name to be accepted: your
	// service's identifier, as the token was minted with. Default: the
	// Issuer (tokens minted for the Pihu API itself).
	Audience string
	// HTTPClient fetches the keys. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// CacheFor is how long fetched keys are used before they are fetched
	// again. Default: 5 minutes, as the server's Cache-Control allows.
	CacheFor time.Duration
	// MinRefresh is the least time between two fetches caused by tokens
	// with an unknown kid, so that tokens with made-up kids cannot make
	// the verifier hammer the server. Default: 10 seconds.
	MinRefresh time.Duration
	// Leeway is the clock skew allowed on exp and iat. Default: none.
	Leeway time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// TokenVerifier checks Pihu access tokens offline: with the server's
// public keys (its JWKS), fetched once and cached, and never a request per
// token. It accepts EdDSA only (never "none", never HMAC), checks the
// signature, typ exactly "at+jwt" and no "crit", iss, aud, exp and iat
// (JSON numbers, at most an hour apart), and returns the claims.
// It is safe for concurrent use.
//
// An offline verifier cannot know that a token's API key was revoked: it
// accepts the token until its exp (at most an hour, 15 minutes by
// default). Pihu itself refuses it at once. Send API keys, which live
// long, to Client.Verify instead.
type TokenVerifier struct {
	cfg    TokenVerifierConfig
	parser *jwt.Parser

	fetch sync.Mutex // one fetch at a time

	mu        sync.RWMutex
	verified  map[[32]byte]*TokenClaims // by SHA-256 of the token
	keys      map[string]ed25519.PublicKey
	fetched   time.Time // when keys were fetched; zero: never
	refreshed time.Time // when an unknown kid last caused a fetch
	failed    time.Time // when a fetch last failed
	lastErr   error
}

// TokenClaims are what a verified access token grants.
type TokenClaims struct {
	ID          string // jti
	Issuer      string
	Audience    string
	KeyID       string // the API key it was minted with (sub)
	AccountID   string
	Environment string // "live" or "test": a live service should refuse test tokens
	Permissions []string
	IssuedAt    time.Time
	Expires     time.Time
}

// Has reports whether the token grants permission p, with Pihu's rules:
// "*" grants everything, "res:*" every action on res, "res:write" also
// "res:read".
func (c *TokenClaims) Has(p string) bool {
	ps := make(pihu.Permissions, len(c.Permissions))
	for i, s := range c.Permissions {
		ps[i] = pihu.Permission(s)
	}
	return ps.Grants(pihu.Permission(p))
}

// NewTokenVerifier returns a verifier for the tokens of cfg.Issuer. It
// fetches nothing until the first Verify.
func NewTokenVerifier(cfg TokenVerifierConfig) (*TokenVerifier, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: token verifier: issuer %q: want the server's http:// or https:// URL", cfg.Issuer)
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/jwks.json"
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.CacheFor == 0 {
		cfg.CacheFor = 5 * time.Minute
	}
	if cfg.MinRefresh == 0 {
		cfg.MinRefresh = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &TokenVerifier{cfg: cfg, verified: make(map[[32]byte]*TokenClaims)}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{pihu.SigningAlgorithm}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return v, nil
}

type tokenClaims struct {
	jwt.RegisteredClaims
	AccountID   string `json:"acct"`
	Environment string `json:"env"`
	Scope       string `json:"scope"`
}

// UnmarshalJSON decodes a token's payload after checking that its dates
// are JSON numbers (pihu.CheckTokenDates), which the JWT library does not.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	if err := pihu.CheckTokenDates(b); err != nil {
		return err
	}
	type plain tokenClaims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// maxVerified bounds the cache of verified tokens.
const maxVerified = 100_000

// Verify checks token and returns its claims. Returns an error wrapping
// ErrExpiredToken or ErrInvalidToken for a token to refuse, and another
// error when the keys could not be fetched (then nothing is known about
// the token: answer 503, not 401).
//
// A token that verified is remembered (by its SHA-256) until it expires,
// so that a client sending one token many times costs one signature
// check; its exp is checked every time. The claims returned are shared:
// do not change them.
func (v *TokenVerifier) Verify(ctx context.Context, token string) (*TokenClaims, error) {
	digest := sha256.Sum256([]byte(token))
	v.mu.RLock()
	c, ok := v.verified[digest]
	v.mu.RUnlock()
	if ok {
		if !v.cfg.Now().Add(-v.cfg.Leeway).Before(c.Expires) {
			return nil, fmt.Errorf("%w: it expired at %s", ErrExpiredToken, c.Expires.Format(time.RFC3339))
		}
		return c, nil
	}
	c, err := v.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	now := v.cfg.Now()
	v.mu.Lock()
	if len(v.verified) >= maxVerified {
		for d, old := range v.verified {
			if len(v.verified) < maxVerified && !now.After(old.Expires) {
				continue
			}
			delete(v.verified, d)
		}
	}
	v.verified[digest] = c
	v.mu.Unlock()
	return c, nil
}

// verify is Verify without the cache.
func (v *TokenVerifier) verify(ctx context.Context, token string) (*TokenClaims, error) {
	var c tokenClaims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if err := pihu.CheckTokenHeader(t.Header); err != nil {
			return nil, err
		}
		kid, _ := t.Header["kid"].(string)
		return v.key(ctx, kid)
	})
	var fe *fetchError
	switch {
	case errors.As(err, &fe):
		return nil, fe
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %v", ErrExpiredToken, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Subject == "" || c.AccountID == "" || len(c.Audience) == 0 || c.IssuedAt == nil {
		return nil, fmt.Errorf("%w: it lacks the claims Pihu issues", ErrInvalidToken)
	}
	if err := pihu.CheckTokenLifetime(c.IssuedAt.Time, c.ExpiresAt.Time); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return &TokenClaims{
		ID: c.ID, Issuer: c.Issuer, Audience: v.cfg.Audience, KeyID: c.Subject, AccountID: c.AccountID,
		Environment: c.Environment, Permissions: strings.Fields(c.Scope),
		IssuedAt: c.IssuedAt.UTC(), Expires: c.ExpiresAt.UTC(),
	}, nil
}

// fetchError is a failure to get the keys: not the token's fault.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return "client: fetching the token keys: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// key returns the public key kid, fetching the keys when they are older
// than CacheFor, or when kid is unknown and no such fetch happened in the
// last MinRefresh.
func (v *TokenVerifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	now := v.cfg.Now()
	v.mu.RLock()
	k, ok := v.keys[kid]
	stale := v.fetched.IsZero() || now.Sub(v.fetched) >= v.cfg.CacheFor
	recent := !v.refreshed.IsZero() && now.Sub(v.refreshed) < v.cfg.MinRefresh
	v.mu.RUnlock()
	if ok && !stale {
		return k, nil
	}
	if !stale && (recent || kid == "") {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if err := v.refresh(ctx, !ok); err != nil {
		if ok { // a stale key still verifies while the server is away
			return k, nil
		}
		return nil, err
	}
	v.mu.RLock()
	k, ok = v.keys[kid]
	v.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return k, nil
}

// refresh fetches the JWKS, unless another goroutine just did.
func (v *TokenVerifier) refresh(ctx context.Context, unknownKid bool) error {
	v.fetch.Lock()
	defer v.fetch.Unlock()
	now := v.cfg.Now()
	v.mu.RLock()
	fresh := !v.fetched.IsZero() && now.Sub(v.fetched) < v.cfg.MinRefresh
	failing := !v.failed.IsZero() && now.Sub(v.failed) < v.cfg.MinRefresh
	lastErr := v.lastErr
	v.mu.RUnlock()
	if fresh {
		return nil
	}
	if failing { // wait before asking a failing server again
		return lastErr
	}
	keys, err := v.fetchKeys(ctx)
	if err != nil {
		v.mu.Lock()
		v.failed, v.lastErr = now, &fetchError{err}
		v.mu.Unlock()
		return &fetchError{err}
	}
	v.mu.Lock()
	v.keys, v.fetched = keys, now
	if unknownKid {
		v.refreshed = now
	}
	v.mu.Unlock()
	return nil
}

func (v *TokenVerifier) fetchKeys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", v.cfg.JWKSURL, res.Status)
	}
	var doc struct {
		Keys []struct {
			Kty, Crv, X, Kid, Alg, Use string
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("GET %s: %w", v.cfg.JWKSURL, err)
	}
	keys := make(map[string]ed25519.PublicKey, len(doc.Keys))
	for _, k := range doc.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" || (k.Alg != "" && k.Alg != pihu.SigningAlgorithm) || (k.Use != "" && k.Use != "sig") {
			continue // not a key this verifier uses
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}
