package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runRoles(t *testing.T, run runFunc) {
	run(t, "CreateAndGet", testRolesCreateAndGet)
	run(t, "NameUniquePerAccount", testRolesNameUnique)
	run(t, "ListPagination", testRolesListPagination)
	run(t, "KeyRolesRoundTrip", testRolesKeyRolesRoundTrip)
	run(t, "KeyRolesMustBeTheAccounts", testRolesKeyRolesMustBeTheAccounts)
	run(t, "UpdateKeyRoles", testRolesUpdateKeyRoles)
	run(t, "Update", testRolesUpdate)
	run(t, "DeleteUnused", testRolesDeleteUnused)
	run(t, "DeleteInUse", testRolesDeleteInUse)
	run(t, "RevokeCheckSeesRoleRights", testRolesRevokeCheckSeesRights)
	run(t, "RotationKeepsRoles", testRolesRotationKeepsRoles)
	run(t, "Events", testRolesEvents)
	run(t, "PermissionInUseThroughRole", testRolesPermissionInUse)
	run(t, "AtMostMaxRoles", testRolesAtMostMaxRoles)
}

// mustRole stores a role of owner's account, made by owner, its owner key.
func mustRole(tb testing.TB, s pihu.Store, owner *pihu.Key, name string, perms ...pihu.Permission) *pihu.KeyRole {
	tb.Helper()
	r, err := pihu.NewKeyRole(owner.AccountID, pihu.RoleRequest{Name: name, Permissions: perms, Defined: []pihu.Permission{"billing:read", "billing:write"}}, owner, epoch)
	if err != nil {
		tb.Fatalf("NewKeyRole: %v", err)
	}
	if err := s.CreateRole(tb.Context(), r); err != nil {
		tb.Fatalf("CreateRole(%s): %v", name, err)
	}
	return r
}

// roleKey returns a key made by owner with permissions perms and roles,
// which must be roles of owner's account.
func roleKey(tb testing.TB, s pihu.Store, owner *pihu.Key, name string, perms pihu.Permissions, roles ...*pihu.KeyRole) *pihu.Key {
	tb.Helper()
	account, err := s.Roles(tb.Context(), owner.AccountID)
	if err != nil {
		tb.Fatal(err)
	}
	return childKey(tb, owner, pihu.KeyRequest{Name: name, Permissions: perms, Roles: pihu.RoleIDs(roles), AccountRoles: account}, epoch)
}

func checkRole(tb testing.TB, got, want *pihu.KeyRole) {
	tb.Helper()
	if got.ID != want.ID || got.AccountID != want.AccountID || got.Name != want.Name || got.Description != want.Description ||
		!slices.Equal(got.Permissions, want.Permissions) || !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) ||
		got.Created.Location() != time.UTC {
		tb.Errorf("role: got %+v, want %+v", got, want)
	}
}

func roleNames(roles []*pihu.KeyRole) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.Name
	}
	return out
}

// testRolesCreateAndGet checks that a role comes back as stored, by id
// and in the account's list ordered by name, and that another account's
// is not found.
func testRolesCreateAndGet(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	support := mustRole(t, s, owner, "support", "candidate:read", "billing:read")
	support.Description = ""
	admin := mustRole(t, s, owner, "admin", "*")
	mustRole(t, s, other, "support", "candidate:read")

	got, err := s.Role(t.Context(), a.ID, support.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkRole(t, got, support)
	roles, err := s.Roles(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 2 {
		t.Fatalf("Roles: got %v, want admin and support", roleNames(roles))
	}
	checkRole(t, roles[0], admin)
	checkRole(t, roles[1], support)
	if _, err := s.Role(t.Context(), other.AccountID, support.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("another account's role: got %v, want %s", err, pihu.ENotFound)
	}
}

// testRolesNameUnique checks that an account has one role of a name, that
// another account may have one of the same name, and that a deleted
// role's name is free again.
func testRolesNameUnique(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	first := mustRole(t, s, owner, "support", "candidate:read")
	again, _ := pihu.NewKeyRole(a.ID, pihu.RoleRequest{Name: "support", Permissions: pihu.Permissions{"interview:read"}}, owner, epoch)
	checkError(t, s.CreateRole(t.Context(), again), pihu.ERoleExists, "name")
	mustRole(t, s, other, "support", "candidate:read")
	if _, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: first.ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRole(t.Context(), again); err != nil {
		t.Errorf("the name of a deleted role: got %v, want it free", err)
	}
}

// testRolesListPagination checks that roles page newest first, that a
// deleted role's id is still a cursor, and that an unknown one is
// EParameterInvalid.
func testRolesListPagination(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var roles []*pihu.KeyRole
	for _, name := range []string{"r1", "r2", "r3", "r4"} {
		roles = append(roles, mustRole(t, s, owner, name, "candidate:read"))
	}
	page, more, err := s.ListRoles(t.Context(), pihu.RoleFilter{AccountID: a.ID, Page: pihu.Page{Limit: 2}})
	if err != nil || !more || !slices.Equal(roleNames(page), []string{"r4", "r3"}) {
		t.Fatalf("first page: got %v, %v, %v; want [r4 r3], more", roleNames(page), more, err)
	}
	if _, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: roles[2].ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	page, more, err = s.ListRoles(t.Context(), pihu.RoleFilter{AccountID: a.ID, Page: pihu.Page{Limit: 2, StartingAfter: roles[2].ID}})
	if err != nil || more || !slices.Equal(roleNames(page), []string{"r2", "r1"}) {
		t.Errorf("after the deleted r3: got %v, %v, %v; want [r2 r1], no more", roleNames(page), more, err)
	}
	page, _, err = s.ListRoles(t.Context(), pihu.RoleFilter{AccountID: a.ID, Page: pihu.Page{Limit: 10, EndingBefore: roles[0].ID}})
	if err != nil || !slices.Equal(roleNames(page), []string{"r4", "r2"}) {
		t.Errorf("ending before r1: got %v, %v; want [r4 r2]", roleNames(page), err)
	}
	_, _, err = s.ListRoles(t.Context(), pihu.RoleFilter{AccountID: a.ID, Page: pihu.Page{StartingAfter: pihu.NewID(pihu.PrefixRole)}})
	checkError(t, err, pihu.EParameterInvalid, "starting_after")
}

// testRolesKeyRolesRoundTrip checks that every read of a key gives its
// roles in the order given, and that Key resolves its rights.
func testRolesKeyRolesRoundTrip(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	support := mustRole(t, s, owner, "support", "candidate:read", "billing:read")
	writer := mustRole(t, s, owner, "writer", "interview:write")
	k := roleKey(t, s, owner, "K", pihu.Permissions{"candidate:read"}, writer, support)
	mustCreateKey(t, s, k)
	plain := childKey(t, owner, readKey("Plain"), epoch)
	mustCreateKey(t, s, plain)

	byDigest, err := s.KeyByDigest(t.Context(), k.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, byDigest, k)
	got, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkKey(t, got, k)
	want := pihu.Permissions{"candidate:read", "interview:write", "billing:read"}
	if !slices.Equal(got.Rights(), want) {
		t.Errorf("Key: Rights: got %v, want %v", got.Rights(), want)
	}
	keys, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 10})
	for _, l := range keys {
		switch l.ID {
		case k.ID:
			checkKey(t, l, k)
		case plain.ID:
			if len(l.Roles) != 0 {
				t.Errorf("a key without roles: got %v", l.Roles)
			}
		}
	}
}

// testRolesKeyRolesMustBeTheAccounts checks that a key is stored only
// with roles of its own account that are not deleted: EParameterInvalid
// on "roles" otherwise, and nothing stored.
func testRolesKeyRolesMustBeTheAccounts(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	mine := mustRole(t, s, owner, "mine", "candidate:read")
	theirs := mustRole(t, s, other, "theirs", "candidate:read")
	gone := mustRole(t, s, owner, "gone", "candidate:read")
	k := roleKey(t, s, owner, "K", nil, mine, gone)
	if _, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: gone.ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	checkError(t, s.CreateKey(t.Context(), k), pihu.EParameterInvalid, "roles")
	k.Roles = []string{mine.ID, theirs.ID}
	checkError(t, s.CreateKey(t.Context(), k), pihu.EParameterInvalid, "roles")
	if _, err := s.Key(t.Context(), a.ID, k.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("a key refused for its roles: got %v, want it not stored", err)
	}
	k.Roles = []string{mine.ID}
	mustCreateKey(t, s, k)
}

// testRolesUpdateKeyRoles checks that UpdateKey gives Apply the key with
// its rights resolved, and stores the roles Apply sets.
func testRolesUpdateKeyRoles(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	_, other := mustCreateAccount(t, s, "Other")
	support := mustRole(t, s, owner, "support", "candidate:read")
	writer := mustRole(t, s, owner, "writer", "interview:write")
	theirs := mustRole(t, s, other, "theirs", "webhook:read")
	k := roleKey(t, s, owner, "K", pihu.Permissions{"api_key:read"}, support)
	mustCreateKey(t, s, k)

	var seen pihu.Permissions
	got, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: a.ID, ID: k.ID, Apply: func(k *pihu.Key) error {
		seen = slices.Clone(k.Rights())
		k.Roles = []string{writer.ID, support.ID}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (pihu.Permissions{"api_key:read", "candidate:read"}); !slices.Equal(seen, want) {
		t.Errorf("Apply saw rights %v, want %v", seen, want)
	}
	stored, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{writer.ID, support.ID}; !slices.Equal(got.Roles, want) || !slices.Equal(stored.Roles, want) {
		t.Errorf("roles: returned %v, stored %v; want %v", got.Roles, stored.Roles, want)
	}
	_, err = s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: a.ID, ID: k.ID, Apply: func(k *pihu.Key) error {
		k.Roles = []string{theirs.ID}
		return nil
	}})
	checkError(t, err, pihu.EParameterInvalid, "roles")
	if _, err := s.UpdateKey(t.Context(), pihu.KeyUpdate{AccountID: a.ID, ID: k.ID, Apply: func(k *pihu.Key) error {
		k.Roles = nil
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if stored, _ := s.Key(t.Context(), a.ID, k.ID); len(stored.Roles) != 0 {
		t.Errorf("roles removed: got %v", stored.Roles)
	}
}

// testRolesUpdate checks that UpdateRole changes what Apply changes, as
// stored, refuses another role's name, and changes nothing when Apply
// refuses.
func testRolesUpdate(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	r := mustRole(t, s, owner, "support", "candidate:read")
	mustRole(t, s, owner, "admin", "*")
	later := epoch.Add(time.Hour)
	got, err := s.UpdateRole(t.Context(), pihu.RoleUpdate{AccountID: a.ID, ID: r.ID, Apply: func(r *pihu.KeyRole) error {
		r.Name, r.Description, r.Permissions, r.Updated = "helpdesk", "First line.", pihu.Permissions{"interview:read"}, later
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Role(t.Context(), a.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := &pihu.KeyRole{ID: r.ID, AccountID: a.ID, Name: "helpdesk", Description: "First line.", Permissions: pihu.Permissions{"interview:read"}, Created: epoch, Updated: later}
	checkRole(t, got, want)
	checkRole(t, stored, want)

	_, err = s.UpdateRole(t.Context(), pihu.RoleUpdate{AccountID: a.ID, ID: r.ID, Apply: func(r *pihu.KeyRole) error {
		r.Name = "admin"
		return nil
	}})
	checkError(t, err, pihu.ERoleExists, "name")
	refusal := pihu.Errorf(pihu.EInsufficientPermissions, "no")
	_, err = s.UpdateRole(t.Context(), pihu.RoleUpdate{AccountID: a.ID, ID: r.ID, Apply: func(r *pihu.KeyRole) error {
		r.Name = "changed"
		return refusal
	}})
	if err != refusal {
		t.Errorf("refused: got %v, want Apply's error", err)
	}
	if stored, _ := s.Role(t.Context(), a.ID, r.ID); stored.Name != "helpdesk" {
		t.Errorf("after refusals: got %+v, want it unchanged", stored)
	}
	_, err = s.UpdateRole(t.Context(), pihu.RoleUpdate{AccountID: "acct_other", ID: r.ID, Apply: func(*pihu.KeyRole) error { return nil }})
	checkError(t, err, pihu.ENotFound, "")
}

// testRolesDeleteUnused checks that a role no key holds is deleted, with
// a count of 0, and is then gone.
func testRolesDeleteUnused(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	r := mustRole(t, s, owner, "support", "candidate:read")
	got, n, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: r.ID, At: epoch})
	if err != nil || n != 0 {
		t.Fatalf("got %d, %v; want 0, nil", n, err)
	}
	checkRole(t, got, r)
	if _, err := s.Role(t.Context(), a.ID, r.ID); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("Role after deletion: got %v, want %s", err, pihu.ENotFound)
	}
	if roles, _ := s.Roles(t.Context(), a.ID); len(roles) != 0 {
		t.Errorf("Roles after deletion: got %v", roleNames(roles))
	}
	_, _, err = s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: r.ID, At: epoch})
	checkError(t, err, pihu.ENotFound, "")
}

// testRolesDeleteInUse checks that deleting a role that active keys hold
// is refused with their count (a revoked key not counted), and done by
// force, taking the role from every key; and that Check may refuse it.
func testRolesDeleteInUse(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	r := mustRole(t, s, owner, "support", "candidate:read")
	other := mustRole(t, s, owner, "other", "interview:read")
	var keys []*pihu.Key
	for _, name := range []string{"K1", "K2", "Revoked"} {
		k := roleKey(t, s, owner, name, nil, r, other)
		mustCreateKey(t, s, k)
		keys = append(keys, k)
	}
	if _, err := s.RevokeKey(t.Context(), a.ID, keys[2].ID, epoch.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	refusal := pihu.Errorf(pihu.EInsufficientPermissions, "no")
	_, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: r.ID, At: epoch, Force: true,
		Check: func(*pihu.KeyRole) error { return refusal }})
	if err != refusal {
		t.Errorf("Check refused: got %v, want its error", err)
	}
	_, _, err = s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: r.ID, At: epoch.Add(time.Hour)})
	if e, ok := err.(*pihu.Error); !ok || e.Code != pihu.ERoleInUse || e.KeyCount != 2 {
		t.Fatalf("got %v, want %s with KeyCount 2", err, pihu.ERoleInUse)
	}
	if k, _ := s.Key(t.Context(), a.ID, keys[0].ID); !slices.Equal(k.Roles, []string{r.ID, other.ID}) {
		t.Fatalf("refused: the key's roles are %v, want both kept", k.Roles)
	}
	_, n, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: r.ID, At: epoch.Add(time.Hour), Force: true})
	if err != nil || n != 2 {
		t.Fatalf("forced: got %d, %v; want 2, nil", n, err)
	}
	for _, k := range keys {
		got, err := s.Key(t.Context(), a.ID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Roles, []string{other.ID}) || !slices.Equal(got.Rights(), pihu.Permissions{"interview:read"}) {
			t.Errorf("key %s after a forced deletion: roles %v, rights %v; want the other role only", k.Name, got.Roles, got.Rights())
		}
	}
}

// testRolesRevokeCheckSeesRights checks that a revocation's Check sees
// each key with its roles' permissions among its rights.
func testRolesRevokeCheckSeesRights(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	r := mustRole(t, s, owner, "writer", "interview:write")
	k := roleKey(t, s, owner, "K", pihu.Permissions{"candidate:read"}, r)
	mustCreateKey(t, s, k)
	var seen pihu.Permissions
	if _, err := s.RevokeKeys(t.Context(), pihu.Revocation{AccountID: a.ID, ID: k.ID, At: epoch,
		Check: func(k *pihu.Key) error { seen = slices.Clone(k.Rights()); return nil }}); err != nil {
		t.Fatal(err)
	}
	if want := (pihu.Permissions{"candidate:read", "interview:write"}); !slices.Equal(seen, want) {
		t.Errorf("Check saw %v, want %v", seen, want)
	}
}

// testRolesRotationKeepsRoles checks that a key's successor holds its
// roles.
func testRolesRotationKeepsRoles(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	r := mustRole(t, s, owner, "writer", "interview:write")
	k := roleKey(t, s, owner, "K", nil, r)
	mustCreateKey(t, s, k)
	old, err := s.Key(t.Context(), a.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := old.Successor(owner, epoch.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), next, next.Created); err != nil {
		t.Fatal(err)
	}
	got, err := s.Key(t.Context(), a.ID, next.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Roles, []string{r.ID}) {
		t.Errorf("successor's roles: got %v, want %v", got.Roles, []string{r.ID})
	}
}

// testRolesEvents checks that the audit events given are recorded with a
// role's creation, change and deletion, and not with a refused one.
func testRolesEvents(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	r, _ := pihu.NewKeyRole(a.ID, pihu.RoleRequest{Name: "support", Permissions: pihu.Permissions{"candidate:read"}}, owner, epoch)
	created := pihu.NewRoleEvent(pihu.ActionRoleCreated, owner.ID, "203.0.113.7", r, epoch)
	if err := s.CreateRole(t.Context(), r, created); err != nil {
		t.Fatal(err)
	}
	again, _ := pihu.NewKeyRole(a.ID, pihu.RoleRequest{Name: "support", Permissions: pihu.Permissions{"candidate:read"}}, owner, epoch)
	if err := s.CreateRole(t.Context(), again, pihu.NewRoleEvent(pihu.ActionRoleCreated, owner.ID, "", again, epoch)); err == nil {
		t.Fatal("created twice")
	}
	var updated, deleted *pihu.AuditEvent
	if _, err := s.UpdateRole(t.Context(), pihu.RoleUpdate{AccountID: a.ID, ID: r.ID,
		Apply: func(r *pihu.KeyRole) error { r.Description = "x"; return nil },
		Event: func(r *pihu.KeyRole) *pihu.AuditEvent {
			updated = pihu.NewRoleEvent(pihu.ActionRoleUpdated, owner.ID, "", r, epoch)
			updated.Changes = []string{"description"}
			return updated
		}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: r.ID, At: epoch,
		Event: func(r *pihu.KeyRole) *pihu.AuditEvent {
			deleted = pihu.NewRoleEvent(pihu.ActionRoleDeleted, owner.ID, "", r, epoch)
			return deleted
		}}); err != nil {
		t.Fatal(err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Target: r.ID, Limit: 100})
	checkEvents(t, events, []*pihu.AuditEvent{deleted, updated, created})
}

// testRolesPermissionInUseThroughRole checks that a defined permission
// held through a role counts its keys as holding it.
func testRolesPermissionInUse(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	mustDefine(t, s, a.ID, "billing:read", "")
	r := mustRole(t, s, owner, "billing", "billing:read")
	mustCreateKey(t, s, roleKey(t, s, owner, "K", nil, r))
	_, _, err := s.DeletePermission(t.Context(), a.ID, "billing:read", false)
	if e, ok := err.(*pihu.Error); !ok || e.Code != pihu.EPermissionInUse || e.KeyCount != 1 {
		t.Fatalf("got %v, want %s with KeyCount 1", err, pihu.EPermissionInUse)
	}
}

// testRolesAtMostMaxRoles checks that an account has at most
// pihu.MaxRoles roles, deleted ones not counted.
func testRolesAtMostMaxRoles(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var first *pihu.KeyRole
	for i := range pihu.MaxRoles {
		r := mustRole(t, s, owner, fmt.Sprintf("role %d", i), "candidate:read")
		if i == 0 {
			first = r
		}
	}
	extra, _ := pihu.NewKeyRole(a.ID, pihu.RoleRequest{Name: "one more", Permissions: pihu.Permissions{"candidate:read"}}, owner, epoch)
	checkError(t, s.CreateRole(t.Context(), extra), pihu.EParameterInvalid, "name")
	if _, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: first.ID, At: epoch}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRole(t.Context(), extra); err != nil {
		t.Errorf("after deleting one: got %v", err)
	}
}
