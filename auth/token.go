package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pihu-ai/pihu"
)

// Tokens signs and verifies access tokens (JWTs signed with EdDSA) with
// the signing keys of a store, which every instance shares. It is safe for
// concurrent use.
//
// The keys are read from the store once and kept: the active one signs, the
// published ones (active, or retired less than pihu.SigningKeyRetention
// ago) verify. They are read again every ReloadInterval, so that a rotation
// made by another process (`pihu signing-keys rotate`) is followed, and on
// a token with an unknown kid, at most once every MinRefresh, so that a
// token signed by another instance with a newer key is accepted while
// garbage kids cost no more than one read a MinRefresh. The first instance
// that needs a key creates it (see pihu.SigningKeyStore.ActiveSigningKey).
type Tokens struct {
	store      pihu.SigningKeyStore
	issuer     string
	now        func() time.Time
	reload     time.Duration
	minRefresh time.Duration
	logger     *slog.Logger
	parser     *jwt.Parser

	refresh sync.Mutex // one read of the store at a time

	mu        sync.RWMutex
	verified  map[[32]byte]*pihu.AccessToken // by SHA-256 of the token
	active    *pihu.SigningKey
	public    map[string]ed25519.PublicKey // published keys, by kid
	jwks      []byte                       // the JWKS document of public
	loaded    time.Time                    // when the keys were read; zero: never
	refreshed time.Time                    // when an unknown kid last made them be read
}

// TokenOptions configure Tokens; zero values take the defaults.
type TokenOptions struct {
	// Issuer is the "iss" of every token, and the only issuer accepted:
	// the server's public URL, such as "https://auth.example.com".
	// Required.
	Issuer string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ReloadInterval is how often the signing keys are read again
	// (default 1 minute).
	ReloadInterval time.Duration
	// MinRefresh is the least time between two reads caused by tokens
	// with an unknown kid (default 5 seconds).
	MinRefresh time.Duration
	// Logger receives failures to read the keys (default slog.Default()).
	Logger *slog.Logger
}

// NewTokens returns Tokens keeping its signing keys in store. It panics if
// opts.Issuer is empty.
func NewTokens(store pihu.SigningKeyStore, opts TokenOptions) *Tokens {
	if opts.Issuer == "" {
		panic("auth.NewTokens: TokenOptions.Issuer is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = time.Minute
	}
	if opts.MinRefresh == 0 {
		opts.MinRefresh = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t := &Tokens{
		verified: make(map[[32]byte]*pihu.AccessToken),
		store:    store, issuer: opts.Issuer, now: opts.Now,
		reload: opts.ReloadInterval, minRefresh: opts.MinRefresh, logger: opts.Logger,
	}
	// Only EdDSA is accepted: "none", HS256 signed with a public key and
	// every other algorithm are refused before any key is used.
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{pihu.SigningAlgorithm}),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithAudience(opts.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(opts.Now),
		jwt.WithStrictDecoding(),
	)
	return t
}

// Issuer is the "iss" of the tokens t signs.
func (t *Tokens) Issuer() string { return t.issuer }

// claims is the JSON payload of an access token: the registered claims of
// RFC 7519, client_id of RFC 9068 (the key id, as sub), and pihu's own.
type claims struct {
	jwt.RegisteredClaims
	ClientID    string `json:"client_id"`
	AccountID   string `json:"acct"`
	Environment string `json:"env"`
	// Scope is the permissions, space-separated (RFC 8693 §4.2, RFC 9068).
	Scope string `json:"scope"`
}

// Sign returns the signed JWT of at, with the active signing key.
func (t *Tokens) Sign(ctx context.Context, at *pihu.AccessToken) (string, error) {
	if err := t.load(ctx, false); err != nil {
		return "", err
	}
	t.mu.RLock()
	k := t.active
	t.mu.RUnlock()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    at.Issuer,
			Subject:   at.KeyID,
			Audience:  jwt.ClaimStrings{at.Audience},
			IssuedAt:  jwt.NewNumericDate(at.Issued),
			ExpiresAt: jwt.NewNumericDate(at.Expires),
			ID:        at.ID,
		},
		ClientID:    at.KeyID,
		AccountID:   at.AccountID,
		Environment: string(at.Environment),
		Scope:       strings.Join(at.Permissions.Strings(), " "),
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.ID
	tok.Header["typ"] = pihu.TokenType
	s, err := tok.SignedString(k.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("auth: signing a token: %w", err)
	}
	return s, nil
}

// maxVerified bounds the cache of verified tokens.
const maxVerified = 100_000

// Verify checks the JWT s (algorithm EdDSA, a published kid, its
// signature, typ exactly at+jwt and no crit, iss and aud this server's
// issuer, exp and iat numbers and at most pihu.MaxTokenLifetime apart) and
// returns what it grants. Its parent key is not looked at: see
// Authenticator. Returns EExpiredAPIKey, with the token, for a token that
// is right but expired; EInvalidAPIKey for anything else.
//
// A token that verified is remembered by its SHA-256 until it expires, so
// that a client using one token for many requests pays for the signature
// (tens of microseconds) once: a token is immutable, and everything
// checked but exp holds for its whole life; exp is checked every time.
func (t *Tokens) Verify(ctx context.Context, s string) (*pihu.AccessToken, error) {
	return t.verifyGuarded(ctx, s, nil)
}

// verifyGuarded is Verify, except that before it checks the signature of
// a token it has not verified before it calls guard, if not nil, and
// returns guard's error instead when there is one: an address that has
// been sending bad credentials cannot make the server check signatures
// (tens of microseconds each) at its pace.
func (t *Tokens) verifyGuarded(ctx context.Context, s string, guard func() error) (*pihu.AccessToken, error) {
	digest := sha256.Sum256([]byte(s))
	t.mu.RLock()
	at, ok := t.verified[digest]
	t.mu.RUnlock()
	if ok {
		if !t.now().Before(at.Expires) {
			return at, expired(at)
		}
		return at, nil
	}
	if guard != nil {
		if err := guard(); err != nil {
			return nil, err
		}
	}
	at, err := t.verify(ctx, s)
	if err == nil {
		t.remember(digest, at)
	}
	return at, err
}

// remember caches a verified token, first dropping the expired ones when
// the cache is full, then an arbitrary one if it still is.
func (t *Tokens) remember(digest [32]byte, at *pihu.AccessToken) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.verified) >= maxVerified {
		for d, old := range t.verified {
			if !now.Before(old.Expires) {
				delete(t.verified, d)
			}
		}
		for d := range t.verified {
			if len(t.verified) < maxVerified {
				break
			}
			delete(t.verified, d)
		}
	}
	t.verified[digest] = at
}

func expired(at *pihu.AccessToken) error {
	return &pihu.Error{Code: pihu.EExpiredAPIKey, Message: fmt.Sprintf(
		"This access token expired at %s. Get a new one from POST /v1/auth/tokens or POST /v1/oauth/token; tokens live at most 1 hour.",
		at.Expires.Format(time.RFC3339))}
}

// verify is Verify without the cache.
func (t *Tokens) verify(ctx context.Context, s string) (*pihu.AccessToken, error) {
	var c claims
	_, err := t.parser.ParseWithClaims(s, &c, func(tok *jwt.Token) (any, error) {
		if err := pihu.CheckTokenHeader(tok.Header); err != nil {
			return nil, &formatError{err}
		}
		kid, _ := tok.Header["kid"].(string)
		return t.publicKey(ctx, kid)
	})
	var fe *formatError
	switch {
	case err == nil:
	case errors.As(err, &fe):
		return nil, invalidToken(fe.Error())
	case errors.Is(err, jwt.ErrTokenExpired) && errors.Is(err, jwt.ErrTokenInvalidClaims):
		at, cerr := c.accessToken()
		if cerr != nil {
			return nil, cerr
		}
		return at, expired(at)
	case errors.Is(err, errStore):
		return nil, err
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, invalidToken("it was issued by another server (its \"iss\" is not " + t.issuer + ")")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, invalidToken("it is for another audience (its \"aud\" does not name " + t.issuer + "); mint it without \"audience\" to call this API")
	case errors.Is(err, errUnknownKey):
		return nil, invalidToken("it was signed by a key this server does not publish (an unknown or dropped \"kid\")")
	default:
		return nil, invalidToken("its format, algorithm or signature is wrong")
	}
	return c.accessToken()
}

var (
	errUnknownKey = errors.New("unknown kid")
	errStore      = errors.New("reading the signing keys")
)

// formatError is why a token is not in the format pihu issues, as the
// checks of the root package put it (pihu.CheckTokenHeader,
// pihu.CheckTokenDates).
type formatError struct{ err error }

func (e *formatError) Error() string { return e.err.Error() }

func invalidToken(why string) *pihu.Error {
	return pihu.Errorf(pihu.EInvalidAPIKey,
		"The access token is not valid: %s. Send a token as pihu issued it, or an API key.", why)
}

// UnmarshalJSON decodes the payload of a token after checking what the
// JWT library forgives: a date that is not a JSON number
// (pihu.CheckTokenDates).
func (c *claims) UnmarshalJSON(b []byte) error {
	if err := pihu.CheckTokenDates(b); err != nil {
		return &formatError{err}
	}
	type plain claims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// accessToken checks the claims pihu adds, and the lifetime pihu gives,
// and returns them.
func (c *claims) accessToken() (*pihu.AccessToken, error) {
	env := pihu.Environment(c.Environment)
	if c.Subject == "" || c.AccountID == "" || c.ID == "" || !env.Valid() || c.IssuedAt == nil || c.ExpiresAt == nil || len(c.Audience) != 1 {
		return nil, invalidToken("it lacks the claims pihu issues")
	}
	if err := pihu.CheckTokenLifetime(c.IssuedAt.Time, c.ExpiresAt.Time); err != nil {
		return nil, invalidToken(err.Error())
	}
	var perms pihu.Permissions
	for p := range strings.FieldsSeq(c.Scope) {
		perms = append(perms, pihu.Permission(p))
	}
	if len(perms) == 0 || perms.CheckFormat("scope") != nil {
		return nil, invalidToken("its \"scope\" is not a list of permissions")
	}
	return &pihu.AccessToken{
		ID: c.ID, Issuer: c.Issuer, Audience: c.Audience[0], KeyID: c.Subject, AccountID: c.AccountID,
		Environment: env, Permissions: perms, Issued: c.IssuedAt.UTC(), Expires: c.ExpiresAt.UTC(),
	}, nil
}

// publicKey returns the published key kid, reading the keys again if it is
// unknown and they were not read in the last MinRefresh.
func (t *Tokens) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if err := t.load(ctx, false); err != nil {
		return nil, err
	}
	t.mu.RLock()
	k, ok := t.public[kid]
	last := t.refreshed
	t.mu.RUnlock()
	if ok {
		return k, nil
	}
	if kid == "" || t.now().Sub(last) < t.minRefresh {
		return nil, errUnknownKey
	}
	if err := t.load(ctx, true); err != nil {
		return nil, err
	}
	t.mu.RLock()
	k, ok = t.public[kid]
	t.mu.RUnlock()
	if !ok {
		return nil, errUnknownKey
	}
	return k, nil
}

// JWK is one public key of a JWKS document (RFC 7517, RFC 8037).
type JWK struct {
	KeyType   string `json:"kty"` // "OKP"
	Curve     string `json:"crv"` // "Ed25519"
	X         string `json:"x"`   // the public key, base64url
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"` // "EdDSA"
	Use       string `json:"use"` // "sig"
}

// JWKS is a JWK Set document.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the JWK Set of the published public keys, as JSON: the
// active one first. It never holds a private key. The keys are read again
// if they were not in the last MinRefresh, rather than ReloadInterval: a
// key another instance has started signing with is then published here
// within seconds, while the document costs at most one read a MinRefresh
// however often it is asked for.
func (t *Tokens) JWKS(ctx context.Context) ([]byte, error) {
	t.mu.RLock()
	stale := t.now().Sub(t.refreshed) >= t.minRefresh
	t.mu.RUnlock()
	if err := t.load(ctx, stale); err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.jwks, nil
}

// load reads the signing keys from the store if they were never read, are
// older than ReloadInterval, or force (an unknown kid) is set, creating
// the first key if there is none.
func (t *Tokens) load(ctx context.Context, force bool) error {
	now := t.now()
	t.mu.RLock()
	fresh := !t.loaded.IsZero() && now.Sub(t.loaded) < t.reload
	t.mu.RUnlock()
	if fresh && !force {
		return nil
	}
	t.refresh.Lock()
	defer t.refresh.Unlock()
	t.mu.RLock()
	fresh = !t.loaded.IsZero() && now.Sub(t.loaded) < t.reload
	recent := now.Sub(t.refreshed) < t.minRefresh
	t.mu.RUnlock()
	if fresh && (!force || recent) {
		return nil // another goroutine read them meanwhile
	}
	keys, err := t.store.SigningKeys(ctx)
	if err != nil {
		return t.loadFailed(err)
	}
	var active *pihu.SigningKey
	for _, k := range keys {
		if k.Retired == nil {
			active = k
			break
		}
	}
	if active == nil {
		if active, err = t.store.ActiveSigningKey(ctx, pihu.NewSigningKey(now)); err != nil {
			return t.loadFailed(err)
		}
		keys = append([]*pihu.SigningKey{active}, keys...)
	}
	public := make(map[string]ed25519.PublicKey, len(keys))
	doc := JWKS{Keys: []JWK{}}
	for _, k := range append([]*pihu.SigningKey{active}, keys...) {
		if _, dup := public[k.ID]; dup || !k.Published(now) || k.Algorithm != pihu.SigningAlgorithm {
			continue
		}
		public[k.ID] = k.PublicKey
		doc.Keys = append(doc.Keys, JWK{
			KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.PublicKey),
			KeyID: k.ID, Algorithm: pihu.SigningAlgorithm, Use: "sig",
		})
	}
	jwks, err := json.Marshal(doc)
	if err != nil {
		return t.loadFailed(err)
	}
	t.mu.Lock()
	t.active, t.public, t.jwks, t.loaded = active, public, jwks, now
	if force {
		t.refreshed = now
	}
	t.mu.Unlock()
	return nil
}

func (t *Tokens) loadFailed(err error) error {
	t.mu.RLock()
	have := t.active != nil
	t.mu.RUnlock()
	if have {
		// Keep serving with the keys already read; try again after
		// ReloadInterval rather than on every request. An outage of the
		// store is logged by its guard.
		if pihu.ErrorCode(err) != pihu.EUnavailable {
			t.logger.Error("reading the signing keys; using the ones read before", "err", err)
		}
		t.mu.Lock()
		t.loaded = t.now()
		t.mu.Unlock()
		return nil
	}
	return fmt.Errorf("auth: %w: %w", errStore, err)
}

// Tokens is the Tokens a verifies access tokens with, or nil if it takes
// API keys only.
func (a *Authenticator) Tokens() *Tokens { return a.tokens }

// KeyByID returns key id of account accountID, whatever its state, from
// the cache when it holds it fresh: the parent of an access token, which
// is looked up by id rather than by secret. Like a lookup by secret, a
// miss reads the store (after guard, if not nil, agrees) and caches the
// key, and Invalidate drops it. Returns EInvalidAPIKey if there is no such
// key.
func (a *Authenticator) KeyByID(ctx context.Context, accountID, id string, guard func() error) (*pihu.Key, error) {
	now := a.now().UnixNano()
	a.mu.RLock()
	s := a.c.getID(id)
	if s != nil && a.c.acct(s).account.ID == accountID && a.fresh(s, now) {
		k := a.c.key(s)
		resolved := a.rightsOf(s, k, now)
		a.mu.RUnlock()
		return a.withRights(ctx, k, resolved)
	}
	gen := a.invalidations
	a.mu.RUnlock()
	if s == nil && guard != nil {
		if err := guard(); err != nil {
			return nil, err
		}
	}
	k, err := a.store.Key(ctx, accountID, id)
	if pihu.ErrorCode(err) == pihu.ENotFound {
		a.storeAnswered()
		return nil, invalidToken("the API key it was minted with does not exist")
	} else if err != nil {
		return a.staleOr(ctx, a.cachedID(accountID, id), now, err)
	}
	if err := a.put(ctx, k, gen); err != nil {
		return a.staleOr(ctx, a.cachedID(accountID, id), now, err)
	}
	a.storeAnswered()
	return a.withRights(ctx, k, false)
}

// cachedID returns the finder of the cache entry of key id of account
// accountID, for staleOr.
func (a *Authenticator) cachedID(accountID, id string) func() *slot {
	return func() *slot {
		if s := a.c.getID(id); s != nil && a.c.acct(s).account.ID == accountID {
			return s
		}
		return nil
	}
}

// Token verifies the access token s and returns it with its parent key as
// stored, whatever the key's state. Returns EInvalidAPIKey for a token
// that is not valid or whose key does not exist, EExpiredAPIKey (with the
// token, and no key) for an expired one, and the store's errors. guard is
// as for AuthenticateGuarded.
func (a *Authenticator) Token(ctx context.Context, s string, guard func() error) (*pihu.AccessToken, *pihu.Key, error) {
	if a.tokens == nil {
		return nil, nil, errInvalid
	}
	at, err := a.tokens.verifyGuarded(ctx, s, guard)
	if err != nil {
		return at, nil, err
	}
	k, err := a.KeyByID(ctx, at.AccountID, at.KeyID, guard)
	if err != nil {
		return at, nil, err
	}
	return at, k, nil
}

// authenticateToken returns the key a request with access token s runs
// as: its parent key, restricted by the token (pihu.AccessToken.Restrict),
// provided the parent is still active; and records the parent's use. A
// token dies with its parent: ERevokedAPIKey or EExpiredAPIKey when the
// parent is revoked or expired, and EDisabledAPIKey while it is disabled
// (see Active), at once for a change made through this process
// (Invalidate) and within TTL for one made elsewhere.
func (a *Authenticator) authenticateToken(ctx context.Context, s string, guard func() error) (*pihu.Key, error) {
	at, k, err := a.Token(ctx, s, guard)
	if err != nil {
		return nil, err
	}
	now := a.now()
	if err := a.active(k, now, true); err != nil {
		return nil, err
	}
	a.recordUse(k.ID, now)
	return at.Restrict(k), nil
}
