package pihu

import (
	"slices"
	"strings"
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
// permission that is not in the catalogue.
func (ps Permissions) Validate() error {
	for _, p := range ps {
		if !p.Valid() {
			return ParamErrorf(EParameterInvalid, "permissions",
				"%q is not a permission. Known permissions: %s, or a wildcard such as \"candidate:*\" or \"*\".",
				string(p), strings.Join(catalogueNames(), ", "))
		}
	}
	return nil
}

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

// Strings returns ps as plain strings.
func (ps Permissions) Strings() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
