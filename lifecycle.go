package pihu

import (
	"slices"
	"time"
)

// Successor builds the key that replaces k when creator rotates it at now:
// a new secret with k's name, permissions, environment, rate limit,
// allowed addresses, lifetime (k's Expires minus its Created, counted
// from now; none if k never expires) and state (a disabled key's successor
// is disabled: enable it to use it), RotatedFrom set to k.ID and
// CreatedBy to creator.ID.
//
// The rules for keys that create keys apply with creator as the creator
// (see NewKey and CheckGrant): EInsufficientPermissions if the creator
// lacks one of k's permissions, k's environment, or k's addresses; and
// EParameterInvalid on "expiration" if the new key would outlive the
// creator; and EInsufficientPermissions if the creator is an access token
// minted from k (a token never rotates its own key). It returns the key to
// store and the secret to show once.
func (k *Key) Successor(creator *Key, now time.Time) (*Key, string, error) {
	if err := checkTokenParent(creator, k, "rotate"); err != nil {
		return nil, "", err
	}
	now = Timestamp(now)
	var expires *time.Time
	if k.Expires != nil {
		t := now.Add(k.Expires.Sub(k.Created))
		expires = &t
	}
	// The new key holds the old one's roles: the creator must hold what
	// they give, as the old key's rights (resolved by the store that read
	// it) count them.
	if err := CheckGrant(creator, k.Rights(), k.Environment, expires); err != nil {
		if e, ok := err.(*Error); ok && e.Param == "expiration" {
			lives := "never expire"
			if expires != nil {
				lives = "expire at " + expires.UTC().Format(time.RFC3339)
			}
			return nil, "", ParamErrorf(EParameterInvalid, "expiration",
				"The new key would keep the old key's lifetime and so %s, after this key, which expires at %s; a key cannot outlive the key that creates it. Rotate it with a key that lives longer.",
				lives, creator.Expires.UTC().Format(time.RFC3339))
		}
		return nil, "", err
	}
	if k.AllowedIPs.Anywhere() && !creator.AllowedIPs.Anywhere() {
		// Creating a key, no list means the creator's; a rotation must
		// keep the old key's reach exactly, or refuse.
		return nil, "", &Error{
			Code:    EInsufficientPermissions,
			Param:   "allowed_ips",
			Message: "This key may only be used from some addresses, and the key it would rotate may be used from anywhere; rotate it with a key that has no allowed_ips.",
		}
	}
	allowed, err := checkAllowedIPs(creator, k.AllowedIPs)
	if err != nil {
		return nil, "", err
	}
	secret := NewSecret(k.Environment)
	return &Key{
		ID:          NewID(PrefixKey),
		AccountID:   k.AccountID,
		Name:        k.Name,
		Environment: k.Environment,
		Permissions: slices.Clone(k.Permissions),
		Roles:       slices.Clone(k.Roles),
		Digest:      Digest(secret),
		Hint:        Hint(secret),
		Created:     now,
		Expires:     expires,
		RotatedFrom: k.ID,
		CreatedBy:   creator.ID,
		RateLimit:   k.RateLimit,
		RateLimits:  k.RateLimits,
		AllowedIPs:  allowed,
		Metadata:    k.Metadata,
		Credits:     k.Credits,
		Disabled:    k.Disabled,
		Identity:    k.Identity,
	}, secret, nil
}

// ExpireNow is the expire_old_in that ends the old key of a rotation at
// once.
const ExpireNow = "now"

// ParseExpireOldIn parses how long the old key of a rotation keeps working:
// "now" (0: it is revoked) or a lifetime as for expiration ("24h", "7d").
// Returns EParameterInvalid on "expire_old_in" otherwise.
func ParseExpireOldIn(s string) (time.Duration, error) {
	if s == ExpireNow {
		return 0, nil
	}
	d, err := parseLifetime(s, "expire_old_in")
	if err != nil {
		return 0, ParamErrorf(EParameterInvalid, "expire_old_in",
			"%q is not a grace period: use \"now\" to end the old key at once, or a whole number followed by m, h, d or w (minutes, hours, days, weeks), such as \"24h\", at most 3650 days.", s)
	}
	return d, nil
}

// MaxLeakedKeys is the most keys one report of leaked keys may hold.
const MaxLeakedKeys = 1000

// LeakedSecrets returns the strings of a report of leaked keys that are
// shaped like keys with a right checksum, each once, in the order given:
// the only ones worth looking up. Anything else is dropped without an
// error, so that a report of lookalikes revokes nothing and costs no read.
func LeakedSecrets(reported []string) []string {
	out := make([]string, 0, len(reported))
	seen := make(map[string]bool, len(reported))
	for _, s := range reported {
		if _, ok := ParseSecret(s); ok && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// IsSelf reports whether caller is the key id acting with its own secret:
// the same key, and not an access token minted from it. The rules for a
// key acting on itself (it may always revoke itself; it may change
// itself, only to narrow its limits) are for the key's own secret only.
func (caller *Key) IsSelf(id string) bool {
	return caller.Token == nil && caller.ID == id
}

// checkTokenParent refuses an access token acting (verb: revoke, rotate,
// change) on the key it was minted from: a token is down-scoped and short
// lived, and the key it came from is more than it (EInsufficientPermissions).
func checkTokenParent(caller, target *Key, verb string) error {
	if caller.Token == nil || caller.ID != target.ID {
		return nil
	}
	return &Error{
		Code:    EInsufficientPermissions,
		Message: "An access token cannot " + verb + " the API key it was minted from; " + verb + " it with that key itself, or with another key that holds its permissions.",
	}
}

// CheckRevoke applies the rule for a key (caller) that revokes another
// (target): it may, if it is the target itself, or if it holds every
// right of the target (Key.Rights: its permissions and its roles', the
// target's resolved by the store that read it), may use the target's environment, and is not
// more narrowly restricted by allowed_ips than the target (every address
// the target may be used from, the caller may be used from too). A key
// that may revoke another cannot take from the account more than it could
// do itself, so a narrow key cannot lock out the owner key. Returns
// EInsufficientPermissions otherwise.
//
// An access token is not its key (see IsSelf): it may not revoke the key
// it was minted from at all, and acts on any other key as a key with the
// token's permissions would.
func CheckRevoke(caller, target *Key) error {
	if caller.IsSelf(target.ID) {
		return nil
	}
	if err := checkTokenParent(caller, target, "revoke"); err != nil {
		return err
	}
	if !caller.Environment.CanUse(target.Environment) {
		return &Error{
			Code:    EInsufficientPermissions,
			Message: "A test key cannot revoke a live key; use a live key.",
		}
	}
	if p, _, ok := missing(caller.Rights(), target.Rights(), nil); ok {
		return &Error{
			Code:     EInsufficientPermissions,
			Required: string(p),
			Message:  "The key " + target.ID + " holds \"" + string(p) + "\", which this key does not, so this key cannot revoke it. Revoke it with a key that holds all of its permissions.",
		}
	}
	if !target.AllowedIPs.Within(caller.AllowedIPs) {
		return &Error{
			Code:    EInsufficientPermissions,
			Message: "This key may only be used from " + caller.AllowedIPs.String() + ", and the key " + target.ID + " reaches further, so this key cannot revoke it. Revoke it with a key usable from every address it is.",
		}
	}
	return nil
}
