package pihu

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeyChange is a change to a key (PATCH): each field given is changed;
// the secret never is. An Optional field tells "clear" (null) from "leave
// as it is" (absent).
type KeyChange struct {
	Name        *string
	Permissions Permissions // nil: unchanged
	// RateLimit is the new limit; null (or the zero RateLimit) for the
	// server's default.
	RateLimit Optional[RateLimit]
	// RateLimits are the key's new named limits, all of them (parsed:
	// ParseNamedLimits); null for none.
	RateLimits Optional[NamedLimits]
	// AllowedIPs are the new addresses, as given (Validate parses them);
	// null for anywhere.
	AllowedIPs Optional[[]string]
	// Metadata is the new metadata; null for none.
	Metadata Optional[json.RawMessage]
	// Expires is the new expiry; null for never.
	Expires Optional[time.Time]
	// Remaining sets the credits (null: not counted any more); Add adds
	// to them. Not both.
	Remaining Optional[int64]
	Add       *int64
	// Refill is the new refill; null for none.
	Refill Optional[Refill]
	// DefaultRateLimit is the server's default limit, which a key
	// without its own has: a key changing itself may give itself a limit
	// only within it (see Apply). The zero RateLimit (a default that is
	// not of the form a key's limit takes) refuses it any limit of its
	// own while it has the default.
	DefaultRateLimit RateLimit
	// Defined are the permissions, besides the built-in ones, that
	// Permissions may name (as KeyRequest.Defined).
	Defined []Permission
	// Enabled disables (false) or enables (true) the key; nil: left as
	// it is. A disabled key is refused everywhere (EDisabledAPIKey), with
	// the access tokens minted from it, until it is enabled again; the
	// keys it created are not (no cascade).
	Enabled *bool
	// Roles are the ids of the key's new roles, [] for none; nil:
	// unchanged.
	Roles []string
	// AccountRoles are the account's roles (RoleStore.Roles), which Roles
	// must name; needed only when Roles is not empty.
	AccountRoles []*KeyRole
	// Identity is the id of the key's new identity; null for none. The
	// store checks that it is one of the key's account and environment.
	Identity Optional[string]

	// allowed is AllowedIPs as Validate parsed them; roles are the roles
	// Roles names.
	allowed AllowedIPs
	// toggled is whether the last Apply found the key in the other state
	// than Enabled: the change disables or enables it (see Events).
	toggled bool
	roles   []*KeyRole
}

// Fields names the fields c changes, in a fixed order: what the audit
// event of the change records.
func (c *KeyChange) Fields() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(c.Name != nil, "name")
	add(c.Permissions != nil, "permissions")
	add(c.Roles != nil, "roles")
	add(c.RateLimit.Set, "rate_limit")
	add(c.RateLimits.Set, "ratelimits")
	add(c.AllowedIPs.Set, "allowed_ips")
	add(c.Metadata.Set, "metadata")
	add(c.Expires.Set, "expires")
	add(c.Remaining.Set, "remaining")
	add(c.Add != nil, "add")
	add(c.Refill.Set, "refill")
	add(c.Enabled != nil, "enabled")
	add(c.Identity.Set, "identity_id")
	return out
}

// Events are the audit events of the change c, as Apply made it to k, by
// actor from client address ip at now: api_key.updated naming the fields
// given but "enabled", if any; then api_key.disabled or api_key.enabled
// if the key's state changed. A change that only gives "enabled" as the
// key is already records nothing.
func (c *KeyChange) Events(actor, ip string, k *Key, now time.Time) []*AuditEvent {
	var out []*AuditEvent
	if fields := slices.DeleteFunc(c.Fields(), func(f string) bool { return f == "enabled" }); len(fields) > 0 {
		ev := NewAuditEvent(ActionKeyUpdated, actor, ip, k, now)
		ev.Changes = fields
		out = append(out, ev)
	}
	if c.toggled {
		action := ActionKeyEnabled
		if k.Disabled {
			action = ActionKeyDisabled
		}
		out = append(out, NewAuditEvent(action, actor, ip, k, now))
	}
	return out
}

// Validate checks the change's own fields, at now, and normalises them.
// Returns EParameterInvalid (or EParameterMissing) with the field.
func (c *KeyChange) Validate(now time.Time) error {
	if len(c.Fields()) == 0 {
		return Errorf(EParameterMissing, "Give at least one field to change: name, permissions, roles, rate_limit, ratelimits, allowed_ips, metadata, expires, remaining, add, refill, enabled or identity_id.")
	}
	for _, check := range []func(time.Time) error{c.validateKey, c.validateCredits} {
		if err := check(now); err != nil {
			return err
		}
	}
	return nil
}

// validateKey is Validate for the fields of the key itself.
func (c *KeyChange) validateKey(now time.Time) error {
	if c.Name != nil {
		if err := ValidateKeyName(*c.Name); err != nil {
			return err
		}
	}
	if c.Permissions != nil {
		// Empty is refused by Apply unless the key keeps a role.
		if err := c.Permissions.ValidateIn(c.Defined); err != nil {
			return err
		}
		c.Permissions = c.Permissions.Normalize()
	}
	if c.Roles != nil {
		roles, err := FindRoles(c.Roles, c.AccountRoles)
		if err != nil {
			return err
		}
		c.roles, c.Roles = roles, RoleIDs(roles)
	}
	if ips := c.AllowedIPs.Ptr(); ips != nil {
		allowed, err := ParseAllowedIPs(*ips)
		if err != nil {
			return err
		}
		c.AllowedIPs.Value, c.allowed = allowed.Strings(), allowed
	}
	if c.Metadata.Set {
		m, err := ValidateMetadata(c.Metadata.Value, "metadata")
		if err != nil {
			return err
		}
		c.Metadata.Value = m
	}
	if t := c.Expires.Ptr(); t != nil {
		if err := checkExpires(*t, now, "expires"); err != nil {
			return err
		}
		c.Expires.Value = Timestamp(*t)
	}
	if c.Identity.Set && !c.Identity.Null && c.Identity.Value == "" {
		return ParamErrorf(EParameterInvalid, "identity_id", "\"identity_id\" is empty; give the id of an identity (\"idt_…\"), or null for none.")
	}
	return nil
}

// validateCredits is Validate for the credits.
func (c *KeyChange) validateCredits(time.Time) error {
	return validateCreditChange(c.Remaining, c.Add, c.Refill, "key")
}

// validateCreditChange checks a change of credits (of a key or an
// identity, named by what): "remaining" sets them (null: not counted any
// more), "add" adds to them, not both; "refill" is the new refill.
func validateCreditChange(remaining Optional[int64], add *int64, refill Optional[Refill], what string) error {
	if remaining.Set && add != nil {
		return ParamErrorf(EParameterInvalid, "add", "Give \"remaining\" (sets the credits) or \"add\" (adds to them), not both.")
	}
	if n := remaining.Ptr(); n != nil {
		if err := ValidateCredits(*n, "remaining"); err != nil {
			return err
		}
	}
	if add != nil {
		if err := ValidateCredits(*add, "add"); err != nil {
			return err
		}
	}
	if r := refill.Ptr(); r != nil {
		if err := r.Validate("refill"); err != nil {
			return err
		}
		if remaining.Null {
			return ParamErrorf(EParameterInvalid, "refill", "A %s whose credits are removed (\"remaining\": null) has no refill; leave \"refill\" out.", what)
		}
	}
	return nil
}

// checkExpires checks an expiry given as a time: after now, and at most
// 3650 days from now.
func checkExpires(t, now time.Time, param string) error {
	if !t.After(now) {
		return ParamErrorf(EParameterInvalid, param, "%q is not in the future; give a time to come (RFC 3339), or null for never.", t.UTC().Format(time.RFC3339))
	}
	if t.Sub(now) > maxExpiration {
		return ParamErrorf(EParameterInvalid, param, "%q is more than 3650 days away; give an earlier time.", t.UTC().Format(time.RFC3339))
	}
	return nil
}

// Apply makes the change c (validated) to k, as stored, by caller at now,
// after checking the caller's rights:
//
//   - over the key, as for revoking it (CheckRevoke): the caller holds
//     every permission of k, may use its environment, and is not more
//     narrowly restricted by allowed_ips; a key may change itself, within
//     the next rules;
//   - no escalation: every permission given, and every permission of
//     the roles given, is held by the caller (EInsufficientPermissions);
//   - no outliving: a new expiry is no later than the caller's
//     (EParameterInvalid on "expires");
//   - addresses: a caller limited to allowed_ips gives a list within its
//     own, and cannot lift the key's (EInsufficientPermissions on
//     "allowed_ips");
//   - a key changing itself (caller.IsSelf(k.ID): its own secret, not an
//     access token, which never changes its key) may only narrow its
//     limits (see checkNarrowing); it may disable itself, after which it
//     is refused, so that only another key (or the dashboard) can enable
//     it again.
//
// A key keeps at least one permission or role (EParameterInvalid on
// "permissions" otherwise).
func (c *KeyChange) Apply(caller, k *Key, now time.Time) error {
	c.toggled = false
	if err := c.authorize(caller, k, now); err != nil {
		return err
	}
	c.assign(k)
	if len(k.Permissions) == 0 && len(k.Roles) == 0 {
		return ParamErrorf(EParameterInvalid, "permissions", "\"permissions\" is empty and the key has no role; a key needs at least one permission, or a role.")
	}
	return c.applyCredits(k, now)
}

// authorize applies Apply's rules of who may make the change.
func (c *KeyChange) authorize(caller, k *Key, now time.Time) error {
	if ips := c.AllowedIPs.Ptr(); ips != nil && c.allowed.Anywhere() {
		// Not validated: parsed here, so that a list given never makes
		// the key usable from anywhere.
		allowed, err := ParseAllowedIPs(*ips)
		if err != nil {
			return err
		}
		c.allowed = allowed
	}
	if err := CheckRevoke(caller, k); err != nil {
		if e, ok := err.(*Error); ok {
			// The rule is revocation's; the words are this change's.
			e.Message = strings.NewReplacer("revoke", "change", "Revoke", "Change").Replace(e.Message)
		}
		return err
	}
	if caller.IsSelf(k.ID) {
		if err := c.checkNarrowing(k, now); err != nil {
			return err
		}
	}
	if c.Permissions != nil || c.Roles != nil {
		if err := CheckGrant(caller, c.Permissions, k.Environment, caller.Expires, c.roles...); err != nil {
			return err
		}
	}
	if c.Identity.Set {
		if err := CheckKeyIdentity(caller, k, c.Identity.Value); err != nil {
			return err
		}
	}
	return c.checkCallerLimits(caller)
}

// checkCallerLimits applies the rules of no outliving and of addresses:
// the change gives the key no later expiry than the caller's, and no
// addresses beyond the caller's allowed_ips.
func (c *KeyChange) checkCallerLimits(caller *Key) error {
	if c.Expires.Set && caller.Expires != nil && (c.Expires.Null || c.Expires.Value.After(*caller.Expires)) {
		return ParamErrorf(EParameterInvalid, "expires",
			"A key cannot outlive the key that changes it: this key expires at %s, so give an \"expires\" by then.",
			caller.Expires.UTC().Format(time.RFC3339))
	}
	if !c.AllowedIPs.Set || caller.AllowedIPs.Anywhere() {
		return nil
	}
	if c.AllowedIPs.Null {
		return &Error{
			Code: EInsufficientPermissions, Param: "allowed_ips",
			Message: "This key may only be used from some addresses, so it cannot make a key usable from anywhere; give \"allowed_ips\" within its own.",
		}
	}
	_, err := checkAllowedIPs(caller, c.allowed)
	return err
}

// assign sets on k the fields the change gives, but its credits.
func (c *KeyChange) assign(k *Key) {
	if c.Name != nil {
		k.Name = *c.Name
	}
	if c.Permissions != nil {
		k.Permissions = slices.Clone(c.Permissions)
	}
	if c.Roles != nil {
		k.Roles = slices.Clone(c.Roles)
	}
	if c.Permissions != nil || c.Roles != nil {
		k.rights = nil // resolved again when next read
	}
	if c.RateLimit.Set {
		k.RateLimit = c.RateLimit.Value
	}
	if c.RateLimits.Set {
		k.RateLimits = c.RateLimits.Value
	}
	if c.AllowedIPs.Set {
		k.AllowedIPs = c.allowed
	}
	if c.Metadata.Set {
		k.Metadata = c.Metadata.Value
	}
	if c.Expires.Set {
		k.Expires = c.Expires.Ptr()
	}
	if c.Enabled != nil {
		c.toggled = k.Disabled == *c.Enabled
		k.Disabled = !*c.Enabled
	}
	if c.Identity.Set {
		k.Identity = nil
		if !c.Identity.Null {
			k.Identity = &Identity{ID: c.Identity.Value}
		}
	}
}

// checkNarrowing applies the rule for a key that changes itself, k as
// stored: it may narrow its own limits, never raise or remove them, since
// a key that could lift its own limits would have none. It cannot give
// itself a higher rate limit or none (the server's default, unless that
// is lower), a later expiry or none, addresses beyond its allowed_ips or
// none, more credits, a larger or new refill, or uncounted use. Returns
// EInsufficientPermissions on the field otherwise.
func (c *KeyChange) checkNarrowing(k *Key, now time.Time) error {
	deny := func(param, msg string) error {
		return &Error{Code: EInsufficientPermissions, Param: param,
			Message: "A key may only narrow its own limits: " + msg + " Ask a key with rights over this one to do it."}
	}
	if c.RateLimit.Set && c.RateLimit.Value != k.RateLimit && !rateWithin(c.RateLimit.Value, k.RateLimit, c.DefaultRateLimit) {
		return deny("rate_limit", "this key cannot raise or remove its own rate limit, only lower it.")
	}
	if c.RateLimits.Set {
		if name, ok := k.RateLimits.Within(c.RateLimits.Value); !ok {
			return deny("ratelimits", fmt.Sprintf("this key cannot raise or remove its own %q limit, only lower it.", name))
		}
	}
	if c.Expires.Set && k.Expires != nil && (c.Expires.Null || c.Expires.Value.After(*k.Expires)) {
		return deny("expires", "this key cannot make itself expire later, or never, only sooner.")
	}
	if c.AllowedIPs.Set && !k.AllowedIPs.Anywhere() && (c.AllowedIPs.Null || !c.allowed.Within(k.AllowedIPs)) {
		return deny("allowed_ips", "this key cannot widen or remove its own allowed_ips, only keep addresses within them.")
	}
	if c.Enabled != nil && *c.Enabled && k.Disabled {
		// Unreachable through the API, which refuses a disabled key
		// before any change: the rule is here all the same.
		return deny("enabled", "a disabled key cannot enable itself.")
	}
	return c.checkCreditsNarrowing(k, now, deny)
}

// checkCreditsNarrowing is checkNarrowing for the credits.
func (c *KeyChange) checkCreditsNarrowing(k *Key, now time.Time, deny func(param, msg string) error) error {
	if k.Credits == nil {
		return nil // uncounted: any count is narrower
	}
	cur, _ := k.Credits.At(now)
	switch {
	case c.Remaining.Null:
		return deny("remaining", "this key cannot stop counting its own use.")
	case c.Remaining.Set && c.Remaining.Value > cur:
		return deny("remaining", fmt.Sprintf("this key has %d credits left and cannot give itself more.", cur))
	case c.Add != nil && *c.Add > 0:
		return deny("add", "this key cannot add credits to itself.")
	}
	if r := c.Refill.Ptr(); r != nil && !refillWithin(r, k.Credits.Refill) {
		return deny("refill", "this key cannot give itself a refill, or a larger or more frequent one; it may remove its refill or lower its amount.")
	}
	return nil
}

// refillWithin reports whether refill next gives no more credits, no
// sooner, than cur (nil: none).
func refillWithin(next, cur *Refill) bool {
	return cur != nil && next.Interval == cur.Interval && next.Day == cur.Day && next.Amount <= cur.Amount
}

// rateWithin reports whether the rate limit next (the zero RateLimit
// for def, the server's default) allows no more than cur (likewise).
func rateWithin(next, cur, def RateLimit) bool {
	if next.IsZero() {
		next = def
	}
	if cur.IsZero() {
		cur = def
	}
	return next.Within(cur)
}

// applyCredits makes the change to k's credits.
func (c *KeyChange) applyCredits(k *Key, now time.Time) error {
	next, err := changeCredits(k.Credits, c.Remaining, c.Add, c.Refill, "key", k.ID, now)
	if err == nil {
		k.Credits = next
	}
	return err
}

// changeCredits returns cur (of the key or identity id, named by what)
// changed at now by remaining, add and refill (validated): remaining sets
// the balance (null: not counted), add adds to the balance as it is at
// now (a refill due included), refill replaces the refill.
func changeCredits(cur *Credits, remaining Optional[int64], add *int64, refill Optional[Refill], what, id string, now time.Time) (*Credits, error) {
	now = Timestamp(now)
	switch {
	case remaining.Null:
		cur = nil
	case remaining.Set:
		next := &Credits{Remaining: remaining.Value, Refilled: now}
		if cur != nil {
			next.Refill = cur.Refill
		}
		cur = next
	case add != nil:
		if cur == nil {
			return nil, ParamErrorf(EParameterInvalid, "add", "The %s %s has no credits to add to: its use is not counted. Give \"remaining\" to start counting.", what, id)
		}
		n, refilled := cur.At(now)
		if n+*add > MaxCredits {
			return nil, ParamErrorf(EParameterInvalid, "add", "The %s would have %d credits; at most %d are allowed.", what, n+*add, int64(MaxCredits))
		}
		cur = &Credits{Remaining: n + *add, Refill: cur.Refill, Refilled: refilled}
	}
	if refill.Set {
		if cur == nil {
			if !refill.Null {
				return nil, ParamErrorf(EParameterInvalid, "refill", "The %s %s has no credits to refill: give \"remaining\" too.", what, id)
			}
			return nil, nil
		}
		next := *cur
		next.Refill = refill.Ptr()
		cur = &next
	}
	return cur, nil
}

// ImportRequest is a key made by another system, imported by the SHA-256
// of its secret.
type ImportRequest struct {
	Hash        string // the SHA-256 of the secret, 64 hex characters
	Name        string
	Permissions Permissions
	Expires     *time.Time // nil: never
	Environment Environment
	Metadata    json.RawMessage
	Credits     *Credits
	// Defined are the permissions, besides the built-in ones, that
	// Permissions may name (as KeyRequest.Defined).
	Defined []Permission
}

// ImportKey builds the key of req, number i of an import (for the
// errors' Param, "keys[i].…"), for account accountID, imported by creator
// at now, with the rules of NewKey: the permissions the creator holds, no
// outliving it, its environment, its allowed_ips (the key gets them). An
// imported key has no hint.
func ImportKey(accountID string, i int, req ImportRequest, creator *Key, now time.Time) (*Key, error) {
	now = Timestamp(now)
	at := func(err error) error {
		if e, ok := err.(*Error); ok {
			e.Param = fmt.Sprintf("keys[%d].%s", i, e.Param)
			e.Message = fmt.Sprintf("keys[%d]: %s", i, e.Message)
		}
		return err
	}
	digest, err := hex.DecodeString(req.Hash)
	if err != nil || len(digest) != 32 {
		return nil, at(ParamErrorf(EParameterInvalid, "hash", "\"hash\" must be the SHA-256 of the secret in hexadecimal: 64 characters 0-9 and a-f."))
	}
	kr := KeyRequest{Name: req.Name, Permissions: req.Permissions, Environment: req.Environment, Metadata: req.Metadata, Credits: req.Credits, Defined: req.Defined}
	if err := kr.Validate(creator.Environment); err != nil {
		return nil, at(err)
	}
	if req.Expires != nil {
		if err := checkExpires(*req.Expires, now, "expires"); err != nil {
			return nil, at(err)
		}
		t := Timestamp(*req.Expires)
		req.Expires = &t
	}
	if err := CheckGrant(creator, kr.Permissions, kr.Environment, req.Expires); err != nil {
		if e, ok := err.(*Error); ok && e.Param == "expiration" {
			e.Param = "expires"
		}
		return nil, at(err)
	}
	k := &Key{
		ID: NewID(PrefixKey), AccountID: accountID, Name: kr.Name, Environment: kr.Environment,
		Permissions: kr.Permissions, Digest: digest, Created: now, Expires: req.Expires,
		AllowedIPs: creator.AllowedIPs, Metadata: kr.Metadata, CreatedBy: creator.ID, Imported: true,
	}
	if kr.Credits != nil {
		c := *kr.Credits
		c.Refilled = now
		k.Credits = &c
	}
	return k, nil
}

// MaxImportKeys is the most keys one import takes.
const MaxImportKeys = 1000
