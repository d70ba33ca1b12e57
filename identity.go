package pihu

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Identity is the customer's own user or organisation that keys are made
// for: its id in the customer's system (ExternalID), its metadata, and
// the limits all its keys share. A customer with three keys of one
// identity limited to 100 requests a minute gets 100 a minute in all,
// not 300, on every instance; an identity with credits has one balance
// that every request of any of its keys spends. Like a candidate it belongs to one account
// and one environment: a test key never sees a live identity, and
// another account's identity does not exist for a caller. ExternalID is
// unique among the identities of an account and environment.
type Identity struct {
	ID          string // "idt_…"
	AccountID   string
	Environment Environment
	ExternalID  string
	// Metadata is a compacted JSON object (see ValidateMetadata); nil:
	// none.
	Metadata json.RawMessage
	// RateLimit is the limit the identity's keys share; the zero
	// RateLimit means none: each key has its own limit (or the server's
	// default). A key's own limit, if it has one, applies too: a request
	// needs both to admit it.
	RateLimit RateLimit
	// Credits are the usage credits all its keys spend, as a key's own
	// (see Credits): a request of a key of the identity needs the
	// identity's credits, and the key's own too if it has some, and
	// spends both or neither. nil: not counted. On a key's identity
	// (Key.Identity), only whether it is nil tells anything: Remaining
	// there is as the key was read, for no use but that.
	Credits *Credits
	// RateLimits are the named limits the identity's keys share (see
	// NamedLimits); nil: none. A key's own limit of the same name applies
	// too.
	RateLimits NamedLimits
	Created    time.Time
	Updated    time.Time
}

// HasCredits reports whether i counts credits.
func (i *Identity) HasCredits() bool { return i != nil && i.Credits != nil }

// Built-in permissions that manage an account's identities.
const (
	IdentityRead  Permission = "identity:read"
	IdentityWrite Permission = "identity:write"
)

// MaxExternalID is the longest external_id, in characters.
const MaxExternalID = 255

// Audit actions of identities: the target is the identity's id, and the
// event belongs to the identity's environment.
const (
	ActionIdentityCreated = "identity.created"
	ActionIdentityUpdated = "identity.updated"
	ActionIdentityDeleted = "identity.deleted"
)

// NewIdentityEvent returns the event of actor, at client address ip,
// doing action (ActionIdentity…) to identity i at the time at.
func NewIdentityEvent(action, actor, ip string, i *Identity, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID: NewID(PrefixEvent), AccountID: i.AccountID, Environment: i.Environment, Action: action, Actor: actor,
		Target: i.ID, IP: ip, Created: Timestamp(at),
	}
}

// IdentityRequest is what a caller asks for when it creates an identity.
type IdentityRequest struct {
	ExternalID string
	Metadata   json.RawMessage
	// RateLimit is the shared limit as given ("100/m"); nil: none.
	RateLimit *string
	// Credits are the shared credits (Refilled is set by NewIdentity);
	// nil: not counted.
	Credits *Credits
	// RateLimits are the shared named limits as given; nil: none.
	RateLimits map[string]string
}

// NewIdentity builds the identity req asks for, in the account and
// environment of creator, at now. Returns EParameterMissing or
// EParameterInvalid on "external_id", "metadata" or "rate_limit".
func NewIdentity(creator *Key, req IdentityRequest, now time.Time) (*Identity, error) {
	if req.ExternalID == "" {
		return nil, ParamErrorf(EParameterMissing, "external_id",
			"An identity needs an \"external_id\": your own id of the user or organisation, such as \"user_42\" or \"org_acme\".")
	}
	if err := ValidateExternalID(req.ExternalID); err != nil {
		return nil, err
	}
	meta, err := ValidateMetadata(req.Metadata, "metadata")
	if err != nil {
		return nil, err
	}
	var limit RateLimit
	if req.RateLimit != nil {
		if limit, err = ParseRateLimit(*req.RateLimit, "rate_limit"); err != nil {
			return nil, err
		}
	}
	var credits *Credits
	if req.Credits != nil {
		if err := ValidateCredits(req.Credits.Remaining, "remaining"); err != nil {
			return nil, err
		}
		if req.Credits.Refill != nil {
			if err := req.Credits.Refill.Validate("refill"); err != nil {
				return nil, err
			}
		}
		credits = req.Credits.Clone()
		credits.Refilled = Timestamp(now)
	}
	named, err := ParseNamedLimits(req.RateLimits, "ratelimits")
	if err != nil {
		return nil, err
	}
	now = Timestamp(now)
	return &Identity{
		ID: NewID(PrefixIdentity), AccountID: creator.AccountID, Environment: creator.Environment,
		ExternalID: req.ExternalID, Metadata: meta, RateLimit: limit, RateLimits: named, Credits: credits, Created: now, Updated: now,
	}, nil
}

// ValidateExternalID checks an identity's external_id: 1 to MaxExternalID
// characters, no control character nor bidirectional control, not only
// spaces. Returns EParameterInvalid on "external_id".
func ValidateExternalID(s string) error {
	if s == "" {
		return ParamErrorf(EParameterInvalid, "external_id", "\"external_id\" is empty; give your own id of the user or organisation.")
	}
	if n := utf8.RuneCountInString(s); n > MaxExternalID {
		return ParamErrorf(EParameterInvalid, "external_id", "\"external_id\" is %d characters long; at most %d are allowed.", n, MaxExternalID)
	}
	if err := CheckText("external_id", "external_id", s); err != nil {
		return err
	}
	for _, c := range s {
		if !invisible(c) {
			return nil
		}
	}
	return ParamErrorf(EParameterInvalid, "external_id", "\"external_id\" has no visible character; give your own id of the user or organisation.")
}

// IdentityChange is a change to an identity (PATCH): each field given is
// changed.
type IdentityChange struct {
	ExternalID *string
	Metadata   Optional[json.RawMessage]
	// RateLimit is the new shared limit; null for none.
	RateLimit Optional[RateLimit]
	// Remaining sets the shared credits (null: not counted any more);
	// Add adds to them, not both; Refill is the new refill (null: none),
	// as for a key (KeyChange).
	Remaining Optional[int64]
	Add       *int64
	Refill    Optional[Refill]
	// RateLimits are the new shared named limits, all of them; null (or
	// none) for none.
	RateLimits Optional[NamedLimits]
}

// Fields names the fields c changes, in a fixed order: what the audit
// event of the change records.
func (c *IdentityChange) Fields() []string {
	var out []string
	if c.ExternalID != nil {
		out = append(out, "external_id")
	}
	if c.Metadata.Set {
		out = append(out, "metadata")
	}
	if c.RateLimit.Set {
		out = append(out, "rate_limit")
	}
	if c.Remaining.Set {
		out = append(out, "remaining")
	}
	if c.Add != nil {
		out = append(out, "add")
	}
	if c.Refill.Set {
		out = append(out, "refill")
	}
	if c.RateLimits.Set {
		out = append(out, "ratelimits")
	}
	return out
}

// Validate checks the change's fields and normalises them. Returns
// EParameterMissing or EParameterInvalid with the field.
func (c *IdentityChange) Validate() error {
	if len(c.Fields()) == 0 {
		return Errorf(EParameterMissing, "Give at least one field to change: external_id, metadata, rate_limit, ratelimits, remaining, add or refill.")
	}
	if err := validateCreditChange(c.Remaining, c.Add, c.Refill, "identity"); err != nil {
		return err
	}
	if c.ExternalID != nil {
		if err := ValidateExternalID(*c.ExternalID); err != nil {
			return err
		}
	}
	if c.Metadata.Set && !c.Metadata.Null {
		meta, err := ValidateMetadata(c.Metadata.Value, "metadata")
		if err != nil {
			return err
		}
		c.Metadata.Value = meta
	}
	return nil
}

// CheckSelf applies the rule for a key (caller) of identity i changing
// it at now, as for a key changing itself: it may narrow the limits and
// the credits it shares, never raise or remove them
// (EInsufficientPermissions on "rate_limit", "ratelimits", "remaining",
// "add" or "refill"). A caller of another identity, or of none, may
// change it as it likes.
func (c *IdentityChange) CheckSelf(caller *Key, i *Identity, now time.Time) error {
	if caller.Identity == nil || caller.Identity.ID != i.ID {
		return nil
	}
	if i.Credits != nil {
		kc := KeyChange{Remaining: c.Remaining, Add: c.Add, Refill: c.Refill}
		left, _ := i.Credits.At(now)
		err := kc.checkCreditsNarrowing(&Key{Credits: i.Credits}, now, func(param, _ string) error {
			what := map[string]string{
				"remaining": fmt.Sprintf("it may set them no higher than the %d left, and not stop counting them.", left),
				"add":       "it may not add to them.",
				"refill":    "it may remove their refill or lower its amount, not give them one, nor a larger or more frequent one.",
			}[param]
			return &Error{Code: EInsufficientPermissions, Param: param,
				Message: "This key shares the identity's credits, so it may only narrow them: " + what + " Use a key of another identity, or of none."}
		})
		if err != nil {
			return err
		}
	}
	if c.RateLimits.Set {
		if name, ok := i.RateLimits.Within(c.RateLimits.Value); !ok {
			cur, _ := i.RateLimits.Get(name)
			return &Error{
				Code: EInsufficientPermissions, Param: "ratelimits",
				Message: fmt.Sprintf("This key shares the identity's %q limit of %s, so it may only lower it, never raise or remove it: use a key of another identity, or of none.", name, cur),
			}
		}
	}
	if !c.RateLimit.Set || i.RateLimit.IsZero() {
		return nil
	}
	if c.RateLimit.Null || c.RateLimit.Value.IsZero() || !c.RateLimit.Value.Within(i.RateLimit) {
		return &Error{
			Code: EInsufficientPermissions, Param: "rate_limit",
			Message: fmt.Sprintf("This key shares the identity's rate limit of %s, so it may only lower it, never raise or remove it: use a key of another identity, or of none.", i.RateLimit),
		}
	}
	return nil
}

// Apply makes the change c (validated) to i, as stored, at now.
func (c *IdentityChange) Apply(i *Identity, now time.Time) {
	if c.ExternalID != nil {
		i.ExternalID = *c.ExternalID
	}
	if c.Metadata.Set {
		i.Metadata = c.Metadata.Value
		if c.Metadata.Null {
			i.Metadata = nil
		}
	}
	if c.RateLimit.Set {
		i.RateLimit = c.RateLimit.Value
	}
	if c.RateLimits.Set {
		i.RateLimits = c.RateLimits.Value
	}
	i.Updated = Timestamp(now)
}

// ApplyCredits makes the change c (validated) to i's credits at now:
// EParameterInvalid on "add" or "refill" for an identity without credits.
func (c *IdentityChange) ApplyCredits(i *Identity, now time.Time) error {
	if !c.Remaining.Set && c.Add == nil && !c.Refill.Set {
		return nil
	}
	next, err := changeCredits(i.Credits, c.Remaining, c.Add, c.Refill, "identity", i.ID, now)
	if err == nil {
		i.Credits = next
	}
	return err
}

// CheckIdentityWriter applies the rule for who may create, change or
// delete identities: an API key, not an access token, which must leave
// nothing behind that outlives it (as CheckPermissionWriter). Returns
// EInsufficientPermissions otherwise.
func CheckIdentityWriter(k *Key) error {
	if k.Token == nil {
		return nil
	}
	return &Error{
		Code: EInsufficientPermissions, Required: string(IdentityWrite),
		Message: "An access token cannot create, change or delete identities, which outlive it; use an API key with the \"identity:write\" permission.",
	}
}

// CheckKeyIdentity applies the rule for a key (caller) that gives key k
// (nil: a key being created) the identity named id ("": none): a key's
// identity decides the limits it shares, so a key may not move itself to
// another identity or out of its own (it would escape its shared limit),
// and the caller must be able to see identities (identity:read).
// Returns EInsufficientPermissions on "identity_id" otherwise.
func CheckKeyIdentity(caller, k *Key, id string) error {
	if k != nil && caller.ID == k.ID {
		return &Error{
			Code: EInsufficientPermissions, Param: "identity_id",
			Message: "A key cannot change its own identity, whose limits it shares: use another key with \"api_key:write\".",
		}
	}
	if id != "" && !caller.Rights().Grants(IdentityRead) {
		return &Error{
			Code: EInsufficientPermissions, Param: "identity_id", Required: string(IdentityRead),
			Message: "Giving a key an identity needs \"identity:read\", which this key does not hold.",
		}
	}
	return nil
}

// IdentityFilter selects a page of the identities of a scope, newest
// first.
type IdentityFilter struct {
	Scope
	Page
	// ExternalID, if set, selects the identity of that external_id only.
	ExternalID string
}

// IdentityUpdate is what IdentityStore.UpdateIdentity changes.
type IdentityUpdate struct {
	Scope Scope
	ID    string
	// Apply checks and makes the change to the identity as stored.
	Apply func(*Identity) error
	// Event, if not nil, is the audit event recorded for the identity as
	// changed.
	Event func(*Identity) *AuditEvent
}

// IdentityDeletion is what IdentityStore.DeleteIdentity deletes.
type IdentityDeletion struct {
	Scope Scope
	ID    string
	At    time.Time
	// RevokeKeys revokes the identity's active keys with it; without it,
	// an identity with active keys is not deleted (EIdentityInUse).
	RevokeKeys bool
	// Check, if not nil, may refuse the revocation of any of the keys,
	// as Revocation.Check; KeyEvent, if not nil, is the audit event of
	// each key revoked, as Revocation.Event.
	Check    func(*Key) error
	KeyEvent func(*Key) *AuditEvent
	// Event, if not nil, is the audit event recorded for the identity
	// deleted.
	Event func(*Identity) *AuditEvent
}

// IdentityStore keeps the identities of accounts. It is safe for
// concurrent use.
//
// A key's identity is stored with it (Key.IdentityID): every read of a
// key returns it with what requests need of it (Key.Identity: its
// external_id, metadata and rate limit, as the identity is now), and
// CreateKey and UpdateKey check, inside the transaction, that it is an
// identity of the key's account and environment (EParameterInvalid on
// "identity_id" if not).
type IdentityStore interface {
	// CreateIdentity stores i and the audit events given, in one
	// transaction. Returns EIdentityExists (Param "external_id") if i's
	// account and environment have an identity of that external_id.
	CreateIdentity(ctx context.Context, i *Identity, events ...*AuditEvent) error

	// Identity returns the identity id in scope s. Returns ENotFound if
	// there is none (deleted, or outside s).
	Identity(ctx context.Context, s Scope, id string) (*Identity, error)

	// ListIdentities returns a page of the identities of f's scope,
	// newest first, and whether more follow, with the cursors of
	// ListKeys (a deleted identity's id is still a valid cursor).
	ListIdentities(ctx context.Context, f IdentityFilter) ([]*Identity, bool, error)

	// UpdateIdentity changes an identity in one transaction: it reads it
	// as stored (FOR UPDATE where rows are locked), calls u.Apply, which
	// may refuse the change with an error that is returned, writes it,
	// records u.Event's audit event and returns the identity as changed.
	// Returns ENotFound if there is no such identity in u.Scope, and
	// EIdentityExists if the new external_id is another identity's.
	UpdateIdentity(ctx context.Context, u IdentityUpdate) (*Identity, error)

	// DeleteIdentity deletes an identity in one transaction and returns
	// it, with the keys it revoked. Its active keys (unrevoked and
	// unexpired) are counted first: unless d.RevokeKeys, it deletes
	// nothing if there are any and returns EIdentityInUse with KeyCount
	// set; with it, each is revoked as KeyStore.RevokeKeys revokes a key
	// (d.Check, d.KeyEvent). Keys that no longer work lose the identity.
	// Returns ENotFound if there is no such identity in d.Scope.
	DeleteIdentity(ctx context.Context, d IdentityDeletion) (*Identity, []*Key, error)

	// IdentityKeys returns the ids of every key of identity id of account
	// accountID, revoked and expired ones included, oldest first: whose
	// usage is the identity's. None for an identity that has no key, or
	// does not exist.
	IdentityKeys(ctx context.Context, accountID, id string) ([]string, error)
}

// IdentityInUse is the error of deleting identity i, which n active keys
// have, without revoking them.
func IdentityInUse(i *Identity, n int) *Error {
	keys := "active keys belong"
	if n == 1 {
		keys = "active key belongs"
	}
	return &Error{Code: EIdentityInUse, KeyCount: n, Message: fmt.Sprintf(
		"%d %s to the identity %q: revoke them first, or delete it with them with DELETE /v1/identities/%s?revoke_keys=true.",
		n, keys, i.ExternalID, i.ID)}
}

// IdentityExists is the error of a second identity of a scope with
// external_id id.
func IdentityExists(externalID string) *Error {
	return ParamErrorf(EIdentityExists, "external_id",
		"An identity with the external_id %q exists already: change that identity, or give another external_id.", MaskSecrets(externalID))
}

// IdentityNotFound is identity id missing from the caller's scope.
func IdentityNotFound(id string) *Error {
	return Errorf(ENotFound, "There is no identity %q in this account and environment.", MaskSecrets(id))
}

// UnknownKeyIdentity is the error of giving a key an identity id that is
// not one of its account's and environment's.
func UnknownKeyIdentity(id string) *Error {
	return ParamErrorf(EParameterInvalid, "identity_id",
		"%q is not an identity of this account and environment: give the id of one, such as \"idt_…\"; GET /v1/identities lists them.", MaskSecrets(id))
}

// IsIdentityID reports whether id is an identity's ("idt_…"): where a
// store's credits are spent (CreditStore), it names the identity's
// credits rather than a key's.
func IsIdentityID(id string) bool { return strings.HasPrefix(id, PrefixIdentity) }
