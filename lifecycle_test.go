package pihu_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// oldKey is a key to rotate: created a day before testNow, living 30 days.
func oldKey(tb testing.TB) *pihu.Key {
	tb.Helper()
	req := pihu.KeyRequest{Name: "Deploy", Permissions: pihu.Permissions{"candidate:read", "interview:write"}, Expiration: "30d", Environment: pihu.Test}
	k, _, err := pihu.NewKey("acct_1", req, nil, testNow.Add(-24*time.Hour))
	assertNoError(tb, err)
	k.RateLimit = pihu.StoredRateLimit("100/m")
	k.AllowedIPs = pihu.StoredAllowedIPs([]string{"10.0.0.0/8"})
	return k
}

func TestKey_Successor(t *testing.T) {
	t.Run("Fields", func(t *testing.T) {
		old := oldKey(t)
		next, secret, err := old.Successor(newCreator(t, pihu.Live, nil, "*"), testNow)
		assertNoError(t, err)
		if env, ok := pihu.ParseSecret(secret); !ok || env != pihu.Test {
			t.Errorf("secret: got (%v, %v), want a test key", env, ok)
		}
		if next.ID == old.ID || !strings.HasPrefix(next.ID, "key_") || string(next.Digest) == string(old.Digest) {
			t.Errorf("the new key shares the old one's id or digest")
		}
		if string(next.Digest) != string(pihu.Digest(secret)) || next.Hint != pihu.Hint(secret) {
			t.Errorf("Digest or Hint do not match the secret")
		}
		for _, f := range []struct{ name, got, want string }{
			{"AccountID", next.AccountID, old.AccountID},
			{"Name", next.Name, old.Name},
			{"Environment", string(next.Environment), string(old.Environment)},
			{"RateLimit", next.RateLimit.String(), old.RateLimit.String()},
			{"RotatedFrom", next.RotatedFrom, old.ID},
		} {
			if f.got != f.want {
				t.Errorf("%s: got %v, want %v", f.name, f.got, f.want)
			}
		}
		if !slices.Equal(next.Permissions, old.Permissions) || !slices.Equal(next.AllowedIPs.Strings(), old.AllowedIPs.Strings()) {
			t.Errorf("Permissions, AllowedIPs: got %v %v, want %v %v", next.Permissions, next.AllowedIPs, old.Permissions, old.AllowedIPs)
		}
		if !next.Created.Equal(testCreated) || next.Created.Location() != time.UTC {
			t.Errorf("Created: got %v, want %v", next.Created, testCreated)
		}
		// The lifetime, 30 days, counted from now.
		if want := testCreated.Add(30 * 24 * time.Hour); next.Expires == nil || !next.Expires.Equal(want) {
			t.Errorf("Expires: got %v, want %v", next.Expires, want)
		}
		if next.LastUsed != nil || next.Revoked != nil {
			t.Errorf("LastUsed, Revoked: got %v %v, want nil", next.LastUsed, next.Revoked)
		}
		// The new key's slices are its own (its AllowedIPs are a value).
		next.Permissions[0], next.AllowedIPs.Strings()[0] = "*", "0.0.0.0/0"
		if old.Permissions[0] != "candidate:read" || old.AllowedIPs.Strings()[0] != "10.0.0.0/8" {
			t.Errorf("changing the new key changed the old one: %v %v", old.Permissions, old.AllowedIPs)
		}
	})
	t.Run("NeverExpires", func(t *testing.T) {
		old := oldKey(t)
		old.Expires = nil
		next, _, err := old.Successor(newCreator(t, pihu.Live, nil, "*"), testNow)
		assertNoError(t, err)
		if next.Expires != nil {
			t.Errorf("Expires: got %v, want nil", next.Expires)
		}
	})

	soon := testCreated.Add(time.Hour)
	limited := newCreator(t, pihu.Live, nil, "*")
	limited.AllowedIPs = pihu.StoredAllowedIPs([]string{"10.0.0.0/8"})
	narrower := newCreator(t, pihu.Live, nil, "*")
	narrower.AllowedIPs = pihu.StoredAllowedIPs([]string{"10.1.0.0/16"})
	for _, tt := range []struct {
		name    string
		creator *pihu.Key
		edit    func(old *pihu.Key)
		code    string
		param   string
	}{
		{"SameAddresses", limited, nil, "", ""},
		{"ErrEscalation", newCreator(t, pihu.Live, nil, "candidate:read"), nil, pihu.EInsufficientPermissions, "permissions"},
		{"ErrOutlivesCreator", newCreator(t, pihu.Live, &soon, "*"), nil, pihu.EParameterInvalid, "expiration"},
		{"ErrNeverExpiresButCreatorDoes", newCreator(t, pihu.Live, &soon, "*"), func(k *pihu.Key) { k.Expires = nil }, pihu.EParameterInvalid, "expiration"},
		{"ErrTestCreatorLiveKey", newCreator(t, pihu.Test, nil, "*"), func(k *pihu.Key) { k.Environment = pihu.Live }, pihu.EInsufficientPermissions, "environment"},
		{"ErrWiderAddresses", narrower, nil, pihu.EInsufficientPermissions, "allowed_ips"},
		{"ErrAnywhereFromLimited", limited, func(k *pihu.Key) { k.AllowedIPs = pihu.AllowedIPs{} }, pihu.EInsufficientPermissions, "allowed_ips"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			old := oldKey(t)
			if tt.edit != nil {
				tt.edit(old)
			}
			next, secret, err := old.Successor(tt.creator, testNow)
			if tt.code == "" {
				assertNoError(t, err)
				return
			}
			e := assertError(t, err, tt.code, tt.param)
			if next != nil || secret != "" {
				t.Errorf("got a key with the error")
			}
			if tt.param == "expiration" && !strings.Contains(e.Message, soon.Format(time.RFC3339)) {
				t.Errorf("message %q does not say when the rotating key expires", e.Message)
			}
		})
	}
}

func TestParseExpireOldIn(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"now", 0}, {"1m", time.Minute}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"2w", 14 * 24 * time.Hour},
	} {
		got, err := pihu.ParseExpireOldIn(tt.in)
		assertNoError(t, err)
		if got != tt.want {
			t.Errorf("ParseExpireOldIn(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"", "NOW", "0m", "0", "1y", "-1h", "3651d", "now ", "1.5h"} {
		d, err := pihu.ParseExpireOldIn(in)
		e := assertError(t, err, pihu.EParameterInvalid, "expire_old_in")
		if d != 0 || !strings.Contains(e.Message, `"now"`) {
			t.Errorf("ParseExpireOldIn(%q): got %v, message %q", in, d, e.Message)
		}
	}
}

func TestLeakedSecrets(t *testing.T) {
	live, test := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test)
	lookalike := live[:len(live)-1] + "a"
	if strings.HasSuffix(live, "a") {
		lookalike = live[:len(live)-1] + "b"
	}
	got := pihu.LeakedSecrets([]string{"", "nope", live, lookalike, test, live, " " + test, strings.ToUpper(live)})
	if want := []string{live, test}; !slices.Equal(got, want) {
		t.Errorf("got %d secrets, want the 2 real ones once each, in order", len(got))
	}
	if got := pihu.LeakedSecrets(nil); len(got) != 0 {
		t.Errorf("nil: got %v", got)
	}
}

func TestCheckRevoke(t *testing.T) {
	narrow := func(k *pihu.Key, ips ...string) *pihu.Key {
		k.AllowedIPs = pihu.StoredAllowedIPs(ips)
		return k
	}
	owner := newCreator(t, pihu.Live, nil, "*")
	for _, tt := range []struct {
		name           string
		caller, target *pihu.Key
		wantParam      string
		wantRequired   string
		wantOK         bool
	}{
		{name: "Itself", caller: newCreator(t, pihu.Test, nil, "api_key:write"), wantOK: true},
		{name: "HoldsEverything", caller: newCreator(t, pihu.Live, nil, "api_key:*", "candidate:write"),
			target: newCreator(t, pihu.Live, nil, "api_key:write", "candidate:read"), wantOK: true},
		{name: "OwnerRevokesAnything", caller: owner, target: narrow(newCreator(t, pihu.Test, nil, "candidate:*"), "10.0.0.1"), wantOK: true},
		{name: "ErrWriteOnlyRevokesOwner", caller: narrow(newCreator(t, pihu.Live, nil, "api_key:write"), "203.0.113.7"),
			target: owner, wantRequired: "*"},
		{name: "ErrMissingOnePermission", caller: newCreator(t, pihu.Live, nil, "api_key:write"),
			target: newCreator(t, pihu.Live, nil, "api_key:write", "interview:read"), wantRequired: "interview:read"},
		{name: "ErrTestRevokesLive", caller: newCreator(t, pihu.Test, nil, "*"),
			target: newCreator(t, pihu.Live, nil, "candidate:read")},
		{name: "LiveRevokesTest", caller: newCreator(t, pihu.Live, nil, "api_key:write", "candidate:read"),
			target: newCreator(t, pihu.Test, nil, "candidate:read"), wantOK: true},
		{name: "ErrNarrowCallerUnlimitedTarget", caller: narrow(newCreator(t, pihu.Live, nil, "*"), "10.0.0.0/8"),
			target: newCreator(t, pihu.Live, nil, "candidate:read"), wantParam: ""},
		{name: "ErrNarrowCallerWiderTarget", caller: narrow(newCreator(t, pihu.Live, nil, "*"), "10.1.0.0/16"),
			target: narrow(newCreator(t, pihu.Live, nil, "candidate:read"), "10.1.2.3", "10.2.0.0/16"), wantParam: ""},
		{name: "NarrowCallerTargetWithin", caller: narrow(newCreator(t, pihu.Live, nil, "*"), "10.0.0.0/8", "2001:db8::/32"),
			target: narrow(newCreator(t, pihu.Live, nil, "candidate:read"), "10.1.2.3", "2001:db8:1::/48"), wantOK: true},
		{name: "UnlimitedCallerNarrowTarget", caller: newCreator(t, pihu.Live, nil, "api_key:write", "candidate:read"),
			target: narrow(newCreator(t, pihu.Live, nil, "candidate:read"), "10.1.2.3"), wantOK: true},
		// A token is not its key: it never revokes its parent, whatever
		// its permissions.
		{name: "ErrTokenRevokesItsKey", caller: tokenOf(owner), target: owner},
		{name: "TokenRevokesOther", caller: tokenOf(owner), target: newCreator(t, pihu.Live, nil, "candidate:read"), wantOK: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == nil {
				target = tt.caller
			}
			err := pihu.CheckRevoke(tt.caller, target)
			if tt.wantOK {
				assertNoError(t, err)
				return
			}
			assertError(t, err, pihu.EInsufficientPermissions, tt.wantParam)
			if e, _ := err.(*pihu.Error); e != nil && e.Required != tt.wantRequired {
				t.Errorf("Required: got %q, want %q", e.Required, tt.wantRequired)
			}
		})
	}
}

// tokenOf is k as a request made with an access token of it, with all of
// k's permissions, sees it.
func tokenOf(k *pihu.Key) *pihu.Key {
	at := &pihu.AccessToken{ID: pihu.NewID(pihu.PrefixToken), KeyID: k.ID, AccountID: k.AccountID, Environment: k.Environment,
		Permissions: k.Permissions, Issued: testNow, Expires: testNow.Add(time.Hour)}
	return at.Restrict(k)
}

func TestKey_IsSelf(t *testing.T) {
	k := newCreator(t, pihu.Live, nil, "*")
	other := newCreator(t, pihu.Live, nil, "*")
	if !k.IsSelf(k.ID) || k.IsSelf(other.ID) || tokenOf(k).IsSelf(k.ID) {
		t.Error("IsSelf: want true for the key's own secret only, not for its token or another key")
	}
}

func TestSuccessor_TokenOfTheKey(t *testing.T) {
	k := newCreator(t, pihu.Live, nil, "*")
	_, _, err := k.Successor(tokenOf(k), testNow)
	assertError(t, err, pihu.EInsufficientPermissions, "")
}
