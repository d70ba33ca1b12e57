package http_test

import (
	"slices"
	"strings"
	"testing"

	pihuhttp "github.com/pihu-ai/pihu/http"
)

// newRole creates a role through the API with key and returns it.
func (ts *testServer) newRole(tb testing.TB, key, body string) pihuhttp.Role {
	tb.Helper()
	r := ts.do(tb, "POST", "/v1/roles", key, body)
	if r.status != 200 {
		tb.Fatalf("creating role %s: got %d %s", body, r.status, r.body)
	}
	var role pihuhttp.Role
	r.decode(tb, &role)
	return role
}

func (ts *testServer) patch(tb testing.TB, path, key, body string) response {
	tb.Helper()
	r := ts.do(tb, "PATCH", path, key, body)
	if r.status != 200 {
		tb.Fatalf("PATCH %s %s: got %d %s", path, body, r.status, r.body)
	}
	return r
}

func TestRoles(t *testing.T) {
	ts := newTestServer(t)
	_, other := ts.newAccount(t, "Other")
	writer := ts.newKey(t, ts.Owner, `{"name":"w","permissions":["role:write","candidate:*"]}`).Key
	reader := ts.newKey(t, ts.Owner, `{"name":"r","permissions":["role:read"]}`).Key
	noPerm := ts.newKey(t, ts.Owner, `{"name":"n","permissions":["candidate:read"]}`).Key
	test := ts.newKey(t, ts.Owner, `{"name":"t","permissions":["*"],"environment":"test"}`).Key
	ts.do(t, "POST", "/v1/permissions", ts.Owner, `{"name":"billing:read"}`)
	admin := ts.newRole(t, ts.Owner, `{"name":"admin","permissions":["*"]}`)
	support := ts.newRole(t, writer, `{"name":"support","description":"First line.","permissions":["candidate:read"]}`)
	if support.Name != "support" || support.Description != "First line." || !slices.Equal(support.Permissions, []string{"candidate:read"}) ||
		!strings.HasPrefix(support.ID, "role_") || support.Created != "2024-02-20T12:00:00Z" || support.Updated != support.Created {
		t.Fatalf("got %+v", support)
	}
	theirs := ts.newRole(t, other, `{"name":"theirs","permissions":["candidate:read"]}`)

	ts.run(t, []scenario{
		{name: "CreateDefined", method: "POST", path: "/v1/roles", key: ts.Owner, body: `{"name":"billing","permissions":["billing:read","candidate:read","candidate:read"]}`, status: 200,
			check: func(t *testing.T, r response) {
				var role pihuhttp.Role
				r.decode(t, &role)
				if !slices.Equal(role.Permissions, []string{"billing:read", "candidate:read"}) || role.Description != "" {
					t.Errorf("got %+v, want its permissions without the duplicate", role)
				}
			}},
		{name: "CreateTwice", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"support","permissions":["candidate:read"]}`, status: 409, code: "role_exists", param: "name"},
		{name: "CreateSameNameOtherAccount", method: "POST", path: "/v1/roles", key: other, body: `{"name":"support","permissions":["candidate:read"]}`, status: 200},
		{name: "CreateNoName", method: "POST", path: "/v1/roles", key: writer, body: `{"permissions":["candidate:read"]}`, status: 400, code: "parameter_missing", param: "name"},
		{name: "CreateEmptyName", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"","permissions":["candidate:read"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "CreateControlInName", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"a\u0007b","permissions":["candidate:read"]}`, status: 400, code: "parameter_invalid", param: "name"},
		{name: "CreateNoPermissions", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"x"}`, status: 400, code: "parameter_missing", param: "permissions"},
		{name: "CreateEmptyPermissions", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"x","permissions":[]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "CreateUnknownPermission", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"x","permissions":["orders:read"]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "CreateLongDescription", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"x","description":"` + strings.Repeat("a", 501) + `","permissions":["candidate:read"]}`, status: 400, code: "parameter_invalid", param: "description"},
		{name: "CreateUnknownField", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"x","permissions":["candidate:read"],"scope":"x"}`, status: 400, code: "parameter_unknown", param: "scope"},
		{name: "CreateEscalation", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"x","permissions":["interview:read"]}`, status: 403, code: "insufficient_permissions", param: "permissions"},
		{name: "CreateWildcardEscalation", method: "POST", path: "/v1/roles", key: writer, body: `{"name":"x","permissions":["*"]}`, status: 403, code: "insufficient_permissions", param: "permissions"},
		{name: "CreateNoKey", method: "POST", path: "/v1/roles", body: `{"name":"x","permissions":["candidate:read"]}`, status: 401, code: "missing_api_key"},
		{name: "CreateWithoutPermission", method: "POST", path: "/v1/roles", key: reader, body: `{"name":"x","permissions":["candidate:read"]}`, status: 403, code: "insufficient_permissions"},
		{name: "CreateWithTestKey", method: "POST", path: "/v1/roles", key: test, body: `{"name":"x","permissions":["candidate:read"]}`, status: 403, code: "insufficient_permissions"},
		{name: "Get", method: "GET", path: "/v1/roles/" + support.ID, key: reader, status: 200},
		{name: "GetWithTestKey", method: "GET", path: "/v1/roles/" + support.ID, key: test, status: 200},
		{name: "GetOtherAccounts", method: "GET", path: "/v1/roles/" + theirs.ID, key: reader, status: 404, code: "not_found"},
		{name: "GetUnknown", method: "GET", path: "/v1/roles/role_nothing", key: reader, status: 404, code: "not_found"},
		{name: "GetWithoutPermission", method: "GET", path: "/v1/roles/" + support.ID, key: noPerm, status: 403, code: "insufficient_permissions"},
		{name: "GetUnknownParameter", method: "GET", path: "/v1/roles/" + support.ID + "?x=1", key: reader, status: 400, code: "parameter_unknown", param: "x"},
		{name: "ListBadLimit", method: "GET", path: "/v1/roles?limit=0", key: reader, status: 400, code: "parameter_invalid", param: "limit"},
		{name: "ListUnknownCursor", method: "GET", path: "/v1/roles?starting_after=role_nothing", key: reader, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ListOtherAccountsCursor", method: "GET", path: "/v1/roles?starting_after=" + theirs.ID, key: reader, status: 400, code: "parameter_invalid", param: "starting_after"},
		{name: "ListWithoutPermission", method: "GET", path: "/v1/roles", key: noPerm, status: 403, code: "insufficient_permissions"},
		{name: "PatchNothing", method: "PATCH", path: "/v1/roles/" + support.ID, key: writer, body: `{}`, status: 400, code: "parameter_missing"},
		{name: "PatchEmptyPermissions", method: "PATCH", path: "/v1/roles/" + support.ID, key: writer, body: `{"permissions":[]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "PatchNullIsLeftOut", method: "PATCH", path: "/v1/roles/" + support.ID, key: writer, body: `{"permissions":null}`, status: 400, code: "parameter_missing"},
		{name: "PatchEscalation", method: "PATCH", path: "/v1/roles/" + support.ID, key: writer, body: `{"permissions":["candidate:read","interview:read"]}`, status: 403, code: "insufficient_permissions", param: "permissions"},
		{name: "PatchRoleBeyondCaller", method: "PATCH", path: "/v1/roles/" + admin.ID, key: writer, body: `{"name":"mine"}`, status: 403, code: "insufficient_permissions"},
		{name: "PatchTakenName", method: "PATCH", path: "/v1/roles/" + support.ID, key: ts.Owner, body: `{"name":"admin"}`, status: 409, code: "role_exists", param: "name"},
		{name: "PatchOtherAccounts", method: "PATCH", path: "/v1/roles/" + theirs.ID, key: writer, body: `{"name":"mine"}`, status: 404, code: "not_found"},
		{name: "PatchWithTestKey", method: "PATCH", path: "/v1/roles/" + support.ID, key: test, body: `{"name":"mine"}`, status: 403, code: "insufficient_permissions"},
		{name: "PatchWithoutPermission", method: "PATCH", path: "/v1/roles/" + support.ID, key: reader, body: `{"name":"mine"}`, status: 403, code: "insufficient_permissions"},
		{name: "PatchUnknownField", method: "PATCH", path: "/v1/roles/" + support.ID, key: writer, body: `{"id":"role_x"}`, status: 400, code: "parameter_unknown", param: "id"},
		{name: "Patch", method: "PATCH", path: "/v1/roles/" + support.ID, key: writer, body: `{"description":"Second line.","permissions":["candidate:write"]}`, status: 200,
			check: func(t *testing.T, r response) {
				var role pihuhttp.Role
				r.decode(t, &role)
				if role.Name != "support" || role.Description != "Second line." || !slices.Equal(role.Permissions, []string{"candidate:write"}) {
					t.Errorf("got %+v", role)
				}
			}},
		{name: "DeleteBeyondCaller", method: "DELETE", path: "/v1/roles/" + admin.ID, key: writer, status: 403, code: "insufficient_permissions"},
		{name: "DeleteOtherAccounts", method: "DELETE", path: "/v1/roles/" + theirs.ID, key: writer, status: 404, code: "not_found"},
		{name: "DeleteBadForce", method: "DELETE", path: "/v1/roles/" + support.ID + "?force=yes", key: writer, status: 400, code: "parameter_invalid", param: "force"},
		{name: "DeleteWithTestKey", method: "DELETE", path: "/v1/roles/" + support.ID, key: test, status: 403, code: "insufficient_permissions"},
		{name: "DeleteBody", method: "DELETE", path: "/v1/roles/" + support.ID, key: writer, body: `{"force":true}`, status: 400, code: "parameter_unknown", param: "force"},
	})

	t.Run("List", func(t *testing.T) {
		r := ts.do(t, "GET", "/v1/roles?limit=2", test, "")
		var page pihuhttp.RoleList
		r.decode(t, &page)
		if r.status != 200 || len(page.Data) != 2 || !page.HasMore || page.Data[0].Name != "billing" || page.Data[1].Name != "support" {
			t.Fatalf("first page: got %d %s", r.status, r.body)
		}
		r = ts.do(t, "GET", "/v1/roles?starting_after="+page.Data[1].ID, reader, "")
		r.decode(t, &page)
		if len(page.Data) != 1 || page.HasMore || page.Data[0].ID != admin.ID {
			t.Errorf("second page: got %s", r.body)
		}
	})
	t.Run("AccessTokenRefused", func(t *testing.T) {
		tok := ts.mint(t, ts.Owner, `{}`)
		r := ts.do(t, "POST", "/v1/roles", tok.AccessToken, `{"name":"tok","permissions":["candidate:read"]}`)
		if r.status != 403 || r.errorBody(t).Code != "insufficient_permissions" {
			t.Errorf("create with a token: got %d %s, want 403", r.status, r.body)
		}
		if r := ts.do(t, "DELETE", "/v1/roles/"+support.ID, tok.AccessToken, ""); r.status != 403 {
			t.Errorf("delete with a token: got %d %s, want 403", r.status, r.body)
		}
		if r := ts.do(t, "GET", "/v1/roles/"+support.ID, tok.AccessToken, ""); r.status != 200 {
			t.Errorf("read with a token: got %d %s, want 200", r.status, r.body)
		}
	})
	t.Run("DeleteInUse", func(t *testing.T) {
		ts.newKey(t, ts.Owner, `{"name":"k1","roles":["`+support.ID+`"]}`)
		ts.newKey(t, ts.Owner, `{"name":"k2","permissions":["webhook:read"],"roles":["`+support.ID+`"]}`)
		r := ts.do(t, "DELETE", "/v1/roles/"+support.ID, writer, "")
		if r.status != 409 {
			t.Fatalf("got %d %s, want 409", r.status, r.body)
		}
		if e := r.errorBody(t); e.Code != "role_in_use" || e.KeyCount != 2 || !strings.Contains(e.Message, "2 keys hold") {
			t.Errorf("got %+v, want role_in_use with key_count 2", e)
		}
		r = ts.do(t, "DELETE", "/v1/roles/"+support.ID+"?force=true", writer, "")
		var d pihuhttp.RoleDeleted
		r.decode(t, &d)
		if r.status != 200 || !d.Deleted || d.KeyCount != 2 || d.ID != support.ID || d.Name != "support" {
			t.Errorf("forced: got %d %s", r.status, r.body)
		}
		if r := ts.do(t, "GET", "/v1/roles/"+support.ID, reader, ""); r.status != 404 {
			t.Errorf("deleted: got %d, want 404", r.status)
		}
		// Its id is still a cursor, and its name is free.
		if r := ts.do(t, "GET", "/v1/roles?starting_after="+support.ID, reader, ""); r.status != 200 {
			t.Errorf("a deleted role's id as a cursor: got %d %s", r.status, r.body)
		}
		ts.newRole(t, writer, `{"name":"support","permissions":["candidate:read"]}`)
	})
	t.Run("Audited", func(t *testing.T) {
		events := ts.events(t, ts.Owner)
		seen := map[string]bool{}
		for _, ev := range events {
			if ev.Target == support.ID {
				seen[ev.Action] = true
				if ev.Action == "role.updated" && !slices.Equal(ev.Changes, []string{"description", "permissions"}) {
					t.Errorf("role.updated: changes %v", ev.Changes)
				}
			}
		}
		for _, a := range []string{"role.created", "role.updated", "role.deleted"} {
			if !seen[a] {
				t.Errorf("no %s event for the role; got %v", a, seen)
			}
		}
	})
}

// TestRoles_Keys checks keys given roles: shown by id, resolved into what
// the key may do, checked against the caller's rights (no escalation) and
// against the account's roles.
func TestRoles_Keys(t *testing.T) {
	ts := newTestServer(t)
	_, other := ts.newAccount(t, "Other")
	reader := ts.newRole(t, ts.Owner, `{"name":"reader","permissions":["candidate:read","interview:read"]}`)
	keyAdmin := ts.newRole(t, ts.Owner, `{"name":"key admin","permissions":["api_key:*","token:write"]}`)
	admin := ts.newRole(t, ts.Owner, `{"name":"admin","permissions":["*"]}`)
	theirs := ts.newRole(t, other, `{"name":"theirs","permissions":["candidate:read"]}`)
	// A key whose rights to manage keys come from its role.
	manager := ts.newKey(t, ts.Owner, `{"name":"manager","permissions":["candidate:read"],"roles":["`+keyAdmin.ID+`"]}`)
	if !slices.Equal(manager.Roles, []string{keyAdmin.ID}) || !slices.Equal(manager.Permissions, []string{"candidate:read"}) {
		t.Fatalf("created: got %+v", manager)
	}
	roleOnly := ts.newKey(t, manager.Key, `{"name":"role only","roles":["`+keyAdmin.ID+`"]}`)
	if len(roleOnly.Permissions) != 0 || !slices.Equal(roleOnly.Roles, []string{keyAdmin.ID}) {
		t.Fatalf("a key with a role only: got %+v", roleOnly)
	}

	ts.run(t, []scenario{
		{name: "RoleThroughItsRole", method: "POST", path: "/v1/auth/api-keys", key: manager.Key, body: `{"name":"k","roles":["` + keyAdmin.ID + `"]}`, status: 200},
		{name: "RoleBeyondCreator", method: "POST", path: "/v1/auth/api-keys", key: manager.Key, body: `{"name":"k","permissions":["candidate:read"],"roles":["` + reader.ID + `"]}`, status: 403, code: "insufficient_permissions", param: "roles",
			check: func(t *testing.T, r response) {
				if e := r.errorBody(t); e.Required != "interview:read" || !strings.Contains(e.Message, `"reader"`) {
					t.Errorf("got %+v, want interview:read of the role reader named", e)
				}
			}},
		{name: "OtherAccountsRole", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","roles":["` + theirs.ID + `"]}`, status: 400, code: "parameter_invalid", param: "roles"},
		{name: "UnknownRole", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","roles":["support"]}`, status: 400, code: "parameter_invalid", param: "roles"},
		{name: "NoPermissionNorRole", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","roles":[]}`, status: 400, code: "parameter_missing", param: "permissions"},
		{name: "EmptyPermissionsNoRole", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","permissions":[],"roles":[]}`, status: 400, code: "parameter_invalid", param: "permissions"},
		{name: "RolesNotAList", method: "POST", path: "/v1/auth/api-keys", key: ts.Owner, body: `{"name":"k","roles":"` + reader.ID + `"}`, status: 400, code: "parameter_invalid", param: "roles"},
		{name: "PatchRoleBeyondCaller", method: "PATCH", path: "/v1/auth/api-keys/" + roleOnly.ID, key: manager.Key, body: `{"roles":["` + keyAdmin.ID + `","` + reader.ID + `"]}`, status: 403, code: "insufficient_permissions", param: "roles"},
		{name: "PatchOtherAccountsRole", method: "PATCH", path: "/v1/auth/api-keys/" + roleOnly.ID, key: ts.Owner, body: `{"roles":["` + theirs.ID + `"]}`, status: 400, code: "parameter_invalid", param: "roles"},
		{name: "PatchLastRoleAway", method: "PATCH", path: "/v1/auth/api-keys/" + roleOnly.ID, key: ts.Owner, body: `{"roles":null}`, status: 400, code: "parameter_invalid", param: "permissions"},
		// The owner holds everything: it may change the manager, but the
		// manager may not change a key whose role gives more than it has.
		{name: "ChangeKeyWithBiggerRole", method: "PATCH", path: "/v1/auth/api-keys/" + ts.newKey(t, ts.Owner, `{"name":"admin","roles":["`+admin.ID+`"]}`).ID, key: manager.Key, body: `{"name":"renamed"}`, status: 403, code: "insufficient_permissions"},
		{name: "RevokeKeyWithBiggerRole", method: "DELETE", path: "/v1/auth/api-keys/" + ts.newKey(t, ts.Owner, `{"name":"admin","roles":["`+admin.ID+`"]}`).ID, key: manager.Key, status: 403, code: "insufficient_permissions"},
	})

	t.Run("Shown", func(t *testing.T) {
		item := ts.keyItem(t, manager.ID)
		if !slices.Equal(item.Roles, []string{keyAdmin.ID}) || !slices.Equal(item.Permissions, []string{"candidate:read"}) {
			t.Errorf("GET: got roles %v permissions %v", item.Roles, item.Permissions)
		}
		if plain := ts.newKey(t, ts.Owner, `{"name":"plain","permissions":["candidate:read"]}`); plain.Roles == nil || len(plain.Roles) != 0 {
			t.Errorf("a key without roles: got %v, want []", plain.Roles)
		}
		r := ts.do(t, "GET", "/v1/auth/whoami", manager.Key, "")
		if !strings.Contains(string(r.body), `"permissions":["candidate:read"],"roles":["`+keyAdmin.ID+`"]`) {
			t.Errorf("whoami: got %s", r.body)
		}
		r = ts.do(t, "POST", "/v1/auth/verify", ts.Owner, `{"key":"`+manager.Key+`"}`)
		var v pihuhttp.VerifyResult
		r.decode(t, &v)
		if want := []string{"candidate:read", "api_key:*", "token:write"}; !slices.Equal(v.Permissions, want) {
			t.Errorf("verify: got permissions %v, want the key's rights %v", v.Permissions, want)
		}
		r = ts.do(t, "GET", "/v1/auth/forward?permission=api_key:read", manager.Key, "")
		if got := r.header.Get("X-Pihu-Permissions"); r.status != 200 || got != "candidate:read,api_key:*,token:write" {
			t.Errorf("forward-auth: got %d, X-Pihu-Permissions %q", r.status, got)
		}
	})
	t.Run("PatchRoles", func(t *testing.T) {
		k := ts.newKey(t, ts.Owner, `{"name":"p","permissions":["webhook:read"]}`)
		r := ts.patch(t, "/v1/auth/api-keys/"+k.ID, ts.Owner, `{"roles":["`+reader.ID+`","`+reader.ID+`"]}`)
		var item pihuhttp.KeyItem
		r.decode(t, &item)
		if !slices.Equal(item.Roles, []string{reader.ID}) {
			t.Errorf("PATCH: got roles %v", item.Roles)
		}
		if r := ts.do(t, "GET", "/v1/candidates", k.Key, ""); r.status != 200 {
			t.Errorf("through its new role: got %d %s, want 200", r.status, r.body)
		}
		ts.patch(t, "/v1/auth/api-keys/"+k.ID, ts.Owner, `{"roles":[]}`)
		if r := ts.do(t, "GET", "/v1/candidates", k.Key, ""); r.status != 403 {
			t.Errorf("after its role is taken: got %d, want 403", r.status)
		}
		// A key may drop its own role (it holds what the role gives).
		ts.patch(t, "/v1/auth/api-keys/"+roleOnly.ID, ts.Owner, `{"permissions":["api_key:read"]}`)
		ts.patch(t, "/v1/auth/api-keys/"+roleOnly.ID, roleOnly.Key, `{"roles":[]}`)
		if r := ts.do(t, "POST", "/v1/auth/api-keys", roleOnly.Key, `{"name":"x","permissions":["api_key:read"]}`); r.status != 403 {
			t.Errorf("after dropping its role: got %d, want 403", r.status)
		}
	})
	t.Run("RotationKeepsRoles", func(t *testing.T) {
		r := ts.do(t, "POST", "/v1/auth/api-keys/"+manager.ID+"/rotate", ts.Owner, `{"expire_old_in":"1h"}`)
		var next pihuhttp.RotatedKey
		r.decode(t, &next)
		if r.status != 200 || !slices.Equal(next.Roles, []string{keyAdmin.ID}) {
			t.Fatalf("rotate: got %d %s", r.status, r.body)
		}
		// A key lacking a role's permission cannot rotate a key holding it.
		narrow := ts.newKey(t, ts.Owner, `{"name":"narrow","permissions":["api_key:write","candidate:read"]}`)
		if r := ts.do(t, "POST", "/v1/auth/api-keys/"+next.ID+"/rotate", narrow.Key, `{}`); r.status != 403 {
			t.Errorf("rotating a key with a bigger role: got %d %s, want 403", r.status, r.body)
		}
	})
}

// TestRoles_EveryDoor checks that a key whose rights come from a role is
// admitted by every door, and that a change of the role reaches every
// door at the key's next request: a permission taken from the role is
// refused everywhere, and given back, admitted again.
func TestRoles_EveryDoor(t *testing.T) {
	for _, d := range doors {
		t.Run(d.name, func(t *testing.T) {
			ts := newTestServer(t)
			role := ts.newRole(t, ts.Owner, `{"name":"door","permissions":["candidate:read","token:write"]}`)
			k := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["webhook:read"],"roles":["`+role.ID+`"]}`)
			for _, step := range []struct {
				perms, want string
			}{
				{`["candidate:read","token:write"]`, ""},
				{`["webhook:write"]`, "insufficient_permissions"},
				{`["candidate:*","token:*"]`, ""},
			} {
				ts.patch(t, "/v1/roles/"+role.ID, ts.Owner, `{"permissions":`+step.perms+`}`)
				if got := d.do(t, ts, k.ID, k.Key); got != step.want {
					t.Errorf("role %s: got %q, want %q", step.perms, got, orAdmitted(step.want))
				}
			}
			ts.do(t, "DELETE", "/v1/roles/"+role.ID+"?force=true", ts.Owner, "")
			if got := d.do(t, ts, k.ID, k.Key); got != "insufficient_permissions" {
				t.Errorf("role deleted: got %q, want insufficient_permissions", orAdmitted(got))
			}
		})
	}
}

// TestRoles_TokenIsNotItsKey checks that an access token minted from a key
// holding a role may do no more than the key may now: a permission taken
// from the role is taken from the token too.
func TestRoles_TokenIsNotItsKey(t *testing.T) {
	ts := newTestServer(t)
	role := ts.newRole(t, ts.Owner, `{"name":"r","permissions":["candidate:read","interview:read"]}`)
	k := ts.newKey(t, ts.Owner, `{"name":"k","permissions":["token:write"],"roles":["`+role.ID+`"]}`)
	tok := ts.mint(t, k.Key, `{}`)
	if !slices.Contains(tok.Permissions, "candidate:read") {
		t.Fatalf("a token of all the key's rights: got %v", tok.Permissions)
	}
	if r := ts.do(t, "GET", "/v1/candidates", tok.AccessToken, ""); r.status != 200 {
		t.Fatalf("token: got %d %s", r.status, r.body)
	}
	ts.patch(t, "/v1/roles/"+role.ID, ts.Owner, `{"permissions":["interview:read"]}`)
	if r := ts.do(t, "GET", "/v1/candidates", tok.AccessToken, ""); r.status != 403 {
		t.Errorf("token after its key's role lost the permission: got %d, want 403", r.status)
	}
	if r := ts.do(t, "GET", "/v1/interviews", tok.AccessToken, ""); r.status != 200 {
		t.Errorf("token, a permission the role kept: got %d, want 200", r.status)
	}
	if r := ts.do(t, "POST", "/v1/auth/tokens", k.Key, `{"permissions":["candidate:read"]}`); r.status != 403 {
		t.Errorf("minting a permission the role lost: got %d, want 403", r.status)
	}
}
