package pihu_test

import (
	"testing"

	"github.com/pihu-ai/pihu"
)

// TestCheckRoleChange: nobody grants a role above their own nor changes a
// member above them, only owners and admins change roles, and the last
// owner stays one.
func TestCheckRoleChange(t *testing.T) {
	const (
		owner, admin, viewer = pihu.RoleOwner, pihu.RoleAdmin, pihu.RoleViewer
	)
	for _, tt := range []struct {
		name            string
		actor, from, to pihu.Role
		owners          int
		code            string
	}{
		{"OwnerPromotes", owner, viewer, owner, 1, ""},
		{"OwnerDemotesOwner", owner, owner, viewer, 2, ""},
		{"OwnerStepsDownAlone", owner, owner, admin, 1, pihu.EParameterInvalid},
		{"AdminPromotes", admin, viewer, admin, 1, ""},
		{"AdminDemotesAdmin", admin, admin, viewer, 1, ""},
		{"AdminGrantsOwner", admin, viewer, owner, 1, pihu.EInsufficientPermissions},
		{"AdminDemotesOwner", admin, owner, admin, 2, pihu.EInsufficientPermissions},
		{"Viewer", viewer, viewer, viewer, 1, pihu.EInsufficientPermissions},
		{"NoSuchRole", owner, viewer, pihu.Role("root"), 1, pihu.EParameterInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pihu.ErrorCode(pihu.CheckRoleChange(tt.actor, tt.from, tt.to, tt.owners)); got != tt.code {
				t.Errorf("got %q, want %q", got, tt.code)
			}
		})
	}
}

// TestCheckPasswordReset: owners and admins reset passwords, only owners
// an owner's; a member with no password yet, or who belongs to other
// accounts too, has none reset.
func TestCheckPasswordReset(t *testing.T) {
	const (
		owner, admin, viewer = pihu.RoleOwner, pihu.RoleAdmin, pihu.RoleViewer
	)
	for _, tt := range []struct {
		name          string
		actor, target pihu.Role
		set           bool
		elsewhere     int
		code          string
	}{
		{"OwnerResetsOwner", owner, owner, true, 0, ""},
		{"AdminResetsViewer", admin, viewer, true, 0, ""},
		{"AdminResetsAdmin", admin, admin, true, 0, ""},
		{"AdminResetsOwner", admin, owner, true, 0, pihu.EInsufficientPermissions},
		{"Viewer", viewer, viewer, true, 0, pihu.EInsufficientPermissions},
		{"NoPasswordYet", owner, owner, false, 0, pihu.EParameterInvalid},
		{"MemberElsewhere", owner, viewer, true, 1, pihu.EInsufficientPermissions},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pihu.ErrorCode(pihu.CheckPasswordReset(tt.actor, tt.target, tt.set, tt.elsewhere)); got != tt.code {
				t.Errorf("got %q, want %q", got, tt.code)
			}
		})
	}
}
