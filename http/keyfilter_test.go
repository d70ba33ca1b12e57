package http_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/pihu-ai/pihu"
	pihuhttp "github.com/pihu-ai/pihu/http"
)

// listKeys lists the keys query keeps, as key, and returns the page.
func (ts *testServer) listKeys(tb testing.TB, key, query string) pihuhttp.KeyList {
	tb.Helper()
	res := ts.do(tb, "GET", "/v1/auth/api-keys?"+query, key, "")
	if res.status != 200 {
		tb.Fatalf("list %s: got %d %s", query, res.status, res.body)
	}
	var l pihuhttp.KeyList
	res.decode(tb, &l)
	return l
}

func keyNames(l pihuhttp.KeyList) []string {
	names := []string{}
	for _, k := range l.Data {
		names = append(names, k.Name)
	}
	return names
}

// TestKeys_ListFilters checks the filters of GET /v1/auth/api-keys
// through the API: name_prefix (exact, "%" and "_" literal), role,
// permission (own, through a role, wildcards, write implying read),
// metadata[NAME] (several ANDed, names escaped in the URL), all combined
// with each other and with enabled; another account's role keeps nothing;
// a test key's filtered list holds test keys only.
func TestKeys_ListFilters(t *testing.T) {
	ts := newTestServer(t)
	ts.do(t, "POST", "/v1/permissions", ts.Owner, `{"name":"billing:read"}`)
	support := ts.newRole(t, ts.Owner, `{"name":"support","permissions":["candidate:write"]}`)
	ts.newKey(t, ts.Owner, `{"name":"web_1","permissions":["candidate:read"],"metadata":{"team":"web","tier":"1"}}`)
	ts.newKey(t, ts.Owner, `{"name":"web%2","permissions":["interview:read"],"roles":["`+support.ID+`"],"metadata":{"team":"web","tier":"2"}}`)
	ts.newKey(t, ts.Owner, `{"name":"webX3","permissions":["candidate:*"],"metadata":{"team":"data","a b&c":"x=y"}}`)
	disabled := ts.newKey(t, ts.Owner, `{"name":"Web-4","permissions":["candidate:write"],"metadata":{"team":"web","tier":"1"}}`)
	ts.setEnabled(t, ts.Owner, disabled.ID, false)
	ts.newKey(t, ts.Owner, `{"name":"web_test","permissions":["candidate:read"],"environment":"test","metadata":{"team":"web"}}`)
	testKey := ts.newKey(t, ts.Owner, `{"name":"tester","permissions":["api_key:read"],"environment":"test"}`)
	_, otherOwner := ts.newAccount(t, "Other")
	theirs := ts.newRole(t, otherOwner, `{"name":"support","permissions":["candidate:write"]}`)
	ts.newKey(t, otherOwner, `{"name":"web_theirs","permissions":["candidate:read"],"roles":["`+theirs.ID+`"]}`)

	owner := pihu.OwnerKeyRequest().Name
	for _, tt := range []struct {
		name, query string
		want        []string
	}{
		{"NamePrefix", "name_prefix=web", []string{"web_test", "webX3", "web%2", "web_1"}},
		{"NamePrefixCaseSensitive", "name_prefix=Web", []string{"Web-4"}},
		{"NamePrefixUnderscoreLiteral", "name_prefix=web_", []string{"web_test", "web_1"}},
		{"NamePrefixPercentLiteral", "name_prefix=" + url.QueryEscape("web%"), []string{"web%2"}},
		{"NamePrefixPercentAlone", "name_prefix=%25", nil},
		{"Role", "role=" + support.ID, []string{"web%2"}},
		{"RoleOfAnotherAccount", "role=" + theirs.ID, nil},
		{"RoleUnknown", "role=" + pihu.NewID(pihu.PrefixRole), nil},
		{"PermissionOwnAndRoleAndWildcard", "permission=candidate:read", []string{"web_test", "Web-4", "webX3", "web%2", "web_1", owner}},
		{"PermissionWrite", "permission=candidate:write", []string{"Web-4", "webX3", "web%2", owner}},
		{"PermissionWildcard", "permission=" + url.QueryEscape("candidate:*"), []string{"webX3", owner}},
		{"PermissionEverything", "permission=*", []string{owner}},
		{"PermissionNoKey", "permission=billing:read", []string{owner}},
		{"Metadata", "metadata[team]=web", []string{"web_test", "Web-4", "web%2", "web_1"}},
		{"MetadataTwo", "metadata[team]=web&metadata[tier]=1", []string{"Web-4", "web_1"}},
		{"MetadataEscapedName", "metadata%5Ba+b%26c%5D=x%3Dy", []string{"webX3"}},
		{"MetadataNumberIsNoString", "metadata[tier]=01", nil},
		{"Combined", "metadata[team]=web&metadata[tier]=1&enabled=true&permission=candidate:read&name_prefix=web", []string{"web_1"}},
		{"CombinedRole", "role=" + support.ID + "&permission=interview:read&name_prefix=web", []string{"web%2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyNames(ts.listKeys(t, ts.Owner, "limit=100&"+tt.query)); !slices.Equal(got, append([]string{}, tt.want...)) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("TestKeySeesTestKeysOnly", func(t *testing.T) {
		if got := keyNames(ts.listKeys(t, testKey.Key, "name_prefix=web&metadata[team]=web")); !slices.Equal(got, []string{"web_test"}) {
			t.Errorf("got %q, want [web_test]", got)
		}
	})

	path := "/v1/auth/api-keys?"
	reader := ts.newKey(t, ts.Owner, `{"name":"reader","permissions":["candidate:read"]}`)
	ts.run(t, []scenario{
		{name: "ErrNamePrefixEmpty", method: "GET", path: path + "name_prefix=", key: ts.Owner, status: 400, code: "parameter_invalid", param: "name_prefix"},
		{name: "ErrNamePrefixControl", method: "GET", path: path + "name_prefix=a%0Ab", key: ts.Owner, status: 400, code: "parameter_invalid", param: "name_prefix"},
		{name: "ErrNamePrefixNotUTF8", method: "GET", path: path + "name_prefix=%FF", key: ts.Owner, status: 400, code: "parameter_invalid", param: "name_prefix"},
		{name: "ErrRoleName", method: "GET", path: path + "role=support", key: ts.Owner, status: 400, code: "parameter_invalid", param: "role"},
		{name: "ErrRoleEmpty", method: "GET", path: path + "role=", key: ts.Owner, status: 400, code: "parameter_invalid", param: "role"},
		{name: "ErrPermission", method: "GET", path: path + "permission=Candidate:Read", key: ts.Owner, status: 400, code: "parameter_invalid", param: "permission"},
		{name: "ErrPermissionTwice", method: "GET", path: path + "permission=candidate:read&permission=interview:read", key: ts.Owner, status: 400, code: "parameter_invalid", param: "permission"},
		{name: "ErrMetadataNoName", method: "GET", path: path + "metadata[]=x", key: ts.Owner, status: 400, code: "parameter_unknown", param: "metadata[]"},
		{name: "ErrMetadataBare", method: "GET", path: path + "metadata=x", key: ts.Owner, status: 400, code: "parameter_unknown", param: "metadata"},
		{name: "ErrMetadataTwice", method: "GET", path: path + "metadata[team]=web&metadata[team]=data", key: ts.Owner, status: 400, code: "parameter_invalid", param: "metadata[team]"},
		{name: "ErrUnknown", method: "GET", path: path + "name=web", key: ts.Owner, status: 400, code: "parameter_unknown", param: "name"},
		{name: "ErrNoKey", method: "GET", path: path + "name_prefix=web", status: 401, code: "missing_api_key"},
		{name: "ErrNotItsRight", method: "GET", path: path + "name_prefix=web", key: reader.Key, status: 403, code: "insufficient_permissions"},
	})
}

// TestKeys_ListFiltersPaged pages through a filtered list: every page
// full, has_more exact, starting_after and ending_before both ways, with a
// cursor the filters leave out (a key of the list all the same), and the
// cursor of another account's key a 400 that names it as unknown.
func TestKeys_ListFiltersPaged(t *testing.T) {
	ts := newTestServer(t)
	var want []string // newest first
	var left []string // ids of the keys the filter leaves out
	for i := range 12 {
		body := fmt.Sprintf(`{"name":"svc-%02d","permissions":["candidate:write"],"metadata":{"team":"core"}}`, i)
		if i%3 == 1 {
			body = fmt.Sprintf(`{"name":"svc-%02d","permissions":["interview:read"],"metadata":{"team":"core"}}`, i)
		}
		k := ts.newKey(t, ts.Owner, body)
		if i%3 == 1 {
			left = append(left, k.ID)
			continue
		}
		want = append([]string{k.ID}, want...)
	}
	filter := "limit=3&name_prefix=svc-&permission=candidate:read&metadata[team]=core"
	var got []string
	cursor := ""
	for {
		q := filter
		if cursor != "" {
			q += "&starting_after=" + cursor
		}
		l := ts.listKeys(t, ts.Owner, q)
		if l.HasMore && len(l.Data) != 3 {
			t.Fatalf("a page of %d with has_more; want full pages", len(l.Data))
		}
		for _, k := range l.Data {
			got = append(got, k.ID)
		}
		if !l.HasMore {
			break
		}
		cursor = l.Data[len(l.Data)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged: got %v, want %v", got, want)
	}
	ids := func(l pihuhttp.KeyList) []string {
		var out []string
		for _, k := range l.Data {
			out = append(out, k.ID)
		}
		return out
	}
	back := ts.listKeys(t, ts.Owner, filter+"&ending_before="+want[len(want)-1])
	if !slices.Equal(ids(back), want[len(want)-4:len(want)-1]) || !back.HasMore {
		t.Errorf("ending_before the oldest: got %v, has_more %t; want %v, true", ids(back), back.HasMore, want[len(want)-4:len(want)-1])
	}
	// left[1] is svc-04: after it come svc-03, -02, -00.
	after := ts.listKeys(t, ts.Owner, filter+"&starting_after="+left[1])
	if !slices.Equal(ids(after), want[len(want)-3:]) || after.HasMore {
		t.Errorf("starting_after a key left out: got %v, has_more %t; want %v, false", ids(after), after.HasMore, want[len(want)-3:])
	}
	_, otherOwner := ts.newAccount(t, "Other")
	theirs := ts.newKey(t, otherOwner, `{"name":"svc-theirs","permissions":["candidate:read"],"metadata":{"team":"core"}}`)
	ts.run(t, []scenario{
		{name: "ErrCursorOfAnotherAccount", method: "GET", path: "/v1/auth/api-keys?" + filter + "&starting_after=" + theirs.ID, key: ts.Owner, status: 400, code: "parameter_invalid", param: "starting_after"},
	})
}
