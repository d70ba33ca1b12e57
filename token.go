package pihu

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Access tokens: short-lived, down-scoped credentials minted from an API
// key, as JWTs (RFC 7519) signed with Ed25519 (EdDSA) by a key of the
// store's SigningKeyStore, so that any service can check them offline
// with the public keys alone. A token is never stored; it carries its
// parent key's id, and on pihu it works only while that key does.

// Lifetimes of access tokens.
const (
	// DefaultTokenLifetime is the lifetime of a token minted without
	// expires_in.
	DefaultTokenLifetime = 15 * time.Minute
	// MaxTokenLifetime is the longest lifetime a token may be given.
	MaxTokenLifetime = time.Hour
	// SigningKeyRetention is how long a retired signing key stays
	// published after it stopped signing: longer than any token it signed
	// lives, plus a margin for clocks and caches. After it, nothing it
	// signed can still be valid, and it is dropped.
	SigningKeyRetention = MaxTokenLifetime + 15*time.Minute
)

// ActionTokenCreated is the audit action of minting an access token. Its
// actor and target are the key it was minted with; the token itself is
// never recorded.
const ActionTokenCreated = "token.created"

// PrefixToken starts the id (jti) of an access token; PrefixSigningKey
// the id (kid) of a signing key.
const (
	PrefixToken      = "tok_"
	PrefixSigningKey = "sig_"
)

// SigningAlgorithm is the JWS algorithm of every access token: EdDSA with
// Ed25519 (RFC 8037). No other algorithm is issued or accepted.
const SigningAlgorithm = "EdDSA"

// TokenType is the JWT "typ" header of access tokens (RFC 9068), which
// verifiers check so that no other JWT signed by the same key passes as
// one.
const TokenType = "at+jwt"

// CheckTokenHeader checks what a JWT library leaves to its caller in the
// JOSE header h of an access token, before its signature is checked: its
// "typ" is exactly TokenType, compared as issued (RFC 8725 §3.11:
// explicit typing; "AT+JWT" or "application/at+jwt" are not what pihu
// issues), and it has no "crit": a recipient must refuse a token whose
// "crit" lists extensions it does not understand (RFC 7515 §4.1.11), and
// pihu issues and understands none. The error says why, in words a
// person reads after "The access token is not valid: ".
func CheckTokenHeader(h map[string]any) error {
	if typ, _ := h["typ"].(string); typ != TokenType {
		return errors.New("its format is not pihu's: the header's \"typ\" must be exactly \"" + TokenType + "\"")
	}
	if _, ok := h["crit"]; ok {
		return errors.New("its format is not pihu's: the header lists \"crit\" extensions, which pihu neither issues nor understands")
	}
	return nil
}

// CheckTokenDates checks the raw JSON payload of an access token for what
// a JWT library forgives: "exp", "iat" and "nbf", when present, are JSON
// numbers (RFC 7519 NumericDate), not strings holding one ("exp":"1700000000")
// nor null. The error says why, as CheckTokenHeader's.
func CheckTokenDates(payload []byte) error {
	var dates struct { // RawMessage keeps a null as "null"
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(payload, &dates); err != nil {
		return errors.New("its format is not pihu's: its payload is not a JSON object of claims")
	}
	for _, d := range []struct {
		name string
		v    json.RawMessage
	}{{"exp", dates.Exp}, {"iat", dates.Iat}, {"nbf", dates.Nbf}} {
		if d.v != nil && !jsonNumber(d.v) {
			return fmt.Errorf("its format is not pihu's: its %q is not a number of seconds", d.name)
		}
	}
	return nil
}

// jsonNumber reports whether raw, a JSON value, is a number.
func jsonNumber(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}

// CheckTokenLifetime checks that an access token issued at issued and
// expiring at expires lives no longer than MaxTokenLifetime, as every
// token pihu issues does: one that claims more was not made by pihu,
// whatever signed it. The error says why, as CheckTokenHeader's.
func CheckTokenLifetime(issued, expires time.Time) error {
	if expires.Sub(issued) > MaxTokenLifetime {
		return errors.New("it claims a lifetime (\"exp\" − \"iat\") longer than the 1 hour a token may live")
	}
	return nil
}

// AccessToken is what an access token grants: its claims, as the server
// minted them and as a verifier reads them back.
type AccessToken struct {
	ID          string // jti: random, unique
	Issuer      string // iss: the server's issuer URL
	Audience    string // aud: who the token is for (the issuer by default)
	KeyID       string // sub: the parent key
	AccountID   string
	Environment Environment
	Permissions Permissions
	Issued      time.Time // iat
	Expires     time.Time // exp
}

// TokenRequest is what a key asks for when it mints a token.
type TokenRequest struct {
	// Permissions, if not nil, are the token's permissions: a non-empty
	// subset of the key's rights (its permissions and its roles'). nil:
	// all of them, as they are at minting; a token never has more than
	// its key has now (Restrict).
	Permissions Permissions
	// ExpiresIn is the lifetime, as for a key's expiration ("15m"), at
	// most MaxTokenLifetime; "" is DefaultTokenLifetime, shortened to the
	// key's own expiry if that comes sooner.
	ExpiresIn string
	// Audience is who the token is for; "" means the issuer (pihu itself).
	Audience string
	// Defined are the permissions, besides the built-in ones, that
	// Permissions may name (as KeyRequest.Defined).
	Defined []Permission
}

// NewAccessToken builds the token that key parent asks for with req at
// now, for the issuer issuer, after checking the rules of keys that make
// keys: no escalation (EInsufficientPermissions with Required, as
// CheckGrant), and no outliving (EParameterInvalid on "expires_in" saying
// when the key expires). Returns EParameterInvalid on "permissions",
// "expires_in" or "audience" for an invalid field.
func NewAccessToken(parent *Key, req TokenRequest, issuer string, now time.Time) (*AccessToken, error) {
	now = Timestamp(now)
	perms := slices.Clone(parent.Rights())
	if req.Permissions != nil {
		if len(req.Permissions) == 0 {
			return nil, ParamErrorf(EParameterInvalid, "permissions",
				"\"permissions\" is empty; leave it out for all of the key's permissions, or list some of them.")
		}
		if err := req.Permissions.ValidateIn(req.Defined); err != nil {
			return nil, err
		}
		perms = req.Permissions.Normalize()
	}
	life := DefaultTokenLifetime
	if req.ExpiresIn != "" {
		d, err := parseLifetime(req.ExpiresIn, "expires_in")
		if err != nil {
			return nil, err
		}
		if d > MaxTokenLifetime {
			return nil, ParamErrorf(EParameterInvalid, "expires_in",
				"An access token lives at most 1h; give an \"expires_in\" such as \"15m\" or \"1h\", and mint a new token when it expires.")
		}
		life = d
	}
	expires := now.Add(life)
	if parent.Expires != nil && expires.After(*parent.Expires) {
		if req.ExpiresIn != "" {
			return nil, ParamErrorf(EParameterInvalid, "expires_in",
				"A token cannot outlive the key that mints it: this key expires at %s, so give an \"expires_in\" that ends by then.",
				parent.Expires.UTC().Format(time.RFC3339))
		}
		expires = *parent.Expires
	}
	if err := CheckGrant(parent, perms, parent.Environment, &expires); err != nil {
		if e, ok := err.(*Error); ok && e.Code == EInsufficientPermissions {
			e.Message = "This key does not hold \"" + e.Required + "\", so it cannot give it to a token."
		}
		return nil, err
	}
	aud := req.Audience
	if aud == "" {
		aud = issuer
	} else if err := ValidateAudience(aud); err != nil {
		return nil, err
	}
	return &AccessToken{
		ID:          NewID(PrefixToken),
		Issuer:      issuer,
		Audience:    aud,
		KeyID:       parent.ID,
		AccountID:   parent.AccountID,
		Environment: parent.Environment,
		Permissions: perms,
		Issued:      now,
		Expires:     expires,
	}, nil
}

// ValidateAudience checks a token's audience: an absolute URI
// ("https://api.example.com", "urn:example:billing") or a short
// identifier of letters, digits and "._-" ("billing-service"), at most 200
// characters. Returns EParameterInvalid on "audience" otherwise.
func ValidateAudience(aud string) error {
	bad := ParamErrorf(EParameterInvalid, "audience",
		"\"audience\" must be an absolute URI such as \"https://api.example.com\" or an identifier of letters, digits, '.', '_' and '-' such as \"billing-service\", at most 200 characters.")
	if aud == "" || len(aud) > 200 {
		return bad
	}
	for i := 0; i < len(aud); i++ {
		if c := aud[i]; c <= ' ' || c >= 0x7f {
			return bad
		}
	}
	if strings.Contains(aud, ":") {
		u, err := url.Parse(aud)
		if err != nil || !u.IsAbs() || (u.Host == "" && u.Opaque == "") {
			return bad
		}
		return nil
	}
	for i := 0; i < len(aud); i++ {
		if c := aud[i]; !isBase62(c) && c != '.' && c != '_' && c != '-' {
			return bad
		}
	}
	return nil
}

// Restrict returns the key a request authenticated with token t runs as:
// a copy of t's parent key k, with the permissions both hold (never more
// than the parent holds now, nor more than the token was given) and
// expiring when the token does, if that is before the key. Keys and
// tokens it creates can therefore not outlive the token.
func (t *AccessToken) Restrict(k *Key) *Key {
	r := *k
	r.Permissions = Intersect(t.Permissions, k.Rights())
	// The token's rights are its permissions: the parent's roles are
	// counted in them already.
	r.Roles, r.rights = nil, nil
	if r.Expires == nil || t.Expires.Before(*r.Expires) {
		exp := t.Expires
		r.Expires = &exp
	}
	r.Token = t
	return &r
}

// Intersect returns the permissions granted by both a and b: each
// permission of a that b grants, and each of b that a grants, without
// duplicates. Intersect(["*"], ["candidate:read"]) is ["candidate:read"].
func Intersect(a, b Permissions) Permissions {
	out := make(Permissions, 0, len(a))
	for _, p := range a {
		if b.Grants(p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range b {
		if a.Grants(p) && !out.Grants(p) {
			out = append(out, p)
		}
	}
	return out
}

// LooksLikeToken reports whether a bearer value has the shape of a JWT
// (three dot-separated parts) rather than of an API key (which starts with
// "ph_" and has no dot).
func LooksLikeToken(s string) bool {
	return !strings.HasPrefix(s, keyPrefix) && strings.Count(s, ".") == 2
}

// SigningKey is a key that signs access tokens. Exactly one is active (it
// signs); retired ones stay published for verification until
// SigningKeyRetention after they retired.
type SigningKey struct {
	ID         string // the JWK "kid", "sig_…"
	Algorithm  string // SigningAlgorithm
	PublicKey  ed25519.PublicKey
	PrivateKey ed25519.PrivateKey // never logged, never served
	Created    time.Time
	Retired    *time.Time // nil: active
}

// NewSigningKey returns a new active Ed25519 signing key created at now.
func NewSigningKey(now time.Time) *SigningKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic("pihu: generating a signing key: " + err.Error())
	}
	return &SigningKey{ID: NewID(PrefixSigningKey), Algorithm: SigningAlgorithm, PublicKey: pub, PrivateKey: priv, Created: Timestamp(now)}
}

// Published reports whether k's public key is published at now: while it
// is active, and for SigningKeyRetention after it retired.
func (k *SigningKey) Published(now time.Time) bool {
	return k.Retired == nil || now.Before(k.Retired.Add(SigningKeyRetention))
}

// String names k without its private part, so that a signing key printed
// or logged by mistake shows nothing secret.
func (k *SigningKey) String() string { return "signing key " + k.ID }

// SigningKeyStore keeps the keys that sign access tokens, shared by every
// instance of the server. Implementations are safe for concurrent use.
type SigningKeyStore interface {
	// ActiveSigningKey returns the active signing key. If there is none,
	// it stores candidate as the active key and returns it, in one
	// transaction, so that instances racing to create the first key end
	// up with exactly one between them.
	ActiveSigningKey(ctx context.Context, candidate *SigningKey) (*SigningKey, error)

	// RotateSigningKey, in one transaction, retires the active key (if
	// any) at next.Created, stores next as the active key, and deletes
	// the keys retired more than SigningKeyRetention before next.Created,
	// which nothing valid can have been signed with. It returns the key
	// it retired, or nil.
	RotateSigningKey(ctx context.Context, next *SigningKey) (retired *SigningKey, err error)

	// SigningKeys returns every stored signing key, newest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)

	// RecordToken records ev, the audit event of a token minted with key
	// ev.Target, after checking in the same transaction that this key is
	// a key of ev.AccountID still active at ev.Created: ERevokedAPIKey or
	// EExpiredAPIKey if not, and nothing is recorded (the token must not
	// be handed out then).
	RecordToken(ctx context.Context, ev *AuditEvent) error
}
