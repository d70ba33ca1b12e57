package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

func runFilters(t *testing.T, run runFunc) {
	run(t, "NamePrefix", testFiltersNamePrefix)
	run(t, "Role", testFiltersRole)
	run(t, "Permission", testFiltersPermission)
	run(t, "Metadata", testFiltersMetadata)
	run(t, "Revoked", testFiltersRevoked)
	run(t, "RotatedFrom", testFiltersRotatedFrom)
	run(t, "CombinedAndPaged", testFiltersCombinedAndPaged)
	run(t, "Invalid", testFiltersInvalid)
}

// filterKey stores a key named name that owner creates at epoch plus i
// seconds (so that lists order keys by i), changed by with before.
func filterKey(tb testing.TB, s pihu.Store, owner *pihu.Key, name string, i int, with func(*pihu.KeyRequest)) *pihu.Key {
	tb.Helper()
	req := pihu.KeyRequest{Name: name, Permissions: pihu.Permissions{"candidate:read"}, Defined: []pihu.Permission{"billing:read", "billing:write"}}
	if with != nil {
		with(&req)
	}
	if req.Roles != nil {
		roles, err := s.Roles(tb.Context(), owner.AccountID)
		if err != nil {
			tb.Fatal(err)
		}
		req.AccountRoles = roles
	}
	k := childKey(tb, owner, req, epoch.Add(time.Duration(i)*time.Second))
	mustCreateKey(tb, s, k)
	return k
}

// listNames lists the names of the keys f keeps (at most 100), newest
// first.
func listNames(tb testing.TB, s pihu.Store, f pihu.KeyFilter) []string {
	tb.Helper()
	f.Limit = 100
	keys, _ := mustList(tb, s, f)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

func checkNames(tb testing.TB, what string, got []string, want ...string) {
	tb.Helper()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		tb.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// testFiltersNamePrefix checks KeyFilter.NamePrefix: an exact prefix of
// the name, case-sensitive, with "%", "_" and "\" as themselves (never a
// LIKE wildcard or escape), counted in characters.
func testFiltersNamePrefix(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	for i, name := range []string{"prod-api", "Prod-web", "prod_x", "prodAx", "100%_off", "100%X", "100X_off", `a\b`, "ab", "Été", "Etude"} {
		filterKey(t, s, owner, name, i, nil)
	}
	for _, tt := range []struct {
		prefix string
		want   []string
	}{
		{"prod", []string{"prodAx", "prod_x", "prod-api"}},
		{"Prod", []string{"Prod-web"}},
		{"prod_", []string{"prod_x"}},
		{"100%", []string{"100%X", "100%_off"}},
		{"100%_", []string{"100%_off"}},
		{"%", nil},
		{"_", nil},
		{`a\`, []string{`a\b`}},
		{"É", []string{"Été"}},
		{"Ét", []string{"Été"}},
		{"prod-api", []string{"prod-api"}},
		{"prod-api ", nil},
		{"Owner", []string{"Owner key"}},
	} {
		checkNames(t, "name prefix "+tt.prefix, listNames(t, s, pihu.KeyFilter{AccountID: a.ID, NamePrefix: tt.prefix}), tt.want...)
	}
}

// testFiltersRole checks KeyFilter.Role: the keys holding the role,
// whatever other roles they hold; a role of another account, or an id of
// no role, keeps no key and is no error.
func testFiltersRole(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	support := mustRole(t, s, owner, "support", "candidate:read")
	billing := mustRole(t, s, owner, "billing", "billing:read")
	filterKey(t, s, owner, "Support", 1, func(r *pihu.KeyRequest) { r.Roles = []string{support.ID} })
	filterKey(t, s, owner, "Both", 2, func(r *pihu.KeyRequest) { r.Roles = []string{billing.ID, support.ID} })
	filterKey(t, s, owner, "None", 3, nil)
	_, ownerB := mustCreateAccount(t, s, "Other")
	theirs := mustRole(t, s, ownerB, "support", "candidate:read")
	filterKey(t, s, ownerB, "Theirs", 4, func(r *pihu.KeyRequest) { r.Roles = []string{theirs.ID} })

	checkNames(t, "support", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Role: support.ID}), "Both", "Support")
	checkNames(t, "billing", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Role: billing.ID}), "Both")
	checkNames(t, "another account's role", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Role: theirs.ID}))
	checkNames(t, "no such role", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Role: pihu.NewID(pihu.PrefixRole)}))
	if _, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: billing.ID, At: epoch.Add(time.Hour), Force: true}); err != nil {
		t.Fatal(err)
	}
	checkNames(t, "a deleted role", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Role: billing.ID}))
}

// testFiltersPermission checks KeyFilter.Permission against the rule
// admission applies: for each permission asked, the keys listed are
// exactly the account's keys whose rights, as the store resolves them
// (Key), grant it (Permissions.Grants): own permissions and roles',
// wildcards, write implying read, and nothing from a deleted role.
func testFiltersPermission(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	writer := mustRole(t, s, owner, "writer", "candidate:write")
	billing := mustRole(t, s, owner, "billing", "billing:*")
	gone := mustRole(t, s, owner, "gone", "interview:write")
	perms := func(ps ...pihu.Permission) func(*pihu.KeyRequest) {
		return func(r *pihu.KeyRequest) { r.Permissions = ps }
	}
	roles := func(ps pihu.Permissions, rs ...*pihu.KeyRole) func(*pihu.KeyRequest) {
		return func(r *pihu.KeyRequest) { r.Permissions, r.Roles = ps, pihu.RoleIDs(rs) }
	}
	filterKey(t, s, owner, "read", 1, nil)
	filterKey(t, s, owner, "write", 2, perms("candidate:write"))
	filterKey(t, s, owner, "candidates", 3, perms("candidate:*"))
	filterKey(t, s, owner, "all", 4, perms("*"))
	filterKey(t, s, owner, "role-write", 5, roles(nil, writer))
	filterKey(t, s, owner, "role-billing", 6, roles(pihu.Permissions{"interview:read"}, billing))
	filterKey(t, s, owner, "billing-read", 7, perms("billing:read"))
	filterKey(t, s, owner, "role-gone", 8, roles(pihu.Permissions{"webhook:read"}, gone))
	filterKey(t, s, owner, "interview", 9, perms("interview:read"))
	if _, _, err := s.DeleteRole(t.Context(), pihu.RoleDeletion{AccountID: a.ID, ID: gone.ID, At: epoch.Add(time.Hour), Force: true}); err != nil {
		t.Fatal(err)
	}

	all, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Limit: 100})
	for _, p := range []pihu.Permission{"candidate:read", "candidate:write", "candidate:*", "*", "billing:read", "billing:write",
		"billing:*", "interview:read", "interview:write", "webhook:read", "api_key:verify", "nothing:read"} {
		var want []string
		for _, k := range all {
			resolved, err := s.Key(t.Context(), a.ID, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if resolved.Rights().Grants(p) {
				want = append(want, k.Name)
			}
		}
		checkNames(t, "permission "+string(p), listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Permission: p}), want...)
	}
	// The same, written out, so that the rule above cannot be vacuous.
	checkNames(t, "candidate:read by hand", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Permission: "candidate:read"}),
		"role-write", "all", "candidates", "write", "read", "Owner key")
	checkNames(t, "billing:write by hand", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Permission: "billing:write"}),
		"role-billing", "all", "Owner key")
	checkNames(t, "interview:read by hand", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Permission: "interview:read"}),
		"interview", "role-billing", "all", "Owner key")
}

// testFiltersMetadata checks KeyFilter.Metadata: each member given must
// be in the key's metadata with that string value, exactly; a number is
// not its digits, a missing member matches nothing, and a member's name
// is taken whole (a dot is no path).
func testFiltersMetadata(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	meta := func(m string) func(*pihu.KeyRequest) {
		return func(r *pihu.KeyRequest) { r.Metadata = json.RawMessage(m) }
	}
	filterKey(t, s, owner, "pro-eu", 1, meta(`{"plan":"pro","region":"eu"}`))
	filterKey(t, s, owner, "pro", 2, meta(`{"plan":"pro"}`))
	filterKey(t, s, owner, "Pro", 3, meta(`{"plan":"Pro"}`))
	filterKey(t, s, owner, "number", 4, meta(`{"plan":1,"tier":"1"}`))
	filterKey(t, s, owner, "nested", 5, meta(`{"a":{"b":"x"},"a.b":"y","plan":["pro"]}`))
	filterKey(t, s, owner, "unicode", 6, meta(`{"région":"île-de-France","empty":""}`))
	filterKey(t, s, owner, "none", 7, nil)
	for _, tt := range []struct {
		m    map[string]string
		want []string
	}{
		{map[string]string{"plan": "pro"}, []string{"pro", "pro-eu"}},
		{map[string]string{"plan": "pro", "region": "eu"}, []string{"pro-eu"}},
		{map[string]string{"plan": "pro", "region": "us"}, nil},
		{map[string]string{"plan": "1"}, nil},
		{map[string]string{"tier": "1"}, []string{"number"}},
		{map[string]string{"a.b": "y"}, []string{"nested"}},
		{map[string]string{"a.b": "x"}, nil},
		{map[string]string{"région": "île-de-France"}, []string{"unicode"}},
		{map[string]string{"empty": ""}, []string{"unicode"}},
		{map[string]string{"missing": ""}, nil},
		{map[string]string{"plan": "pr%"}, nil},
	} {
		checkNames(t, "metadata "+jsonString(t, tt.m), listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Metadata: tt.m}), tt.want...)
	}
}

func jsonString(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// testFiltersRevoked checks KeyFilter.Revoked: the revoked keys only,
// with the other filters, and without it none of them.
func testFiltersRevoked(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	var keys []*pihu.Key
	for i, name := range []string{"web-1", "web-2", "cron", "web-3"} {
		keys = append(keys, filterKey(t, s, owner, name, i, nil))
	}
	for _, k := range []*pihu.Key{keys[0], keys[2]} {
		if _, err := s.RevokeKey(t.Context(), a.ID, k.ID, epoch.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	checkNames(t, "revoked", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Revoked: true}), "cron", "web-1")
	checkNames(t, "revoked web", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Revoked: true, NamePrefix: "web"}), "web-1")
	checkNames(t, "unrevoked web", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, NamePrefix: "web"}), "web-3", "web-2")
	got, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, Revoked: true, Limit: 1})
	if len(got) != 1 || got[0].Revoked == nil || !got[0].Revoked.Equal(epoch.Add(time.Minute)) {
		t.Errorf("a revoked key listed: got %+v, want its revocation time", got)
	}
	checkNames(t, "revoked after an unrevoked cursor", listNames(t, s, pihu.KeyFilter{AccountID: a.ID, Revoked: true, StartingAfter: keys[3].ID}), "cron", "web-1")
}

// testFiltersRotatedFrom finds a key's successor, and nothing for a key
// never rotated or another account's.
func testFiltersRotatedFrom(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	b, _ := mustCreateAccount(t, s, "Other")
	old := filterKey(t, s, owner, "billing", 0, nil)
	filterKey(t, s, owner, "search", 1, nil)
	next, _, err := old.Successor(owner, epoch.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(t.Context(), next, epoch.Add(time.Hour)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	got, _ := mustList(t, s, pihu.KeyFilter{AccountID: a.ID, RotatedFrom: old.ID, Limit: 10})
	if len(got) != 1 || got[0].ID != next.ID {
		t.Errorf("the successor of %s: got %v, want %s", old.ID, got, next.ID)
	}
	for _, f := range []pihu.KeyFilter{{AccountID: a.ID, RotatedFrom: next.ID}, {AccountID: b.ID, RotatedFrom: old.ID}} {
		if got, _ := mustList(t, s, f); len(got) != 0 {
			t.Errorf("%+v: got %v, want none", f, got)
		}
	}
}

// testFiltersCombinedAndPaged checks that filters combine (AND) with
// each other, with Environment and Enabled, and page as an unfiltered
// list does: full pages, has_more exact, both cursors, and a cursor the
// filters leave out still valid.
func testFiltersCombinedAndPaged(t *testing.T, s pihu.Store) {
	a, owner := mustCreateAccount(t, s, "Acme")
	support := mustRole(t, s, owner, "support", "interview:read")
	var match []*pihu.Key // newest last
	var all []*pihu.Key
	for i := range 20 {
		name, env, disabled := "svc-other", pihu.Live, false
		perms := pihu.Permissions{"interview:read"}
		var roles []string
		switch i % 4 {
		case 0: // matches: own write implies read
			name, perms = "svc-match", pihu.Permissions{"candidate:write"}
		case 1: // matches: through its role
			name, perms, roles = "svc-match", nil, []string{support.ID}
		case 2: // the right name and rights, the wrong environment
			name, env, perms = "svc-match", pihu.Test, pihu.Permissions{"candidate:read"}
		}
		if i == 17 { // the right everything, but disabled
			name, perms, disabled = "svc-match", pihu.Permissions{"candidate:read"}, true
		}
		k := filterKey(t, s, owner, name, i, func(r *pihu.KeyRequest) {
			r.Permissions, r.Roles, r.Environment = perms, roles, env
			r.Metadata = json.RawMessage(`{"team":"core"}`)
		})
		if disabled {
			k = disable(t, s, owner, a.ID, k.ID, false, epoch.Add(time.Hour))
		}
		all = append(all, k)
		if name == "svc-match" && env == pihu.Live && !disabled && i%4 != 1 {
			match = append(match, k)
		}
	}
	// Of the keys named svc-m…, live, enabled and of team core, those of
	// i%4 == 0 hold candidate:read (through candidate:write).
	f := pihu.KeyFilter{AccountID: a.ID, Environment: pihu.Live, Enabled: new(true), NamePrefix: "svc-m",
		Permission: "candidate:read", Metadata: map[string]string{"team": "core"}}
	slices.Reverse(match)
	var got []*pihu.Key
	cursor := ""
	for page := 0; ; page++ {
		p := f
		p.Limit, p.StartingAfter = 2, cursor
		keys, more := mustList(t, s, p)
		if len(keys) != 2 && more {
			t.Fatalf("page %d: %d keys with has_more; want full pages", page, len(keys))
		}
		got = append(got, keys...)
		if !more {
			break
		}
		cursor = keys[len(keys)-1].ID
	}
	if !slices.Equal(ids(got), ids(match)) {
		t.Fatalf("paged: got %v, want %v", ids(got), ids(match))
	}
	if len(match) != 5 {
		t.Fatalf("the test's own count: %d matching keys, want 5", len(match))
	}
	// Back from the oldest, and from a key the filters leave out.
	p := f
	p.Limit, p.EndingBefore = 2, match[4].ID
	keys, more := mustList(t, s, p)
	if !slices.Equal(ids(keys), ids(match[2:4])) || !more {
		t.Errorf("ending_before the oldest: got %v, %v; want %v, true", ids(keys), more, ids(match[2:4]))
	}
	p = f
	p.Limit, p.StartingAfter = 10, all[13].ID // a key of the role, without candidate:read
	keys, _ = mustList(t, s, p)
	if !slices.Equal(ids(keys), ids(match[1:])) {
		t.Errorf("starting_after a key left out: got %v, want %v", ids(keys), ids(match[1:]))
	}
	p = f
	p.Permission, p.Role = "interview:read", support.ID
	got, _ = mustList(t, s, p) // the role's keys but the disabled one
	if want := []*pihu.Key{all[13], all[9], all[5], all[1]}; !slices.Equal(ids(got), ids(want)) {
		t.Errorf("role and permission: got %v, want %v", ids(got), ids(want))
	}
}

// testFiltersInvalid checks that ListKeys refuses the filters
// KeyFilter.Validate refuses, with the same parameter.
func testFiltersInvalid(t *testing.T, s pihu.Store) {
	a, _ := mustCreateAccount(t, s, "Acme")
	for _, tt := range []struct {
		f     pihu.KeyFilter
		param string
	}{
		{pihu.KeyFilter{NamePrefix: "a\x00"}, "name_prefix"},
		{pihu.KeyFilter{Role: "support"}, "role"},
		{pihu.KeyFilter{Permission: "candidate"}, "permission"},
		{pihu.KeyFilter{Metadata: map[string]string{"": "x"}}, "metadata[]"},
	} {
		tt.f.AccountID = a.ID
		_, _, err := s.ListKeys(t.Context(), tt.f)
		checkError(t, err, pihu.EParameterInvalid, tt.param)
	}
}
