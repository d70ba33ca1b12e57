package pihu_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func roleOf(id, name string, perms ...pihu.Permission) *pihu.KeyRole {
	return &pihu.KeyRole{ID: id, AccountID: "acct_1", Name: name, Permissions: perms}
}

func TestKey_Rights(t *testing.T) {
	support := roleOf("role_support", "support", "candidate:read", "interview:read")
	writer := roleOf("role_writer", "writer", "interview:write", "candidate:read")
	k := &pihu.Key{Permissions: pihu.Permissions{"webhook:read"}, Roles: []string{"role_writer", "role_support", "role_deleted"}}
	if got := k.Rights(); !slices.Equal(got, k.Permissions) {
		t.Errorf("unresolved: got %v, want its own permissions", got)
	}
	k.ResolveRoles([]*pihu.KeyRole{support, writer})
	want := pihu.Permissions{"webhook:read", "interview:write", "candidate:read", "interview:read"}
	if got := k.Rights(); !slices.Equal(got, want) {
		t.Errorf("resolved: got %v, want %v", got, want)
	}
	k.ResolveRoles(nil)
	if got := k.Rights(); !slices.Equal(got, k.Permissions) {
		t.Errorf("every role deleted: got %v, want its own permissions", got)
	}
}

func TestCheckGrant_Roles(t *testing.T) {
	creator := &pihu.Key{ID: "key_c", Environment: pihu.Live, Permissions: pihu.Permissions{"candidate:*"}, Roles: []string{"role_i"}}
	creator.ResolveRoles([]*pihu.KeyRole{roleOf("role_i", "interviews", "interview:write")})
	for _, tt := range []struct {
		name     string
		perms    pihu.Permissions
		roles    []*pihu.KeyRole
		required string
		param    string
	}{
		{"OwnAndRoleRights", pihu.Permissions{"candidate:write", "interview:read"}, nil, "", ""},
		{"RoleWithinRights", nil, []*pihu.KeyRole{roleOf("role_x", "x", "candidate:read", "interview:write")}, "", ""},
		{"PermissionBeyond", pihu.Permissions{"webhook:read"}, nil, "webhook:read", "permissions"},
		{"RoleBeyond", nil, []*pihu.KeyRole{roleOf("role_x", "x", "candidate:read", "webhook:read")}, "webhook:read", "roles"},
		{"RoleWildcardBeyond", nil, []*pihu.KeyRole{roleOf("role_x", "x", "interview:*")}, "interview:*", "roles"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := pihu.CheckGrant(creator, tt.perms, pihu.Live, nil, tt.roles...)
			if tt.required == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			e, ok := err.(*pihu.Error)
			if !ok || e.Code != pihu.EInsufficientPermissions || e.Required != tt.required || e.Param != tt.param {
				t.Errorf("got %#v, want %s on %s requiring %s", err, pihu.EInsufficientPermissions, tt.param, tt.required)
			}
		})
	}
}

func TestNewKeyRole(t *testing.T) {
	now := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	owner := &pihu.Key{ID: "key_o", Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
	narrow := &pihu.Key{ID: "key_n", Environment: pihu.Live, Permissions: pihu.Permissions{"role:write", "candidate:read"}}
	testKey := &pihu.Key{ID: "key_t", Environment: pihu.Test, Permissions: pihu.Permissions{"*"}}
	token := &pihu.Key{ID: "key_o", Environment: pihu.Live, Permissions: pihu.Permissions{"*"}, Token: &pihu.AccessToken{}}
	for _, tt := range []struct {
		name    string
		creator *pihu.Key
		req     pihu.RoleRequest
		code    string
		param   string
	}{
		{"OK", owner, pihu.RoleRequest{Name: "support", Permissions: pihu.Permissions{"candidate:read"}}, "", ""},
		{"Defined", owner, pihu.RoleRequest{Name: "billing", Permissions: pihu.Permissions{"billing:read"}, Defined: []pihu.Permission{"billing:read"}}, "", ""},
		{"NoName", owner, pihu.RoleRequest{Permissions: pihu.Permissions{"candidate:read"}}, pihu.EParameterMissing, "name"},
		{"InvisibleName", owner, pihu.RoleRequest{Name: "\u200b", Permissions: pihu.Permissions{"candidate:read"}}, pihu.EParameterInvalid, "name"},
		{"BidiInDescription", owner, pihu.RoleRequest{Name: "x", Description: "a\u202eb", Permissions: pihu.Permissions{"candidate:read"}}, pihu.EParameterInvalid, "description"},
		{"NoPermissions", owner, pihu.RoleRequest{Name: "x"}, pihu.EParameterMissing, "permissions"},
		{"Undefined", owner, pihu.RoleRequest{Name: "x", Permissions: pihu.Permissions{"billing:read"}}, pihu.EParameterInvalid, "permissions"},
		{"Escalation", narrow, pihu.RoleRequest{Name: "x", Permissions: pihu.Permissions{"candidate:write"}}, pihu.EInsufficientPermissions, "permissions"},
		{"TestKey", testKey, pihu.RoleRequest{Name: "x", Permissions: pihu.Permissions{"candidate:read"}}, pihu.EInsufficientPermissions, ""},
		{"Token", token, pihu.RoleRequest{Name: "x", Permissions: pihu.Permissions{"candidate:read"}}, pihu.EInsufficientPermissions, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := pihu.NewKeyRole("acct_1", tt.req, tt.creator, now)
			if tt.code == "" {
				if err != nil || r.Name != tt.req.Name || !r.Created.Equal(now) || len(r.ID) != len(pihu.PrefixRole)+pihu.IDLength {
					t.Errorf("got %+v, %v", r, err)
				}
				return
			}
			if e, ok := err.(*pihu.Error); !ok || e.Code != tt.code || e.Param != tt.param {
				t.Errorf("got %#v, want %s on %q", err, tt.code, tt.param)
			}
		})
	}
}

func TestRoleChange_Apply(t *testing.T) {
	now := time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC)
	caller := &pihu.Key{ID: "key_c", Environment: pihu.Live, Permissions: pihu.Permissions{"role:write", "candidate:*"}}
	mine := func() *pihu.KeyRole { return roleOf("role_m", "mine", "candidate:read") }
	bigger := func() *pihu.KeyRole { return roleOf("role_b", "bigger", "candidate:read", "interview:read") }
	name := "renamed"
	for _, tt := range []struct {
		name     string
		role     *pihu.KeyRole
		change   pihu.RoleChange
		required string
	}{
		{"Rename", mine(), pihu.RoleChange{Name: &name}, ""},
		{"WithinRights", mine(), pihu.RoleChange{Permissions: pihu.Permissions{"candidate:write"}}, ""},
		{"GivesMore", mine(), pihu.RoleChange{Permissions: pihu.Permissions{"interview:read"}}, "interview:read"},
		// A role giving more than the caller holds is not the caller's to
		// change, even to narrow it.
		{"RoleBeyondCaller", bigger(), pihu.RoleChange{Permissions: pihu.Permissions{"candidate:read"}}, "interview:read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.change.Validate(); err != nil {
				t.Fatal(err)
			}
			before := *tt.role
			err := tt.change.Apply(caller, tt.role, now)
			if tt.required == "" {
				if err != nil || !tt.role.Updated.Equal(now) {
					t.Errorf("got %v, role %+v", err, tt.role)
				}
				return
			}
			if e, ok := err.(*pihu.Error); !ok || e.Code != pihu.EInsufficientPermissions || e.Required != tt.required {
				t.Errorf("got %#v, want %s requiring %s", err, pihu.EInsufficientPermissions, tt.required)
			}
			if !slices.Equal(tt.role.Permissions, before.Permissions) || tt.role.Name != before.Name {
				t.Errorf("a refused change changed the role: %+v", tt.role)
			}
		})
	}
	if err := pihu.CheckRoleOwner(caller, bigger(), "delete"); pihu.ErrorCode(err) != pihu.EInsufficientPermissions {
		t.Errorf("deleting a role beyond the caller: got %v", err)
	}
}

func TestFindRoles(t *testing.T) {
	account := []*pihu.KeyRole{roleOf("role_a", "a"), roleOf("role_b", "b")}
	got, err := pihu.FindRoles([]string{"role_b", "role_a", "role_b"}, account)
	if err != nil || !slices.Equal(pihu.RoleIDs(got), []string{"role_b", "role_a"}) {
		t.Errorf("got %v, %v; want [role_b role_a]", pihu.RoleIDs(got), err)
	}
	if _, err := pihu.FindRoles([]string{"role_c"}, account); pihu.ErrorCode(err) != pihu.EParameterInvalid {
		t.Errorf("unknown: got %v", err)
	}
	var many []*pihu.KeyRole
	var ids []string
	for i := range pihu.MaxKeyRoles + 1 {
		id := pihu.NewID(pihu.PrefixRole)
		many, ids = append(many, roleOf(id, string(rune('a'+i)))), append(ids, id)
	}
	if _, err := pihu.FindRoles(ids, many); pihu.ErrorCode(err) != pihu.EParameterInvalid {
		t.Errorf("%d roles: got %v, want %s", len(ids), err, pihu.EParameterInvalid)
	}
}
