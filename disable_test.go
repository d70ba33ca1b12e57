package pihu_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// TestKey_ActiveDisabled checks the order of Key.Active's reasons: a
// revoked or expired key is told so (for good) even if it is also
// disabled; a disabled one is EDisabledAPIKey.
func TestKey_ActiveDisabled(t *testing.T) {
	past := testNow.Add(-time.Minute)
	for _, tt := range []struct {
		name string
		k    pihu.Key
		code string
	}{
		{"Disabled", pihu.Key{Disabled: true}, pihu.EDisabledAPIKey},
		{"RevokedAndDisabled", pihu.Key{Disabled: true, Revoked: &past}, pihu.ERevokedAPIKey},
		{"ExpiredAndDisabled", pihu.Key{Disabled: true, Expires: &past}, pihu.EExpiredAPIKey},
		{"Enabled", pihu.Key{}, ""},
	} {
		ok, code := tt.k.Active(testNow)
		if ok != (tt.code == "") || code != tt.code {
			t.Errorf("%s: got %t %q, want %q", tt.name, ok, code, tt.code)
		}
	}
}

// TestKeyChange_Enabled checks PATCH enabled in the domain: the state it
// sets, the events it records (api_key.disabled or api_key.enabled only
// when the state changes, beside api_key.updated of the other fields),
// and the rules: the caller's rights over the key, and a key may disable
// itself but never enable itself.
func TestKeyChange_Enabled(t *testing.T) {
	owner := &pihu.Key{ID: "key_owner", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
	newKey := func(disabled bool) *pihu.Key {
		return &pihu.Key{ID: "key_1", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"api_key:write"}, Disabled: disabled}
	}
	name := "Renamed"
	for _, tt := range []struct {
		name     string
		caller   *pihu.Key // nil: the key itself
		disabled bool      // the key's state before
		change   pihu.KeyChange
		code     string
		events   string
	}{
		{name: "Disable", caller: owner, change: pihu.KeyChange{Enabled: new(false)}, events: "api_key.disabled"},
		{name: "Enable", caller: owner, disabled: true, change: pihu.KeyChange{Enabled: new(true)}, events: "api_key.enabled"},
		{name: "AlreadyDisabled", caller: owner, disabled: true, change: pihu.KeyChange{Enabled: new(false)}, events: ""},
		{name: "WithName", caller: owner, change: pihu.KeyChange{Enabled: new(false), Name: &name}, events: "api_key.updated name, api_key.disabled"},
		{name: "DisableItself", change: pihu.KeyChange{Enabled: new(false)}, events: "api_key.disabled"},
		{name: "ErrEnableItself", disabled: true, change: pihu.KeyChange{Enabled: new(true)}, code: pihu.EInsufficientPermissions},
		{name: "ErrNoRights", caller: &pihu.Key{ID: "key_2", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"candidate:read"}},
			change: pihu.KeyChange{Enabled: new(false)}, code: pihu.EInsufficientPermissions},
		{name: "ErrTestOnLive", caller: &pihu.Key{ID: "key_3", AccountID: "acct_1", Environment: pihu.Test, Permissions: pihu.Permissions{"*"}},
			change: pihu.KeyChange{Enabled: new(false)}, code: pihu.EInsufficientPermissions},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(tt.disabled)
			caller := tt.caller
			if caller == nil {
				caller = newKey(tt.disabled)
			}
			c := tt.change
			if err := c.Validate(testNow); err != nil {
				t.Fatal(err)
			}
			err := c.Apply(caller, k, testNow)
			if pihu.ErrorCode(err) != tt.code {
				t.Fatalf("Apply: got %v, want %q", err, tt.code)
			}
			if err != nil {
				return
			}
			if want := *c.Enabled; k.Disabled == want {
				t.Errorf("Disabled: got %t, want %t", k.Disabled, !want)
			}
			var got []string
			for _, ev := range c.Events(caller.ID, "203.0.113.7", k, testNow) {
				s := ev.Action
				if len(ev.Changes) > 0 {
					s += " " + strings.Join(ev.Changes, ",")
				}
				if ev.Target != k.ID || ev.Actor != caller.ID {
					t.Errorf("event %+v: want target %s, actor %s", ev, k.ID, caller.ID)
				}
				got = append(got, s)
			}
			if strings.Join(got, ", ") != tt.events {
				t.Errorf("events: got %q, want %q", strings.Join(got, ", "), tt.events)
			}
		})
	}
	if got := (&pihu.KeyChange{Enabled: new(true)}).Fields(); !slices.Equal(got, []string{"enabled"}) {
		t.Errorf("Fields: got %v, want [enabled]", got)
	}
}

// TestDisabled_Rules checks the other rules a disabled key meets: it may
// not act (Actor.Check, which every write applies in its transaction), a
// rotation keeps it disabled, and a leak report acts on it as on an
// enabled key.
func TestDisabled_Rules(t *testing.T) {
	k := &pihu.Key{ID: "key_1", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"candidate:read"}, Created: testNow, Disabled: true}
	actor := pihu.Actor{AccountID: "acct_1", KeyID: k.ID, At: testNow}
	if err := actor.Check(k); pihu.ErrorCode(err) != pihu.EDisabledAPIKey {
		t.Errorf("Actor.Check: got %v, want %s", err, pihu.EDisabledAPIKey)
	}
	owner := &pihu.Key{ID: "key_owner", AccountID: "acct_1", Environment: pihu.Live, Permissions: pihu.Permissions{"*"}}
	next, _, err := k.Successor(owner, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !next.Disabled {
		t.Error("Successor of a disabled key: enabled, want disabled")
	}
	leak := pihu.NewLeak(pihu.ActorGitHubSecretScanning, "https://github.com/acme/app", "commit", testNow)
	if got := leak.LeakAction(k, pihu.LeakRevoke, false); got != pihu.LeakRevoked {
		t.Errorf("LeakAction on a disabled key: got %v, want revoked", got)
	}
}
