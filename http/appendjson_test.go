package http

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// marshalWhoami is whoami's body as json.Marshal writes it, the way the
// handler wrote it before appendWhoami.
func marshalWhoami(t testing.TB, k *pihu.Key, a *pihu.Account) string {
	var out whoamiResponse
	out.Key.ID, out.Key.Name, out.Key.Permissions = k.ID, k.Name, k.Permissions.Strings()
	out.Key.Environment, out.Key.Expires = string(k.Environment), timestampPtr(k.Expires)
	out.Account.ID, out.Account.Name = a.ID, a.Name
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// TestAppendWhoami: whoami's hand-written body is json.Marshal's, byte
// for byte, for names that need escaping, any permissions (none, one,
// several) and an expiry or none.
func TestAppendWhoami(t *testing.T) {
	exp := time.Date(2027, 3, 4, 5, 6, 7, 890, time.FixedZone("X", -7*3600))
	a := &pihu.Account{ID: "acct_1", Name: `Acme <"&"> \ é`}
	for _, k := range []*pihu.Key{
		{ID: "key_1", Name: "plain", Environment: pihu.Live, Permissions: pihu.Permissions{"api_key:read"}},
		{ID: "key_2", Name: "", Environment: pihu.Test, Permissions: pihu.Permissions{}, Expires: &exp},
		{ID: "key_3", Name: "a\x00\b\f\n\r\t\x1f\x7f\u2028\u2029\xff<script>", Environment: pihu.Live,
			Permissions: pihu.Permissions{"api_key:read", "api_key:write", "candidate:read"}},
		{ID: "key_4", Name: "nil permissions", Environment: pihu.Live},
	} {
		want := marshalWhoami(t, k, a)
		if k.Permissions == nil {
			// Strings() of nil is an empty list, never null: the same
			// for both.
			want = marshalWhoami(t, &pihu.Key{ID: k.ID, Name: k.Name, Environment: k.Environment, Permissions: pihu.Permissions{}}, a)
		}
		if got := string(appendWhoami(nil, k, a)); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// TestHealthzBody: healthz's fixed body is json.Marshal's.
func TestHealthzBody(t *testing.T) {
	b, _ := json.Marshal(map[string]string{"status": "ok"})
	if got, want := string(healthzBody), string(b)+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzAppendJSONString: any string is appended as json.Marshal writes it.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "<>&", "\x00\b\f\n\r\t\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é日本\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	})
}
