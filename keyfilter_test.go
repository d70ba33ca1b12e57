package pihu_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// TestPermission_GrantedBy checks GrantedBy against Grants over every
// pair of permissions of the built-in universe and of an account's own
// (concrete, wildcard, with dots and dashes): a permission held alone
// grants want exactly when it is in want.GrantedBy(), so that the keys a
// list filtered by a permission shows are the keys admission lets
// through.
func TestPermission_GrantedBy(t *testing.T) {
	all := append(slices.Clone(universe),
		"billing:read", "billing:write", "billing:export", "billing:*",
		"billing.v2:read", "billing.v2:write", "billing.v2:*", "bill-ing:read", "a:b", "a:*")
	for _, want := range all {
		granting := want.GrantedBy()
		for _, held := range all {
			if got, in := (pihu.Permissions{held}).Grants(want), slices.Contains(granting, held); got != in {
				t.Errorf("[%s].Grants(%s) is %v, but GrantedBy(%s) = %q", held, want, got, want, granting)
			}
		}
	}
	for _, tt := range []struct {
		p    pihu.Permission
		want pihu.Permissions
	}{
		{"candidate:read", pihu.Permissions{"*", "candidate:read", "candidate:*", "candidate:write"}},
		{"candidate:write", pihu.Permissions{"*", "candidate:write", "candidate:*"}},
		{"candidate:*", pihu.Permissions{"*", "candidate:*"}},
		{"*", pihu.Permissions{"*"}},
	} {
		if got := tt.p.GrantedBy(); !slices.Equal(got, tt.want) {
			t.Errorf("GrantedBy(%s): got %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestKeyFilter_Validate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		f     pihu.KeyFilter
		param string // "" for valid
	}{
		{"Empty", pihu.KeyFilter{}, ""},
		{"All", pihu.KeyFilter{NamePrefix: "prod 100%_", Role: pihu.NewID(pihu.PrefixRole), Permission: "billing:*",
			Metadata: map[string]string{"plan": "pro", "a.b": ""}}, ""},
		{"NamePrefixTooLong", pihu.KeyFilter{NamePrefix: strings.Repeat("é", 101)}, "name_prefix"},
		{"NamePrefixControl", pihu.KeyFilter{NamePrefix: "a\nb"}, "name_prefix"},
		{"NamePrefixNotUTF8", pihu.KeyFilter{NamePrefix: "a\xffb"}, "name_prefix"},
		{"RoleNotAnID", pihu.KeyFilter{Role: "admin"}, "role"},
		{"RoleKeyID", pihu.KeyFilter{Role: pihu.NewID(pihu.PrefixKey)}, "role"},
		{"RolePrefixOnly", pihu.KeyFilter{Role: "role_"}, "role"},
		{"RoleLike", pihu.KeyFilter{Role: "role_%"}, "role"},
		{"PermissionMalformed", pihu.KeyFilter{Permission: "Candidate:Read"}, "permission"},
		{"PermissionNoAction", pihu.KeyFilter{Permission: "candidate"}, "permission"},
		{"MetadataEmptyName", pihu.KeyFilter{Metadata: map[string]string{"": "x"}}, "metadata[]"},
		{"MetadataValueTooLong", pihu.KeyFilter{Metadata: map[string]string{"plan": strings.Repeat("x", pihu.MaxMetadataBytes+1)}}, "metadata[plan]"},
		{"MetadataNotUTF8", pihu.KeyFilter{Metadata: map[string]string{"plan": "\xff"}}, "metadata[plan]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if tt.param == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var e *pihu.Error
			if !errors.As(err, &e) || e.Code != pihu.EParameterInvalid || e.Param != tt.param {
				t.Fatalf("got %v, want %s on %q", err, pihu.EParameterInvalid, tt.param)
			}
		})
	}
}
