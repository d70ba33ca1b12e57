package pihu

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"hash/crc32"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Environment separates real traffic from tests: a key belongs to one, and
// so does every piece of data it creates.
type Environment string

const (
	Live Environment = "live"
	Test Environment = "test"
)

// Valid reports whether e is live or test.
func (e Environment) Valid() bool { return e == Live || e == Test }

// CanUse reports whether a key of environment e may create keys (or act)
// in environment target: live may use live and test, test only test.
func (e Environment) CanUse(target Environment) bool {
	return e == Live || e == target
}

// Key format: "ph_live_" or "ph_test_", then a random part of secretBytes
// bytes from crypto/rand in base62, then a 6-character base62 CRC32 (IEEE)
// of everything before it. The checksum lets a scanner tell a real key from
// a lookalike without a database.
const (
	keyPrefix      = "ph_"
	secretBytes    = 32
	checksumLength = 6
	// MinSecretBody is the least number of base62 characters after the
	// environment prefix that a key may have.
	MinSecretBody = 40
)

// SecretPrefix returns "ph_live_" or "ph_test_".
func SecretPrefix(env Environment) string { return keyPrefix + string(env) + "_" }

// NewSecret returns a new random key for env. It is shown to its owner once
// and never stored: only its Digest is.
func NewSecret(env Environment) string {
	body := SecretPrefix(env) + randomBase62(secretBytes)
	return body + checksum(body)
}

// checksum is the 6-character base62 CRC32 (IEEE) of s, left-padded with
// '0' (62^6 > 2^32, so six characters always suffice).
func checksum(s string) string {
	c := checksumOf(s)
	return string(c[:])
}

// checksumOf is checksum without an allocation, for ParseSecret, which
// every authentication calls.
func checksumOf(s string) [checksumLength]byte {
	sum := crc32.ChecksumIEEE([]byte(s))
	var out [checksumLength]byte
	for i := checksumLength - 1; i >= 0; i-- {
		out[i] = base62Alphabet[sum%62]
		sum /= 62
	}
	return out
}

// ParseSecret checks that s has the shape of a key (prefix, at least
// MinSecretBody base62 characters, right checksum) and returns its
// environment. It consults no database: a key that parses may still be
// unknown. ok is false for anything else.
func ParseSecret(s string) (env Environment, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(s, "ph_live_"):
		env, rest = Live, s[len("ph_live_"):]
	case strings.HasPrefix(s, "ph_test_"):
		env, rest = Test, s[len("ph_test_"):]
	default:
		return "", false
	}
	if len(rest) < MinSecretBody || len(rest) > 256 {
		return "", false
	}
	for i := 0; i < len(rest); i++ {
		if !isBase62(rest[i]) {
			return "", false
		}
	}
	cut := len(s) - checksumLength
	if c := checksumOf(s[:cut]); string(c[:]) != s[cut:] {
		return "", false
	}
	return env, true
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// Digest is the SHA-256 of a key: the only form of it that is stored, and
// the index a key is looked up by.
func Digest(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// Hint is the display form of a key: its prefix and last 4 characters,
// enough for a person to recognise it and useless to an attacker.
func Hint(secret string) string {
	env, _ := ParseSecret(secret)
	if len(secret) < 4 {
		return ""
	}
	return SecretPrefix(env) + "…" + secret[len(secret)-4:]
}

// Key is an API key as stored: everything but the secret itself.
type Key struct {
	ID          string
	AccountID   string
	Name        string
	Environment Environment
	Permissions Permissions
	Digest      []byte // SHA-256 of the secret
	Hint        string // e.g. "ph_live_…a1B2"
	Created     time.Time
	Expires     *time.Time // nil: never
	LastUsed    *time.Time // nil: never used
	Revoked     *time.Time // nil: not revoked
	// Disabled is true for a key disabled with PATCH (enabled: false):
	// refused everywhere, it and the access tokens minted from it, with
	// EDisabledAPIKey until it is enabled again. The zero Key is enabled.
	Disabled    bool
	RotatedFrom string // the id of the key this one replaced, if any
	// CreatedBy is the id of the key that created this one (or rotated
	// the key this one replaced); "" for an account's owner keys, made by
	// an operator. Revoking a key may cascade along it.
	CreatedBy string
	// RateLimit is the key's own limit ("100/m"); the zero RateLimit
	// means the server's default.
	RateLimit RateLimit
	// RateLimits are the key's named limits (see NamedLimits), spent by
	// name with a cost; nil: none.
	RateLimits NamedLimits
	// AllowedIPs are the addresses and CIDR ranges the key may be used
	// from; the zero AllowedIPs means anywhere.
	AllowedIPs AllowedIPs
	// Metadata is the key's metadata, a compacted JSON object (see
	// ValidateMetadata); nil: none.
	Metadata json.RawMessage
	// Credits are the key's usage credits; nil: not counted.
	Credits *Credits
	// Imported is true for a key imported by the SHA-256 of a secret
	// made elsewhere: it has no Hint, and its secret need not be shaped
	// like a pihu key.
	Imported bool
	// Leaked is the last report that the key was found in public which
	// revoked or flagged it; nil if none did.
	Leaked *Leak
	// Token is set, never stored, when a request authenticated with an
	// access token: the key is then the token's parent as the token
	// restricts it (see AccessToken.Restrict).
	Token *AccessToken
	// Roles are the ids of the roles the key holds (see Role), in the
	// order given; nil or empty: none.
	Roles []string
	// Identity is the identity the key belongs to, nil if none, as read
	// with the key (see IdentityStore): its limits are shared by all its
	// keys. To give a key an identity, a caller sets Identity to one with
	// the ID only; the store checks it and stores the ID.
	Identity *Identity

	// rights, if not nil, are Permissions with the permissions of Roles,
	// as resolved (see Rights); never stored.
	rights Permissions
}

// Rights are what k may do: its own Permissions and those of its roles,
// as they were when its roles were resolved (ResolveRoles, SetRights).
// The authenticator resolves every key it hands out, from the roles as
// they are now, and stores resolve the keys they read for a rule (Key,
// UpdateKey, RevokeKeys). A key whose roles were not resolved has its own
// permissions only. Every rule about what a key may do or give (admission,
// no escalation, revocation) reads Rights, never Permissions.
func (k *Key) Rights() Permissions {
	if k.rights != nil {
		return k.rights
	}
	return k.Permissions
}

// ResolveRoles sets k's rights from roles, its account's roles: its own
// permissions and those of each of its roles found among them (a role
// deleted since grants nothing).
func (k *Key) ResolveRoles(roles []*KeyRole) {
	lists := make([]Permissions, 0, len(k.Roles))
	for _, id := range k.Roles {
		if i := slices.IndexFunc(roles, func(r *KeyRole) bool { return r.ID == id }); i >= 0 {
			lists = append(lists, roles[i].Permissions)
		}
	}
	k.rights = RoleRights(k.Permissions, lists...)
}

// SetRights sets k's rights as resolved elsewhere (RoleRights of its
// permissions and its roles'): the authenticator resolves them once for
// the keys that share permissions and roles. nil: its own permissions.
func (k *Key) SetRights(rights Permissions) { k.rights = rights }

// SetStoredRestrictions sets k's rate limit and allowed_ips from the forms
// a store keeps them in ("100/m" or "" for the server's default; a list,
// or nil for anywhere), parsing them once, when the key is read: see
// StoredRateLimit and StoredAllowedIPs for what was stored around the
// API. Stores write them back as k.RateLimit.String() and
// k.AllowedIPs.Strings().
func (k *Key) SetStoredRestrictions(rateLimit string, allowedIPs []string) {
	k.RateLimit, k.AllowedIPs = StoredRateLimit(rateLimit), StoredAllowedIPs(allowedIPs)
}

// Active reports whether k authenticates at now, and if not, the error code
// saying why: ERevokedAPIKey, EExpiredAPIKey, or EDisabledAPIKey for a key
// that is disabled (and neither revoked nor expired, which are for good).
// It is the one rule of whether a key works, that every door applies (see
// package auth), to the key and to the access tokens minted from it.
func (k *Key) Active(now time.Time) (ok bool, code string) {
	if k.Revoked != nil && !now.Before(*k.Revoked) {
		return false, ERevokedAPIKey
	}
	if k.Expires != nil && !now.Before(*k.Expires) {
		return false, EExpiredAPIKey
	}
	if k.Disabled {
		return false, EDisabledAPIKey
	}
	return true, ""
}

// KeyRequest is what a caller asks for when it creates a key.
type KeyRequest struct {
	Name        string
	Permissions Permissions
	Expiration  string      // "" or e.g. "30d"
	Environment Environment // "" means the creator's
	AllowedIPs  []string    // nil: the creator's (anywhere for an unlimited creator)
	// RateLimit is the key's own rate limit as given ("100/m"); nil: the
	// server's default.
	RateLimit *string
	// RateLimits are the key's named limits as given ({"tokens":
	// "50000/d"}); nil: none.
	RateLimits map[string]string
	Metadata   json.RawMessage
	Credits    *Credits // nil: not counted; Refilled is set by NewKey
	// Defined are the permissions, besides the built-in ones, that
	// Permissions may name: the account's own and the server-wide ones
	// (PermissionStore.DefinedPermissions).
	Defined []Permission
	// Roles are the ids of the roles the key is given; nil: none.
	Roles []string
	// AccountRoles are the account's roles (RoleStore.Roles), which Roles
	// must name; needed only when Roles is not empty.
	AccountRoles []*KeyRole
	// IdentityID is the id of the identity the key is made for; "":
	// none. The store checks that it is one of the account's and the
	// key's environment's.
	IdentityID string

	// allowed is AllowedIPs as Validate parsed them; roles are the roles
	// Roles names.
	allowed AllowedIPs
	roles   []*KeyRole
}

// Validate checks the request's own fields (not the creator's rights) and
// fills in the defaults. Returns EParameterMissing or EParameterInvalid with
// the field as Param.
func (r *KeyRequest) Validate(creator Environment) error {
	if r.Name == "" {
		return ParamErrorf(EParameterMissing, "name", "A key needs a name: give \"name\", 1 to 100 characters.")
	}
	if err := ValidateKeyName(r.Name); err != nil {
		return err
	}
	if err := r.validateRights(); err != nil {
		return err
	}
	if r.Expiration != "" {
		if _, err := ParseExpiration(r.Expiration); err != nil {
			return err
		}
	}
	if r.Environment == "" {
		r.Environment = creator
	}
	if !r.Environment.Valid() {
		return ParamErrorf(EParameterInvalid, "environment", "\"environment\" must be \"live\" or \"test\".")
	}
	allowed, err := ParseAllowedIPs(r.AllowedIPs)
	if err != nil {
		return err
	}
	r.AllowedIPs, r.allowed = allowed.Strings(), allowed
	if r.Metadata, err = ValidateMetadata(r.Metadata, "metadata"); err != nil {
		return err
	}
	if r.Credits != nil {
		if err := ValidateCredits(r.Credits.Remaining, "remaining"); err != nil {
			return err
		}
		if r.Credits.Refill != nil {
			if err := r.Credits.Refill.Validate("refill"); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateRights is Validate for the permissions and roles: a key needs
// at least one of either.
func (r *KeyRequest) validateRights() error {
	if r.Roles != nil {
		roles, err := FindRoles(r.Roles, r.AccountRoles)
		if err != nil {
			return err
		}
		r.roles, r.Roles = roles, RoleIDs(roles)
	}
	switch {
	case r.Permissions == nil && len(r.roles) == 0:
		return ParamErrorf(EParameterMissing, "permissions", "Give \"permissions\": a non-empty list such as [\"candidate:read\"] (or \"roles\": a list of role ids).")
	case len(r.Permissions) == 0 && len(r.roles) == 0:
		return ParamErrorf(EParameterInvalid, "permissions", "\"permissions\" is empty; a key needs at least one permission, or a role.")
	}
	if err := r.Permissions.ValidateIn(r.Defined); err != nil {
		return err
	}
	r.Permissions = r.Permissions.Normalize()
	return nil
}

// ValidateKeyName checks a key's name: 1 to 100 characters, at least one
// of them visible, no control character (the API refuses them in every
// string of a body; the dashboard's forms have no such decoder, so the
// rule is here, where both check names), and no bidirectional control
// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), which could make
// a name read differently on screen from what it is ("Trojan Source").
// Returns EParameterMissing or EParameterInvalid on "name".
func ValidateKeyName(name string) error {
	if name == "" {
		return ParamErrorf(EParameterMissing, "name", "A key needs a name: give \"name\", 1 to 100 characters.")
	}
	return checkName(name, "key")
}

// checkName is the rule every name shares (keys', accounts'): at most 100
// characters, no control character nor bidirectional control, and at
// least one visible character. what names the thing named.
func checkName(name, what string) error {
	if n := utf8.RuneCountInString(name); n > 100 {
		return ParamErrorf(EParameterInvalid, "name", "The name is %d characters long; at most 100 are allowed.", n)
	}
	if err := CheckText("name", "name", name); err != nil {
		return err
	}
	if strings.IndexFunc(name, func(c rune) bool { return !invisible(c) }) < 0 {
		return ParamErrorf(EParameterInvalid, "name", "The name has no visible character (only spaces or zero-width characters); give the %s a name a person can recognise.", what)
	}
	return nil
}

// CheckText checks text a person reads (a name, a description), field
// param, called what in the message: no control character and no
// bidirectional control. Returns EParameterInvalid on param.
func CheckText(param, what, text string) error {
	for _, c := range text {
		switch {
		case isBidiControl(c):
			return ParamErrorf(EParameterInvalid, param,
				"The %s contains the invisible bidirectional control U+%04X, which can make text display in another order than it is stored; remove it.", what, c)
		case unicode.IsControl(c):
			return ParamErrorf(EParameterInvalid, param, "The %s contains the control character U+%04X (such as a newline or a tab); remove it.", what, c)
		}
	}
	return nil
}

// invisible reports whether c shows nothing on its own: a space, a control,
// a format character (zero-width space, joiners, BOM), a combining mark,
// or one of the letters that render blank (Hangul fillers, the blank
// Braille pattern).
func invisible(c rune) bool {
	switch c {
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800:
		return true
	}
	return unicode.IsSpace(c) || unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || unicode.Is(unicode.Mn, c)
}

// isBidiControl reports whether c is one of Unicode's explicit
// bidirectional formatting characters or marks.
func isBidiControl(c rune) bool {
	switch {
	case 0x202A <= c && c <= 0x202E, 0x2066 <= c && c <= 0x2069:
		return true
	case c == 0x200E, c == 0x200F, c == 0x061C:
		return true
	}
	return false
}

// NewKey builds a key for req, created at now by the key creator (nil for
// an account's first key, made by the operator), after checking the three
// rules for keys that create keys:
//
//   - no escalation: every permission asked for is held by the creator
//     (EInsufficientPermissions);
//   - no outliving: the new key expires no later than the creator
//     (EParameterInvalid on "expiration");
//   - environment: a test key creates test keys only
//     (EInsufficientPermissions);
//   - addresses: a creator limited to allowed_ips gives its list to a key
//     asked without one, and refuses a list reaching beyond its own
//     (EInsufficientPermissions on "allowed_ips").
//
// It returns the key to store and the secret to show once.
func NewKey(accountID string, req KeyRequest, creator *Key, now time.Time) (*Key, string, error) {
	now = Timestamp(now)
	var creatorEnv Environment = Live
	if creator != nil {
		creatorEnv = creator.Environment
	}
	if err := req.Validate(creatorEnv); err != nil {
		return nil, "", err
	}
	var expires *time.Time
	if req.Expiration != "" {
		d, _ := ParseExpiration(req.Expiration)
		t := now.Add(d)
		expires = &t
	}
	if creator != nil {
		if err := CheckGrant(creator, req.Permissions, req.Environment, expires, req.roles...); err != nil {
			return nil, "", err
		}
		if err := CheckKeyIdentity(creator, nil, req.IdentityID); err != nil {
			return nil, "", err
		}
	}
	allowed, err := checkAllowedIPs(creator, req.allowed)
	if err != nil {
		return nil, "", err
	}
	var limit RateLimit
	if req.RateLimit != nil {
		// A key's limit is its own: it need not be below its creator's,
		// since a key that may create keys can spread its requests over
		// as many keys as it likes anyway.
		if limit, err = ParseRateLimit(*req.RateLimit, "rate_limit"); err != nil {
			return nil, "", err
		}
	}
	named, err := ParseNamedLimits(req.RateLimits, "ratelimits")
	if err != nil {
		return nil, "", err
	}
	secret := NewSecret(req.Environment)
	k := &Key{
		ID:          NewID(PrefixKey),
		AccountID:   accountID,
		Name:        req.Name,
		Environment: req.Environment,
		Permissions: req.Permissions,
		Roles:       req.Roles,
		Digest:      Digest(secret),
		Hint:        Hint(secret),
		Created:     now,
		Expires:     expires,
		RateLimit:   limit,
		RateLimits:  named,
		AllowedIPs:  allowed,
		Metadata:    req.Metadata,
	}
	if req.Credits != nil {
		c := *req.Credits
		c.Refilled = now
		k.Credits = &c
	}
	if req.IdentityID != "" {
		k.Identity = &Identity{ID: req.IdentityID}
	}
	if creator != nil {
		k.CreatedBy = creator.ID
	}
	return k, secret, nil
}

// CheckGrant applies the rules for a key (creator) that makes another key
// with perms and roles in env, expiring at expires (nil: never). See
// NewKey. No escalation counts the creator's rights (Key.Rights: its
// permissions and its roles'), and every permission of the roles given
// as given.
func CheckGrant(creator *Key, perms Permissions, env Environment, expires *time.Time, roles ...*KeyRole) error {
	if !creator.Environment.CanUse(env) {
		return &Error{
			Code:     EInsufficientPermissions,
			Param:    "environment",
			Message:  "A test key can only create test keys; use a live key to create a live key.",
			Required: "",
		}
	}
	if err := checkGiven(creator, perms, roles, "give it to another key"); err != nil {
		return err
	}
	if creator.Expires != nil && (expires == nil || expires.After(*creator.Expires)) {
		return ParamErrorf(EParameterInvalid, "expiration",
			"A key cannot outlive the key that creates it: this key expires at %s, so give an \"expiration\" that ends by then.",
			creator.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// maxExpiration is the longest lifetime a key may be given.
const maxExpiration = 3650 * 24 * time.Hour

// ParseExpiration parses a lifetime: N (≥ 1, no sign, no leading zero)
// followed by m, h, d or w (minutes, hours, days of 24 h, weeks), at most
// 3650 days. Returns EParameterInvalid on "expiration" otherwise.
func ParseExpiration(s string) (time.Duration, error) {
	return parseLifetime(s, "expiration")
}

func parseLifetime(s, param string) (time.Duration, error) {
	bad := func() error {
		return ParamErrorf(EParameterInvalid, param,
			"%q is not a lifetime: use a whole number followed by m, h, d or w (minutes, hours, days, weeks), such as \"30d\" or \"12h\", at most 3650 days.", s)
	}
	if len(s) < 2 || len(s) > 12 || s[0] < '1' || s[0] > '9' {
		return 0, bad()
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	default:
		return 0, bad()
	}
	var n int64
	for _, c := range s[:len(s)-1] {
		if c < '0' || c > '9' {
			return 0, bad()
		}
		n = n*10 + int64(c-'0')
		// Bound n by the unit, not by minutes alone: n units must not
		// overflow time.Duration (e.g. "106752d" would wrap negative).
		if n > int64(maxExpiration/unit) {
			return 0, bad()
		}
	}
	d := time.Duration(n) * unit
	if d > maxExpiration {
		return 0, bad()
	}
	return d, nil
}

// KeyFilter selects a page of an account's keys, newest first.
type KeyFilter struct {
	AccountID string
	// Environment, if set, limits the page to keys of that environment.
	Environment Environment
	// Limit is the page size, 1 to 100.
	Limit int
	// StartingAfter is the id of the key the page starts after ("" for the
	// first page): the page holds the Limit keys next older than it.
	StartingAfter string
	// EndingBefore is the id of the key the page ends before, as in
	// Page: the Limit keys next newer than it, newest first, and hasMore
	// reports whether newer ones remain. Giving both is EParameterInvalid
	// on "ending_before".
	EndingBefore string
	// Enabled, if not nil, limits the page to the keys that are enabled
	// (true) or disabled (false). A cursor may be any of the list's keys,
	// of either state.
	Enabled *bool

	// The filters below, with Environment and Enabled, all apply (AND);
	// Validate checks them, and a cursor may be any key of the account
	// (of the environment, if set), whether the filters keep it or not.

	// NamePrefix, if not "", keeps the keys whose name starts with it,
	// exactly: case-sensitive, every character literal (no wildcard).
	NamePrefix string
	// Role, if not "", keeps the keys holding the role of that id. An id
	// that is no role of the account (another account's, or none) keeps
	// no key: it is not an error, which would tell one account about
	// another's roles.
	Role string
	// Permission, if not "", keeps the keys whose rights grant it, as
	// admission decides (Rights().Grants): through their own permissions
	// or a role's, "*" and "res:*" included, "res:write" granting
	// "res:read". Stores match the permissions and roles' permissions
	// against Permission.GrantedBy, in the query that pages.
	Permission Permission
	// Metadata, if not empty, keeps the keys whose metadata has each of
	// its members with that string value, exactly (a number or any other
	// JSON value matches no string).
	Metadata map[string]string
	// Revoked lists the revoked keys instead of the unrevoked ones (the
	// dashboard's revoked filter).
	Revoked bool
	// RotatedFrom, if not "", keeps the key that replaced the key of that
	// id (its successor, see Key.RotatedFrom): the dashboard's "rotating".
	RotatedFrom string
	// Identity, if set, limits the page to the keys of the identity of
	// that id. A cursor may be any of the list's keys.
	Identity string
}

// Revocation is what KeyStore.RevokeKeys revokes.
type Revocation struct {
	AccountID string
	ID        string    // the key to revoke
	At        time.Time // when
	// Cascade also revokes every unrevoked key created by the key,
	// recursively.
	Cascade bool
	// Check, if not nil, may refuse the revocation of any of the keys.
	Check func(*Key) error
	// Event, if not nil, is the audit event recorded for a key revoked.
	Event func(*Key) *AuditEvent
}

// KeyStore keeps API keys. Implementations are safe for concurrent use.
type KeyStore interface {
	// CreateKey stores k, whose ID and Digest must be new, and the audit
	// events given, in one transaction: the log records a key exactly
	// when the key exists. If k.CreatedBy names a key, the same
	// transaction first checks it as an actor (CreatorOf(k), see
	// Actor.Check), so that a key revoked while it was creating another
	// creates nothing: ERevokedAPIKey or EExpiredAPIKey if not, and
	// nothing is stored. So does the Actor of ctx, as for every write.
	CreateKey(ctx context.Context, k *Key, events ...*AuditEvent) error

	// RevokeKey revokes key id of account accountID at the time at and
	// records the events given, in one transaction, and returns the key
	// as revoked. Returns ENotFound if the key does not exist, belongs to
	// another account or is already revoked; nothing is recorded then.
	RevokeKey(ctx context.Context, accountID, id string, at time.Time, events ...*AuditEvent) (*Key, error)

	// RotateKey stores next, the successor of the key next.RotatedFrom of
	// account next.AccountID, ends the old key at retire, and records the
	// events given, in one transaction. If retire is not after
	// next.Created the old key is revoked at next.Created; otherwise its
	// Expires becomes retire unless it already expires sooner (a grace
	// period never lengthens a key's life). It returns the old key as
	// changed. Returns ENotFound if the old key does not exist, belongs to
	// another account or is revoked; EAlreadyRotated if it has been
	// rotated before (it is in its grace period, and has a successor);
	// and, as CreateKey, ERevokedAPIKey or EExpiredAPIKey if
	// next.CreatedBy is no longer active. Nothing is changed then.
	RotateKey(ctx context.Context, next *Key, retire time.Time, events ...*AuditEvent) (old *Key, err error)

	// RevokeKeys revokes a key and, if rev.Cascade, every unrevoked key
	// created by it, recursively (along CreatedBy), in one transaction,
	// and returns the keys it revoked, the one named first. Before it
	// changes anything it calls rev.Check, if not nil, with each key it is
	// about to revoke, as stored inside the transaction; an error from
	// Check aborts it and is returned. rev.Event, if not nil, gives the
	// audit event recorded for each key revoked. Returns ENotFound if the
	// key does not exist, belongs to another account or is already
	// revoked; nothing is changed then.
	RevokeKeys(ctx context.Context, rev Revocation) ([]*Key, error)

	// KeyByDigest returns the key whose secret has the given SHA-256,
	// revoked or expired keys included (the caller tells them apart).
	// Returns ENotFound if there is none.
	KeyByDigest(ctx context.Context, digest []byte) (*Key, error)

	// Key returns the key id of account accountID, revoked keys included.
	// Returns ENotFound if it does not exist or belongs to another account.
	Key(ctx context.Context, accountID, id string) (*Key, error)

	// ListKeys returns a page of unrevoked keys, newest first, and whether
	// more follow. Returns EParameterInvalid on "starting_after" or
	// "ending_before" if that id is not one of the account's keys, or on
	// "ending_before" if both are given (see KeyFilter.EndingBefore).
	ListKeys(ctx context.Context, f KeyFilter) (keys []*Key, hasMore bool, err error)

	// TouchKeys records when keys were last used: uses maps key ids to
	// times. A time earlier than the one stored is ignored; unknown ids are
	// skipped. It is called in batches, off the request path.
	TouchKeys(ctx context.Context, uses map[string]time.Time) error

	// UpdateKey changes an unrevoked key in one transaction: it reads the
	// key as stored, FOR UPDATE, calls u.Apply with it (which checks the
	// change against the key as it is now, may refuse it with an error
	// that is returned, and changes the key in place), writes the fields a
	// change may touch (Name, Permissions, RateLimit, AllowedIPs,
	// Metadata, Expires, Credits, Disabled, Roles, Identity) and records u.Events' audit
	// events, if u.Events is not nil, and returns the key as changed. Returns
	// ENotFound if the key does not exist, belongs to another account or
	// is revoked; nothing is changed then.
	UpdateKey(ctx context.Context, u KeyUpdate) (*Key, error)

	// ImportKeys stores keys, whose ids are new, and the events given,
	// all in one transaction, or none of them. Returns EKeyExists, with
	// Param "keys[i].hash", if the digest of keys[i] is stored already
	// (or is the digest of an earlier key of the list).
	ImportKeys(ctx context.Context, keys []*Key, events ...*AuditEvent) error
}

// KeyUpdate is what KeyStore.UpdateKey changes.
type KeyUpdate struct {
	AccountID string
	ID        string
	// Apply checks and makes the change to the key as stored.
	Apply func(*Key) error
	// Events, if not nil, are the audit events recorded for the key as
	// changed (none, one, or several: see KeyChange.Events).
	Events func(*Key) []*AuditEvent
}

// Limits of an imported key's secret, as ImportableSecret checks it.
const (
	MinImportedSecret = 16
	MaxImportedSecret = 256
)

// ImportableSecret reports whether s may be the secret of an imported key
// (one made by another system, stored by its SHA-256 only): 16 to 256
// printable ASCII characters, no space, not starting with "ph_" (a
// secret with pihu's prefix is pihu's, and must pass ParseSecret). A
// secret that is neither this nor shaped like a pihu key is refused
// without a lookup.
func ImportableSecret(s string) bool {
	if len(s) < MinImportedSecret || len(s) > MaxImportedSecret || strings.HasPrefix(s, keyPrefix) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
