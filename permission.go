package pihu

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Permission names one right, as "resource:action", or a wildcard: "*"
// (everything) or "resource:*" (every action on a resource).
type Permission string

// Catalogue is every concrete permission, in the order the docs list them.
var Catalogue = []Permission{
	"candidate:read", "candidate:write",
	"interview:read", "interview:write",
	"api_key:read", "api_key:write", "api_key:verify",
	"token:write",
	"webhook:read", "webhook:write",
	"permission:read", "permission:write",
	"role:read", "role:write",
	"identity:read", "identity:write",
	"account:read", "member:read",
}

// Wildcard is the permission that grants everything.
const Wildcard Permission = "*"

// Valid reports whether p is in the catalogue or is a wildcard over a known
// resource.
func (p Permission) Valid() bool {
	if p == Wildcard || slices.Contains(Catalogue, p) {
		return true
	}
	res, action, ok := strings.Cut(string(p), ":")
	if !ok || action != "*" {
		return false
	}
	for _, c := range Catalogue {
		if strings.HasPrefix(string(c), res+":") {
			return true
		}
	}
	return false
}

// Permissions is the set of rights a key holds.
type Permissions []Permission

// Validate returns EParameterInvalid on "permissions" naming the first
// permission that is not in the built-in catalogue (see ValidateIn for an
// account's own).
func (ps Permissions) Validate() error { return ps.ValidateIn(nil) }

func catalogueNames() []string {
	names := make([]string, len(Catalogue))
	for i, p := range Catalogue {
		names[i] = string(p)
	}
	return names
}

// Normalize returns ps without duplicates, in the order first given.
func (ps Permissions) Normalize() Permissions {
	out := make(Permissions, 0, len(ps))
	for _, p := range ps {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// Grants reports whether holding ps gives permission want.
//
// "*" grants everything; "res:*" grants every "res:…" permission and the
// wildcard "res:*" itself; "res:write" grants "res:read". A wildcard is only
// granted by an equal or wider wildcard, so that a key never hands out
// rights (including ones added to the catalogue later) it does not hold.
func (ps Permissions) Grants(want Permission) bool {
	res, action, _ := strings.Cut(string(want), ":")
	for _, p := range ps {
		switch {
		case p == Wildcard, p == want:
			return true
		case want == Wildcard:
			continue
		case string(p) == res+":*":
			return true
		case action == "read" && string(p) == res+":write":
			return true
		}
	}
	return false
}

// GrantedBy returns every permission that, held alone, grants p
// (Permissions{q}.Grants(p) for each q returned, and for no other q): "*",
// p itself, "res:*", and "res:write" for "res:read". Holding a list grants
// p exactly when the list holds one of them, since Grants looks at each
// permission held on its own. A store finds the keys holding p
// (KeyFilter.Permission) by matching their permissions, and their roles',
// against this list in the query that pages, so that the filter and
// admission cannot disagree: the candidates are kept only when Grants
// says so, and TestPermission_GrantedBy checks that none is missing.
func (p Permission) GrantedBy() Permissions {
	res, _, _ := strings.Cut(string(p), ":")
	candidates := Permissions{Wildcard, p, Permission(res + ":*"), Permission(res + ":write")}.Normalize()
	out := candidates[:0]
	for _, q := range candidates {
		if (Permissions{q}).Grants(p) {
			out = append(out, q)
		}
	}
	return out
}

// Strings returns ps as plain strings.
func (ps Permissions) Strings() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

// Built-in permissions that manage the catalogue of permissions an account
// defines (see DefinedPermission).
const (
	PermissionRead  Permission = "permission:read"
	PermissionWrite Permission = "permission:write"
)

// MaxPermissionName is the longest name a defined permission may have.
const MaxPermissionName = 100

// MaxPermissionDescription is the longest description, in characters, a
// defined permission may have.
const MaxPermissionDescription = 500

// Parts returns p's resource and action; ok is false unless p is
// well-formed: "*", or "resource:action" where each part is 1 to 50
// characters of lowercase letters, digits, "_", "-" and ".", starting with
// a letter, and action may be the wildcard "*".
func (p Permission) Parts() (resource, action string, ok bool) {
	if p == Wildcard {
		return "", "*", true
	}
	resource, action, ok = strings.Cut(string(p), ":")
	if !ok || !permissionPart(resource) || (action != "*" && !permissionPart(action)) {
		return "", "", false
	}
	return resource, action, true
}

// WellFormed reports whether p has the form of a permission (see Parts),
// whether or not any catalogue defines it.
func (p Permission) WellFormed() bool {
	_, _, ok := p.Parts()
	return ok
}

func permissionPart(s string) bool {
	if len(s) == 0 || len(s) > 50 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// BuiltIn reports whether p is a concrete permission of the built-in
// Catalogue.
func (p Permission) BuiltIn() bool { return slices.Contains(Catalogue, p) }

// builtInResource reports whether resource is one of the built-in
// catalogue's: those are pihu's own, and no account defines permissions
// on them.
func builtInResource(resource string) bool {
	for _, c := range Catalogue {
		if strings.HasPrefix(string(c), resource+":") {
			return true
		}
	}
	return false
}

// CheckFormat returns EParameterInvalid on param naming the first
// permission of ps that is not well-formed (see Permission.Parts). It is
// the check of a permission asked for rather than given (verify,
// forward-auth, a gateway's routes): a well-formed permission that no
// catalogue defines is simply not granted, unless a wildcard the key
// holds covers it. On one of pihu's own resources, whose permissions are
// all built in, a permission not built in is refused as well.
func (ps Permissions) CheckFormat(param string) error {
	for _, p := range ps {
		res, action, ok := p.Parts()
		if !ok {
			return ParamErrorf(EParameterInvalid, param,
				"%q is not a permission: a permission is \"resource:action\" (lowercase letters, digits, \"_\", \"-\" and \".\"), such as \"candidate:read\" or \"billing:read\", or a wildcard such as \"billing:*\" or \"*\".",
				string(p))
		}
		// pihu's own resources have the built-in permissions only (no
		// account defines more), so any other is a mistake, not a
		// permission nobody holds.
		if action != "*" && builtInResource(res) && !p.BuiltIn() {
			return ParamErrorf(EParameterInvalid, param,
				"%q is not a permission: %q is a resource of pihu's own, whose permissions are %s.",
				string(p), res, strings.Join(resourceNames(res), ", "))
		}
	}
	return nil
}

// resourceNames are the built-in permissions on resource res.
func resourceNames(res string) []string {
	var out []string
	for _, c := range Catalogue {
		if strings.HasPrefix(string(c), res+":") {
			out = append(out, string(c))
		}
	}
	return out
}

// maxNamesShown is how many defined permissions an error lists by name.
const maxNamesShown = 20

// ValidateIn is Validate for an account that may also give the
// permissions defined, its own and the server-wide ones (see
// DefinedPermission): each permission of ps must be built-in or defined,
// and a wildcard "res:*" must name a resource of either. Returns
// EParameterInvalid on "permissions" naming the first that is not, and
// saying how to define it.
func (ps Permissions) ValidateIn(defined []Permission) error {
	for _, p := range ps {
		if p.Valid() || slices.Contains(defined, p) {
			continue
		}
		res, action, ok := p.Parts()
		if ok && action == "*" && slices.ContainsFunc(defined, func(d Permission) bool {
			return strings.HasPrefix(string(d), res+":")
		}) {
			continue
		}
		names := catalogueNames()
		for i, d := range defined {
			if i == maxNamesShown {
				names = append(names, fmt.Sprintf("and %d more of the account's (GET /v1/permissions lists them)", len(defined)-i))
				break
			}
			names = append(names, string(d))
		}
		return ParamErrorf(EParameterInvalid, "permissions",
			"%q is not a permission. Known permissions: %s, or a wildcard such as \"candidate:*\" or \"*\". Define your own \"resource:action\" permissions with POST /v1/permissions.",
			string(p), strings.Join(names, ", "))
	}
	return nil
}

// DefinedPermission is a permission that is not built in: an account's
// own, for the services behind its gateway, or the operator's, offered to
// every account (server-wide). Keys, tokens, verify and forward-auth treat
// it as a built-in one: wildcards cover it and "res:write" grants
// "res:read".
type DefinedPermission struct {
	Name        Permission
	Description string
	// AccountID is the account that defined it; "" for a server-wide
	// permission.
	AccountID string
	Created   time.Time
}

// Source is where p comes from, as the API shows it: "account" or
// "server".
func (p *DefinedPermission) Source() string {
	if p.AccountID == "" {
		return PermissionSourceServer
	}
	return PermissionSourceAccount
}

// Where a permission of the list of GET /v1/permissions comes from.
const (
	PermissionSourceBuiltIn = "built_in"
	PermissionSourceServer  = "server"
	PermissionSourceAccount = "account"
)

// NewDefinedPermission returns the permission name, described by
// description, defined by account accountID ("" for the operator's
// server-wide one) at now. Returns EParameterMissing or EParameterInvalid
// on "name" or "description": the name must be a well-formed concrete
// "resource:action" (no wildcard), on a resource that is not one of
// pihu's own (built-in permissions cannot be shadowed).
func NewDefinedPermission(accountID string, name Permission, description string, now time.Time) (*DefinedPermission, error) {
	if err := ValidatePermissionName(name); err != nil {
		return nil, err
	}
	if err := validateDescription(description); err != nil {
		return nil, err
	}
	return &DefinedPermission{Name: name, Description: description, AccountID: accountID, Created: Timestamp(now)}, nil
}

// ValidatePermissionName checks the name of a permission to define (see
// NewDefinedPermission).
func ValidatePermissionName(name Permission) error {
	if name == "" {
		return ParamErrorf(EParameterMissing, "name", "Give \"name\": the permission as \"resource:action\", such as \"billing:read\".")
	}
	res, action, ok := name.Parts()
	if !ok || len(name) > MaxPermissionName {
		return ParamErrorf(EParameterInvalid, "name",
			"%q is not a permission name: give \"resource:action\", each part 1 to 50 lowercase letters, digits, \"_\", \"-\" or \".\", starting with a letter, such as \"billing:read\".", string(name))
	}
	if action == "*" || name == Wildcard {
		return ParamErrorf(EParameterInvalid, "name",
			"%q is a wildcard: define concrete permissions such as \"%s:read\"; keys may then hold \"%s:*\".", string(name), res, res)
	}
	if builtInResource(res) {
		return ParamErrorf(EParameterInvalid, "name",
			"%q is a resource of pihu's own, whose permissions are built in (%s): define permissions on your own resources, such as \"billing:read\".", res, strings.Join(catalogueNames(), ", "))
	}
	return nil
}

func validateDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxPermissionDescription {
		return ParamErrorf(EParameterInvalid, "description", "\"description\" is longer than %d characters.", MaxPermissionDescription)
	}
	for _, r := range d {
		if unicode.IsControl(r) {
			return ParamErrorf(EParameterInvalid, "description", "\"description\" contains a control character; give plain text on one line.")
		}
	}
	return nil
}

// PermissionNames returns the names of ps.
func PermissionNames(ps []*DefinedPermission) []Permission {
	out := make([]Permission, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// PermissionStore keeps the permissions accounts and the operator define.
// Its reads are made when keys and tokens are created or changed, and by
// the endpoints that manage the catalogue, never to check a request: a
// key's own list of permissions is all a request is checked against. It
// is safe for concurrent use.
type PermissionStore interface {
	// DefinePermission stores p, and the audit events given, in one
	// transaction. Returns EPermissionExists if p's
	// account (or, for a server-wide p, the server) defines that name
	// already, or if p is an account's and a server-wide permission has
	// that name.
	DefinePermission(ctx context.Context, p *DefinedPermission, events ...*AuditEvent) error

	// DefinedPermissions returns the permissions account accountID may
	// give: its own and the server-wide ones, ordered by name, the
	// server-wide first where both define a name. accountID "" returns
	// the server-wide ones only.
	DefinedPermissions(ctx context.Context, accountID string) ([]*DefinedPermission, error)

	// DeletePermission deletes the permission name that account
	// accountID defines ("" for a server-wide one), recording the audit
	// events given in the same transaction, and returns it, with
	// the number of keys that still hold it (unrevoked keys of the
	// account, or of every account for a server-wide one, whose
	// permissions, or one of whose roles' permissions, name it exactly). Unless force, it deletes nothing if
	// that number is not 0, and returns EPermissionInUse with KeyCount
	// set. Keys that hold a permission deleted by force keep it until
	// changed. Returns ENotFound if there is no such permission.
	DeletePermission(ctx context.Context, accountID string, name Permission, force bool, events ...*AuditEvent) (*DefinedPermission, int, error)
}

// PermissionInUse is the error of deleting, without force, a permission
// that n keys hold.
func PermissionInUse(name Permission, n int, server bool) *Error {
	keys := "keys hold"
	if n == 1 {
		keys = "key holds"
	}
	how := "DELETE /v1/permissions/" + string(name) + "?force=true"
	if server {
		how = "pihu permissions delete --server --force " + string(name)
	}
	return &Error{Code: EPermissionInUse, KeyCount: n, Message: fmt.Sprintf(
		"%d %s %q: take it from them first (PATCH their permissions), or delete it anyway with %s; keys that hold it keep it until changed.",
		n, keys, string(name), how)}
}

// PermissionExists is the error of defining a permission that existing
// names already: the account's own, or a server-wide one (existing's
// AccountID is ""). server says whether the operator defines it, for the
// whole server, rather than an account.
func PermissionExists(existing *DefinedPermission, server bool) *Error {
	where := "This account defines"
	if server {
		where = "The server defines"
	}
	if existing.AccountID == "" {
		return ParamErrorf(EPermissionExists, "name", "%s %q already (a server-wide permission, offered to every account).", where, string(existing.Name))
	}
	return ParamErrorf(EPermissionExists, "name", "%s %q already.", where, string(existing.Name))
}

// TooManyPermissions is the error of defining one more permission in an
// account that defines n, MaxDefinedPermissions, already.
func TooManyPermissions(n int) *Error {
	return ParamErrorf(EParameterInvalid, "name",
		"This account defines %d permissions, the most it may: delete some it no longer gives, or use wildcards such as \"billing:*\".", n)
}

// PermissionNotFound is permission name, to delete, missing from the
// account (or from the server's).
func PermissionNotFound(name Permission) *Error {
	return Errorf(ENotFound, "There is no permission %q to delete.", MaskSecrets(string(name)))
}

// builtInDescriptions say what each built-in permission allows.
var builtInDescriptions = map[Permission]string{
	"candidate:read":   "Read candidates.",
	"candidate:write":  "Create and delete candidates (and read them).",
	"interview:read":   "Read interviews.",
	"interview:write":  "Schedule and delete interviews (and read them).",
	"api_key:read":     "List API keys, their usage and the audit log.",
	"api_key:write":    "Create, change, rotate and revoke API keys (and read them).",
	"api_key:verify":   "Verify other keys: POST /v1/auth/verify.",
	"token:write":      "Mint short-lived access tokens.",
	"webhook:read":     "Read webhook endpoints and their deliveries.",
	"webhook:write":    "Create, change and delete webhook endpoints (and read them).",
	"permission:read":  "List the permissions the account defines.",
	"permission:write": "Define and delete the account's own permissions (and read them).",
	"role:read":        "List the account's roles.",
	"role:write":       "Create, change and delete the account's roles (and read them).",
	"identity:read":    "List identities (the customer's users or organisations keys are made for).",
	"identity:write":   "Create, change and delete identities (and read them).",
}

// BuiltInDescription says what built-in permission p allows; "" for
// any other.
func BuiltInDescription(p Permission) string { return builtInDescriptions[p] }

// MaxDefinedPermissions is how many permissions one account may define:
// the list of GET /v1/permissions is one page.
const MaxDefinedPermissions = 1000

// Audit actions of an account's own permissions: the target is the
// permission's name, and the event belongs to no environment (live and
// test keys share the catalogue).
const (
	ActionPermissionCreated = "permission.created"
	ActionPermissionDeleted = "permission.deleted"
)

// NewPermissionEvent returns the event of actor, at client address ip,
// doing action (ActionPermission…) to account accountID's permission
// name at the time at.
func NewPermissionEvent(action, actor, ip, accountID string, name Permission, at time.Time) *AuditEvent {
	return &AuditEvent{
		ID: NewID(PrefixEvent), AccountID: accountID, Action: action, Actor: actor, Target: string(name), IP: ip, Created: Timestamp(at),
	}
}

// CheckPermissionWriter applies the rule for who may define or delete an
// account's permissions: an API key, not an access token, which must
// leave nothing behind that outlives it (as CheckWebhookWriter). Returns
// EInsufficientPermissions for a key that authenticated with a token.
func CheckPermissionWriter(k *Key) error {
	if k.Token == nil {
		return nil
	}
	return &Error{
		Code:    EInsufficientPermissions,
		Message: "An access token cannot define or delete permissions, which outlive it; use an API key with the \"permission:write\" permission.",
	}
}
