package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runPermissions(t *testing.T, run runFunc) {
	run(t, "DefineAndList", testPermissionsDefineAndList)
	run(t, "DefineTwice", testPermissionsDefineTwice)
	run(t, "OtherAccountInvisible", testPermissionsOtherAccountInvisible)
	run(t, "DeleteUnused", testPermissionsDeleteUnused)
	run(t, "DeleteInUse", testPermissionsDeleteInUse)
	run(t, "DeleteServerWideCountsEveryAccount", testPermissionsDeleteServerWide)
	run(t, "Events", testPermissionsEvents)
}

func mustDefine(tb testing.TB, s pihu.Store, accountID string, name pihu.Permission, description string) *pihu.DefinedPermission {
	tb.Helper()
	p, err := pihu.NewDefinedPermission(accountID, name, description, epoch)
	if err != nil {
		tb.Fatalf("NewDefinedPermission: %v", err)
	}
	if err := s.DefinePermission(tb.Context(), p); err != nil {
		tb.Fatalf("DefinePermission(%s): %v", name, err)
	}
	return p
}

func definedNames(tb testing.TB, s pihu.Store, accountID string) []string {
	tb.Helper()
	ps, err := s.DefinedPermissions(tb.Context(), accountID)
	if err != nil {
		tb.Fatalf("DefinedPermissions: %v", err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Source()+":"+string(p.Name))
	}
	return out
}

// testPermissionsDefineAndList checks that an account's permissions and
// the server-wide ones come back, ordered by name, with what was stored.
func testPermissionsDefineAndList(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	want := mustDefine(t, s, a.ID, "billing:read", "Read invoices.")
	mustDefine(t, s, a.ID, "billing:write", "")
	mustDefine(t, s, "", "audit:export", "Export the audit trail.")

	ps, err := s.DefinedPermissions(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("got %d permissions, want 3", len(ps))
	}
	if got := *ps[1]; got != *want {
		t.Errorf("got %+v, want %+v", got, *want)
	}
	if got, want := definedNames(t, s, a.ID), []string{"server:audit:export", "account:billing:read", "account:billing:write"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, want := definedNames(t, s, ""), []string{"server:audit:export"}; !slices.Equal(got, want) {
		t.Errorf("server-wide: got %v, want %v", got, want)
	}
}

// testPermissionsDefineTwice checks that a name is defined once per
// account, and that an account cannot shadow a server-wide permission.
func testPermissionsDefineTwice(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	mustDefine(t, s, a.ID, "billing:read", "")
	mustDefine(t, s, b.ID, "billing:read", "") // another account's name is its own
	mustDefine(t, s, "", "audit:export", "")
	for _, tt := range []struct {
		account string
		name    pihu.Permission
	}{{a.ID, "billing:read"}, {a.ID, "audit:export"}, {"", "audit:export"}} {
		p, _ := pihu.NewDefinedPermission(tt.account, tt.name, "again", epoch)
		if err := s.DefinePermission(t.Context(), p); pihu.ErrorCode(err) != pihu.EPermissionExists {
			t.Errorf("DefinePermission(%q, %s) again: got %v, want %s", tt.account, tt.name, err, pihu.EPermissionExists)
		}
	}
}

// testPermissionsOtherAccountInvisible checks that an account neither
// lists nor deletes another's permissions.
func testPermissionsOtherAccountInvisible(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	mustDefine(t, s, a.ID, "billing:read", "")
	if got := definedNames(t, s, b.ID); len(got) != 0 {
		t.Errorf("other account lists %v, want none", got)
	}
	if _, _, err := s.DeletePermission(t.Context(), b.ID, "billing:read", true); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("DeletePermission by another account: got %v, want %s", err, pihu.ENotFound)
	}
	if _, _, err := s.DeletePermission(t.Context(), "", "billing:read", true); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("DeletePermission server-wide: got %v, want %s", err, pihu.ENotFound)
	}
	if got := definedNames(t, s, a.ID); len(got) != 1 {
		t.Errorf("got %v, want the permission kept", got)
	}
}

// testPermissionsDeleteUnused checks that a permission no key holds is
// deleted, with a count of 0.
func testPermissionsDeleteUnused(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	mustDefine(t, s, a.ID, "billing:read", "Read invoices.")
	// A wildcard does not hold it by name.
	mustCreateKey(t, s, childKey(t, owner, pihu.KeyRequest{Name: "W", Permissions: pihu.Permissions{"billing:*"}, Defined: []pihu.Permission{"billing:read"}}, epoch))
	p, n, err := s.DeletePermission(t.Context(), a.ID, "billing:read", false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "billing:read" || p.Description != "Read invoices." || n != 0 {
		t.Errorf("got %+v, %d; want billing:read, 0", p, n)
	}
	if got := definedNames(t, s, a.ID); len(got) != 0 {
		t.Errorf("got %v after deleting, want none", got)
	}
	if _, _, err := s.DeletePermission(t.Context(), a.ID, "billing:read", false); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("second delete: got %v, want %s", err, pihu.ENotFound)
	}
}

// testPermissionsDeleteInUse checks that deleting a permission active
// keys hold is refused with their count (revoked ones not counted), and
// done by force.
func testPermissionsDeleteInUse(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	mustDefine(t, s, a.ID, "billing:read", "")
	defined := []pihu.Permission{"billing:read"}
	for _, name := range []string{"K1", "K2", "Revoked"} {
		k := childKey(t, owner, pihu.KeyRequest{Name: name, Permissions: pihu.Permissions{"candidate:read", "billing:read"}, Defined: defined}, epoch)
		mustCreateKey(t, s, k)
		if name == "Revoked" {
			if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, _, err := s.DeletePermission(t.Context(), a.ID, "billing:read", false)
	if pihu.ErrorCode(err) != pihu.EPermissionInUse {
		t.Fatalf("got %v, want %s", err, pihu.EPermissionInUse)
	}
	if e, ok := err.(*pihu.Error); !ok || e.KeyCount != 2 {
		t.Errorf("got %#v, want KeyCount 2", err)
	}
	if got := definedNames(t, s, a.ID); len(got) != 1 {
		t.Fatalf("got %v, want the permission kept", got)
	}
	_, n, err := s.DeletePermission(t.Context(), a.ID, "billing:read", true)
	if err != nil || n != 2 {
		t.Fatalf("forced: got %d, %v; want 2, nil", n, err)
	}
	if got := definedNames(t, s, a.ID); len(got) != 0 {
		t.Errorf("got %v after a forced delete, want none", got)
	}
}

// testPermissionsDeleteServerWide checks that a server-wide permission's
// count is of every account's keys.
func testPermissionsDeleteServerWide(t *testing.T, s pihu.Store) {
	mustDefine(t, s, "", "audit:export", "")
	defined := []pihu.Permission{"audit:export"}
	for _, name := range []string{"Acme", "Other"} {
		_, owner := mustCreateAccount(t, s, name)
		mustCreateKey(t, s, childKey(t, owner, pihu.KeyRequest{Name: "K", Permissions: pihu.Permissions{"audit:export"}, Defined: defined}, epoch))
	}
	_, _, err := s.DeletePermission(t.Context(), "", "audit:export", false)
	if e, ok := err.(*pihu.Error); !ok || e.Code != pihu.EPermissionInUse || e.KeyCount != 2 {
		t.Fatalf("got %v, want %s with KeyCount 2", err, pihu.EPermissionInUse)
	}
	if _, n, err := s.DeletePermission(t.Context(), "", "audit:export", true); err != nil || n != 2 {
		t.Fatalf("forced: got %d, %v; want 2, nil", n, err)
	}
}

// testPermissionsEvents checks that the audit events given are recorded
// with a definition and a deletion, and not with a refused one.
func testPermissionsEvents(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	p, _ := pihu.NewDefinedPermission(a.ID, "billing:read", "", epoch)
	created := pihu.NewPermissionEvent(pihu.ActionPermissionCreated, owner.ID, "203.0.113.7", a.ID, p.Name, epoch)
	if err := s.DefinePermission(t.Context(), p, created); err != nil {
		t.Fatal(err)
	}
	again, _ := pihu.NewDefinedPermission(a.ID, "billing:read", "", epoch)
	if err := s.DefinePermission(t.Context(), again, pihu.NewPermissionEvent(pihu.ActionPermissionCreated, owner.ID, "", a.ID, p.Name, epoch)); err == nil {
		t.Fatal("defined twice")
	}
	mustCreateKey(t, s, childKey(t, owner, pihu.KeyRequest{Name: "K", Permissions: pihu.Permissions{"billing:read"}, Defined: []pihu.Permission{"billing:read"}}, epoch))
	if _, _, err := s.DeletePermission(t.Context(), a.ID, p.Name, false, pihu.NewPermissionEvent(pihu.ActionPermissionDeleted, owner.ID, "", a.ID, p.Name, epoch)); err == nil {
		t.Fatal("deleted while held")
	}
	if _, _, err := s.DeletePermission(t.Context(), a.ID, p.Name, true, pihu.NewPermissionEvent(pihu.ActionPermissionDeleted, owner.ID, "", a.ID, p.Name, epoch.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	events, _ := mustListEvents(t, s, pihu.AuditFilter{AccountID: a.ID, Limit: 100})
	var got []string
	for _, ev := range events {
		if ev.Target == "billing:read" {
			got = append(got, ev.Action)
		}
	}
	if want := []string{pihu.ActionPermissionDeleted, pihu.ActionPermissionCreated}; !slices.Equal(got, want) {
		t.Errorf("events: got %v, want %v (newest first)", got, want)
	}
}
