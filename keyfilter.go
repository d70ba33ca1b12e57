package pihu

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Validate checks the filters of f that a caller gives (NamePrefix, Role,
// Permission, Metadata), and returns EParameterInvalid naming the query
// parameter of GET /v1/auth/api-keys that is wrong: "name_prefix",
// "role", "permission" or "metadata[NAME]". Every store's ListKeys calls
// it, so that each door (the API, the dashboard) refuses the same values
// with the same words.
func (f *KeyFilter) Validate() error {
	if p := f.NamePrefix; p != "" {
		if n := utf8.RuneCountInString(p); n > 100 || !utf8.ValidString(p) {
			return ParamErrorf(EParameterInvalid, "name_prefix", "\"name_prefix\" must be 1 to 100 characters of text, as a key's name is.")
		}
		if err := CheckText("name_prefix", "name prefix", p); err != nil {
			return err
		}
	}
	if id := f.Role; id != "" && !wellFormedID(PrefixRole, id) {
		return ParamErrorf(EParameterInvalid, "role", "%q is not a role id: give the id of a role, such as \"role_…\"; GET /v1/roles lists them.", MaskSecrets(id))
	}
	if p := f.Permission; p != "" && !p.WellFormed() {
		return ParamErrorf(EParameterInvalid, "permission", "%q is not a permission: give one such as \"candidate:read\", \"candidate:*\" or \"*\".", MaskSecrets(string(p)))
	}
	if len(f.Metadata) > MaxMetadataMembers {
		return ParamErrorf(EParameterInvalid, "metadata", "%d metadata filters are given; at most %d are allowed.", len(f.Metadata), MaxMetadataMembers)
	}
	for _, name := range slices.Sorted(maps.Keys(f.Metadata)) {
		param := "metadata[" + name + "]"
		if name == "" || len(name) > MaxMetadataBytes || !utf8.ValidString(name) {
			return ParamErrorf(EParameterInvalid, MaskSecrets(param), "A metadata filter is written metadata[NAME]=VALUE, NAME a member of the keys' metadata (1 to %d bytes of text).", MaxMetadataBytes)
		}
		if v := f.Metadata[name]; len(v) > MaxMetadataBytes || !utf8.ValidString(v) {
			return ParamErrorf(EParameterInvalid, MaskSecrets(param), "The value of %q must be at most %d bytes of text.", MaskSecrets(param), MaxMetadataBytes)
		}
	}
	return nil
}

// wellFormedID reports whether id has the form of an id NewID(prefix)
// makes: the prefix, then base62 characters (at most 64 in all, so that a
// filter is never a long string to look for).
func wellFormedID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !isBase62(rest[i]) {
			return false
		}
	}
	return true
}
