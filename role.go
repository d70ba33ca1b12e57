package pihu

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// KeyRole is a named set of permissions of an account. A key given a role
// (Key.Roles) holds the role's permissions besides its own, as the role
// is now: changing a role changes what every key holding it may do, and
// deleting it takes its permissions from them. Roles belong to the
// account, shared by its live and test keys, as its defined permissions
// are; their names are unique in the account. Keys name roles by id.
type KeyRole struct {
	ID          string // "role_…"
	AccountID   string
	Name        string
	Description string
	Permissions Permissions
	Created     time.Time
	Updated     time.Time
}

// Built-in permissions that manage an account's roles.
const (
	RoleRead  Permission = "role:read"
	RoleWrite Permission = "role:write"
)

// MaxRoles is how many roles one account may have.
const MaxRoles = 1000

// MaxKeyRoles is how many roles one key may hold.
const MaxKeyRoles = 50

// Audit actions of an account's roles: the target is the role's id, and
// the event belongs to no environment (live and test keys share roles).
const (
	ActionRoleCreated = "role.created"
	ActionRoleUpdated = "role.updated"
	ActionRoleDeleted = "role.deleted"
)

// NewRoleEvent returns the event of actor, at client address ip, doing
// action (ActionRole…) to role r at the time at.
func NewRoleEvent(action, actor, ip string, r *KeyRole, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID: NewID(PrefixEvent), AccountID: r.AccountID, Action: action, Actor: actor, Target: r.ID, IP: ip, Created: Timestamp(at),
	}
}

// RoleRequest is what a caller asks for when it creates a role.
type RoleRequest struct {
	Name        string
	Description string
	Permissions Permissions
	// Defined are the permissions, besides the built-in ones, that
	// Permissions may name (as KeyRequest.Defined).
	Defined []Permission
}

// NewKeyRole builds the role req asks for, in account accountID, created by
// key creator at now, after checking creator's right to (CheckRoleWriter)
// and the rule of no escalation: creator holds every permission of the
// role (EInsufficientPermissions with Required). Returns
// EParameterMissing or EParameterInvalid on "name", "description" or
// "permissions" for a field that is not valid.
func NewKeyRole(accountID string, req RoleRequest, creator *Key, now time.Time) (*KeyRole, error) {
	if err := CheckRoleWriter(creator); err != nil {
		return nil, err
	}
	if err := ValidateRoleName(req.Name); err != nil {
		return nil, err
	}
	if err := validateRoleDescription(req.Description); err != nil {
		return nil, err
	}
	perms, err := validateRolePermissions(req.Permissions, req.Defined)
	if err != nil {
		return nil, err
	}
	if err := checkGiven(creator, perms, nil, "put it in a role"); err != nil {
		return nil, err
	}
	now = Timestamp(now)
	return &KeyRole{
		ID: NewID(PrefixRole), AccountID: accountID, Name: req.Name, Description: req.Description,
		Permissions: perms, Created: now, Updated: now,
	}, nil
}

// ValidateRoleName checks a role's name: as a key's (1 to 100 characters,
// at least one visible, no control or bidirectional control). Returns
// EParameterMissing or EParameterInvalid on "name".
func ValidateRoleName(name string) error {
	if name == "" {
		return ParamErrorf(EParameterMissing, "name", "A role needs a name: give \"name\", 1 to 100 characters, such as \"support\".")
	}
	return checkName(name, "role")
}

func validateRoleDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxPermissionDescription {
		return ParamErrorf(EParameterInvalid, "description", "\"description\" is longer than %d characters.", MaxPermissionDescription)
	}
	return CheckText("description", "description", d)
}

func validateRolePermissions(ps Permissions, defined []Permission) (Permissions, error) {
	if ps == nil {
		return nil, ParamErrorf(EParameterMissing, "permissions", "Give \"permissions\": the role's non-empty list, such as [\"candidate:read\"].")
	}
	if len(ps) == 0 {
		return nil, ParamErrorf(EParameterInvalid, "permissions", "\"permissions\" is empty; a role needs at least one permission.")
	}
	if err := ps.ValidateIn(defined); err != nil {
		return nil, err
	}
	return ps.Normalize(), nil
}

// CheckRoleWriter applies the rule for who may create, change or delete
// roles: a live API key. A change of a role reaches every key holding it,
// live ones included, so a test key may not (a test key changes nothing
// live keys do); and an access token may not, as a role outlives it (as
// CheckPermissionWriter). Returns EInsufficientPermissions otherwise.
func CheckRoleWriter(k *Key) error {
	if k.Token != nil {
		return &Error{
			Code:     EInsufficientPermissions,
			Required: string(RoleWrite),
			Message:  "An access token cannot create, change or delete roles, which outlive it; use an API key with the \"role:write\" permission.",
		}
	}
	if k.Environment != Live {
		return &Error{
			Code:     EInsufficientPermissions,
			Required: string(RoleWrite),
			Message:  "Live and test keys share the account's roles, and a change of a role reaches every key holding it: create, change or delete roles with a live key.",
		}
	}
	return nil
}

// CheckRoleOwner applies the rule for a key (caller) that changes or
// deletes role r, as for revoking a key (CheckRevoke): it is a role
// writer, and holds every permission the role gives now, so that a key
// cannot take from other keys, or change, rights it does not have.
// Returns EInsufficientPermissions otherwise (Required: the first
// permission of the role it lacks).
func CheckRoleOwner(caller *Key, r *KeyRole, verb string) error {
	if err := CheckRoleWriter(caller); err != nil {
		return err
	}
	if p, _, ok := missing(caller.Rights(), r.Permissions, nil); ok {
		return &Error{
			Code:     EInsufficientPermissions,
			Required: string(p),
			Message:  fmt.Sprintf("The role %q gives %q, which this key does not hold, so this key cannot %s it. Use a key that holds every permission of the role.", r.Name, string(p), verb),
		}
	}
	return nil
}

// RoleChange is a change to a role (PATCH): each field given is changed.
type RoleChange struct {
	Name        *string
	Description *string
	Permissions Permissions // nil: unchanged
	// Defined are the permissions, besides the built-in ones, that
	// Permissions may name (as KeyRequest.Defined).
	Defined []Permission
}

// Fields names the fields c changes, in a fixed order: what the audit
// event of the change records.
func (c *RoleChange) Fields() []string {
	var out []string
	if c.Name != nil {
		out = append(out, "name")
	}
	if c.Description != nil {
		out = append(out, "description")
	}
	if c.Permissions != nil {
		out = append(out, "permissions")
	}
	return out
}

// Validate checks the change's own fields and normalises them. Returns
// EParameterMissing or EParameterInvalid with the field.
func (c *RoleChange) Validate() error {
	if len(c.Fields()) == 0 {
		return Errorf(EParameterMissing, "Give at least one field to change: name, description or permissions.")
	}
	if c.Name != nil {
		if *c.Name == "" {
			return ParamErrorf(EParameterInvalid, "name", "\"name\" is empty; give the role a name of 1 to 100 characters.")
		}
		if err := ValidateRoleName(*c.Name); err != nil {
			return err
		}
	}
	if c.Description != nil {
		if err := validateRoleDescription(*c.Description); err != nil {
			return err
		}
	}
	if c.Permissions != nil {
		ps, err := validateRolePermissions(c.Permissions, c.Defined)
		if err != nil {
			return err
		}
		c.Permissions = ps
	}
	return nil
}

// Apply makes the change c (validated) to r, as stored, by caller at now,
// after checking the caller's rights: over the role (CheckRoleOwner), and
// no escalation: every permission given is held by the caller
// (EInsufficientPermissions with Required).
func (c *RoleChange) Apply(caller *Key, r *KeyRole, now time.Time) error {
	if err := CheckRoleOwner(caller, r, "change"); err != nil {
		return err
	}
	if c.Permissions != nil {
		if err := checkGiven(caller, c.Permissions, nil, "put it in a role"); err != nil {
			return err
		}
		r.Permissions = slices.Clone(c.Permissions)
	}
	if c.Name != nil {
		r.Name = *c.Name
	}
	if c.Description != nil {
		r.Description = *c.Description
	}
	r.Updated = Timestamp(now)
	return nil
}

// RoleRights returns what a key with permissions own and roles (the
// permission lists of the roles it holds) may do: own, then each role's
// permissions that are not among them yet, in order.
func RoleRights(own Permissions, roles ...Permissions) Permissions {
	out := make(Permissions, 0, len(own))
	for _, ps := range append([]Permissions{own}, roles...) {
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// FindRoles returns the roles of account (all its roles, as
// RoleStore.Roles returns them) that ids name, each once, in the order
// given. Returns EParameterInvalid on "roles" for an id that is not one
// of the account's roles, or for more than MaxKeyRoles.
func FindRoles(ids []string, account []*KeyRole) ([]*KeyRole, error) {
	out := make([]*KeyRole, 0, len(ids))
	for _, id := range ids {
		i := slices.IndexFunc(account, func(r *KeyRole) bool { return r.ID == id })
		if i < 0 {
			return nil, ParamErrorf(EParameterInvalid, "roles",
				"%q is not a role of this account: give the ids of roles, such as \"role_…\"; GET /v1/roles lists them.", MaskSecrets(id))
		}
		if !slices.Contains(out, account[i]) {
			out = append(out, account[i])
		}
	}
	if len(out) > MaxKeyRoles {
		return nil, ParamErrorf(EParameterInvalid, "roles", "A key may hold at most %d roles; this one would hold %d.", MaxKeyRoles, len(out))
	}
	return out, nil
}

// RoleIDs returns the ids of roles.
func RoleIDs(roles []*KeyRole) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.ID
	}
	return out
}

// missing returns the first permission of perms, then of each of roles,
// that rights do not grant, with the role it comes from (nil for perms);
// ok is false if rights grant them all. It is the rule of no escalation,
// for every door that gives rights: keys, tokens, roles.
func missing(rights, perms Permissions, roles []*KeyRole) (p Permission, from *KeyRole, ok bool) {
	for _, p := range perms {
		if !rights.Grants(p) {
			return p, nil, true
		}
	}
	for _, r := range roles {
		for _, p := range r.Permissions {
			if !rights.Grants(p) {
				return p, r, true
			}
		}
	}
	return "", nil, false
}

// checkGiven applies the rule of no escalation to holder giving perms and
// roles: EInsufficientPermissions with Required, Param "permissions" or
// "roles", saying that holder cannot do what (such as "give it to
// another key") with a permission it lacks.
func checkGiven(holder *Key, perms Permissions, roles []*KeyRole, what string) error {
	p, from, ok := missing(holder.Rights(), perms, roles)
	if !ok {
		return nil
	}
	if from != nil {
		return &Error{
			Code: EInsufficientPermissions, Param: "roles", Required: string(p),
			Message: fmt.Sprintf("This key does not hold %q, which the role %q gives, so it cannot %s.", string(p), from.Name, what),
		}
	}
	return &Error{
		Code: EInsufficientPermissions, Param: "permissions", Required: string(p),
		Message: fmt.Sprintf("This key does not hold %q, so it cannot %s.", string(p), what),
	}
}

// RoleFilter selects a page of an account's roles, newest first.
type RoleFilter struct {
	AccountID string
	Page
}

// RoleUpdate is what RoleStore.UpdateRole changes.
type RoleUpdate struct {
	AccountID string
	ID        string
	// Apply checks and makes the change to the role as stored.
	Apply func(*KeyRole) error
	// Event, if not nil, is the audit event recorded for the role as
	// changed.
	Event func(*KeyRole) *AuditEvent
}

// RoleDeletion is what RoleStore.DeleteRole deletes.
type RoleDeletion struct {
	AccountID string
	ID        string
	At        time.Time
	// Force deletes the role even if keys hold it: they lose it.
	Force bool
	// Check, if not nil, may refuse the deletion of the role as stored.
	Check func(*KeyRole) error
	// Event, if not nil, is the audit event recorded for the role
	// deleted.
	Event func(*KeyRole) *AuditEvent
}

// RoleStore keeps the roles of accounts and which keys hold them. It is
// safe for concurrent use.
//
// A key's roles are stored with it: every read of a key returns its role
// ids (Key.Roles), in the order given, and CreateKey and UpdateKey store
// them, each of them checked, inside the transaction, to be a role of the
// key's account (EParameterInvalid on "roles" if not).
type RoleStore interface {
	// CreateRole stores r and the audit events given, in one
	// transaction. Returns ERoleExists (Param "name") if r's account has
	// a role of that name, and EParameterInvalid on "name" if it has
	// MaxRoles already.
	CreateRole(ctx context.Context, r *KeyRole, events ...*AuditEvent) error

	// Role returns role id of account accountID. Returns ENotFound if
	// there is none (deleted, or another account's).
	Role(ctx context.Context, accountID, id string) (*KeyRole, error)

	// Roles returns every role of account accountID, ordered by name:
	// what a key's rights are resolved against (the authenticator reads
	// it once for all the cached keys of an account).
	Roles(ctx context.Context, accountID string) ([]*KeyRole, error)

	// ListRoles returns a page of the account's roles, newest first, and
	// whether more follow, with the cursors of ListKeys (a deleted role's
	// id is still a valid cursor).
	ListRoles(ctx context.Context, f RoleFilter) ([]*KeyRole, bool, error)

	// UpdateRole changes a role in one transaction: it reads the role as
	// stored (FOR UPDATE where rows are locked), calls u.Apply with it,
	// which may refuse the change with an error that is returned, writes
	// its name, description, permissions and Updated, records u.Event's
	// audit event, and returns the role as changed. Returns ENotFound if
	// there is no such role, and ERoleExists if the new name is another
	// role's.
	UpdateRole(ctx context.Context, u RoleUpdate) (*KeyRole, error)

	// DeleteRole deletes a role in one transaction and returns it, with
	// the number of keys (unrevoked and unexpired) that held it. It
	// calls d.Check, if not nil, with the role as stored first. Unless
	// d.Force, it deletes nothing if that number is not 0 and returns
	// ERoleInUse with KeyCount set; with it, every key holding the role
	// loses it. Returns ENotFound if there is no such role.
	DeleteRole(ctx context.Context, d RoleDeletion) (*KeyRole, int, error)
}

// RoleInUse is the error of deleting, without force, role r that n keys
// hold.
func RoleInUse(r *KeyRole, n int) *Error {
	keys := "keys hold"
	if n == 1 {
		keys = "key holds"
	}
	return &Error{Code: ERoleInUse, KeyCount: n, Message: fmt.Sprintf(
		"%d %s the role %q: take it from them first (PATCH their roles), or delete it anyway with DELETE /v1/roles/%s?force=true; they then lose its permissions at once.",
		n, keys, r.Name, r.ID)}
}

// RoleExists is the error of a second role of the account named name.
func RoleExists(name string) *Error {
	return ParamErrorf(ERoleExists, "name", "This account has a role named %q already: give another name, or change that role.", name)
}

// TooManyRoles is the error of creating one more role in an account that
// has n, MaxRoles, already.
func TooManyRoles(n int) *Error {
	return ParamErrorf(EParameterInvalid, "name",
		"This account has %d roles, the most it may: delete some it no longer gives.", n)
}

// RoleNotFound is role id missing from the account.
func RoleNotFound(id string) *Error {
	return Errorf(ENotFound, "There is no role %q in this account.", MaskSecrets(id))
}
