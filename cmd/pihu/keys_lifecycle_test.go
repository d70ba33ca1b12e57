package main_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// createdKey is the --json answer of `pihu keys create` and `pihu keys
// rotate`.
type createdKey struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Key         string     `json:"key"`
	Created     time.Time  `json:"created"`
	Expires     *time.Time `json:"expires"`
	Permissions []string   `json:"permissions"`
	Environment string     `json:"environment"`
	RotatedFrom string     `json:"rotated_from"`
}

// cliCreate creates a key with `pihu keys create --json` and the extra
// args.
func cliCreate(tb testing.TB, url, key, name string, args ...string) createdKey {
	tb.Helper()
	r := pihuCLI(tb, url, key, append([]string{"keys", "create", "--json", "--name", name}, args...)...).ok(tb)
	var k createdKey
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.ID == "" || k.Key == "" {
		tb.Fatalf("create --json: got %q (%v)", r.stdout, err)
	}
	return k
}

// failsWith checks that r is a failure with exit code 1, nothing on
// stdout and one line on stderr starting with "pihu: " and holding want,
// and that no key of keys is in its output.
func (r cli) failsWith(tb testing.TB, want string, keys ...string) {
	tb.Helper()
	if r.code != 1 {
		tb.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		tb.Errorf("stderr %q does not contain %q", r.stderr, want)
	}
	if lines := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") + 1; lines != 1 || !strings.HasPrefix(r.stderr, "pihu: ") {
		tb.Errorf("want one line starting with \"pihu: \" on stderr, got %d:\n%s", lines, r.stderr)
	}
	if r.stdout != "" {
		tb.Errorf("stdout on failure: %q", r.stdout)
	}
	for _, k := range keys {
		if strings.Contains(r.stderr, k[8:]) || strings.Contains(r.stdout, k[8:]) {
			tb.Errorf("the output holds a key:\n%s%s", r.stdout, r.stderr)
		}
	}
}

func TestKeysCommands_Revoke(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)

	t.Run("Table", func(t *testing.T) {
		k := cliCreate(t, s.url, owner, "CI runner", "--permission", "api_key:read", "--expiration", "30d")
		pihuCLI(t, s.url, k.Key, "keys", "list").ok(t) // it works before

		r := pihuCLI(t, s.url, owner, "keys", "revoke", k.ID).ok(t)
		for _, want := range []string{
			`Revoked the API key "CI runner" (` + k.ID + `): it no longer works.`,
			"ID           " + k.ID,
			"Name         CI runner",
			"Permissions  api_key:read",
			"Hint         " + pihu.Hint(k.Key),
			"Revoked      true",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("revoke: want %q in\n%s", want, r.stdout)
			}
		}
		if keyPattern.MatchString(r.stdout) || r.stderr != "" {
			t.Errorf("revoke: a secret on stdout or anything on stderr:\n%s%s", r.stdout, r.stderr)
		}

		// The key has left the account and no longer works.
		pihuCLI(t, s.url, owner, "keys", "get", k.ID).failsWith(t, "not_found (404)", owner, k.Key)
		pihuCLI(t, s.url, k.Key, "keys", "list").failsWith(t, "revoked_api_key", owner, k.Key)
		pihuCLI(t, s.url, owner, "keys", "revoke", k.ID).failsWith(t, "not_found (404)", owner, k.Key)
	})
	t.Run("JSON", func(t *testing.T) {
		k := cliCreate(t, s.url, owner, "json", "--permission", "candidate:read")
		r := pihuCLI(t, s.url, owner, "keys", "revoke", "--json", k.ID).ok(t)
		var got struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Hint    string `json:"hint"`
			Revoked *bool  `json:"revoked"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("revoke --json: got %q (%v)", r.stdout, err)
		}
		if got.ID != k.ID || got.Name != "json" || got.Hint != pihu.Hint(k.Key) || got.Revoked == nil || !*got.Revoked {
			t.Errorf("revoke --json: got %s", r.stdout)
		}
		if strings.Contains(r.stdout, k.Key) {
			t.Errorf("revoke --json shows the secret: %s", r.stdout)
		}
		pihuCLI(t, s.url, owner, "keys", "get", "--json", k.ID).failsWith(t, "not_found", owner, k.Key)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		pihuCLI(t, s.url, owner, "keys", "revoke", "key_nope").failsWith(t, "not_found (404)", owner)
	})
	t.Run("ErrNoPermission", func(t *testing.T) {
		reader := cliCreate(t, s.url, owner, "reader", "--permission", "api_key:read")
		target := cliCreate(t, s.url, owner, "target", "--permission", "candidate:read")
		pihuCLI(t, s.url, reader.Key, "keys", "revoke", target.ID).failsWith(t, "insufficient_permissions", owner, reader.Key, target.Key)
		pihuCLI(t, s.url, owner, "keys", "get", target.ID).ok(t)
	})
	t.Run("Cascade", func(t *testing.T) {
		parent := cliCreate(t, s.url, owner, "parent", "--permission", "api_key:write", "--permission", "candidate:read")
		child := cliCreate(t, s.url, parent.Key, "child", "--permission", "candidate:read")
		r := pihuCLI(t, s.url, owner, "keys", "revoke", "--cascade", parent.ID).ok(t)
		if !strings.Contains(r.stdout, "Revoked with it: 1 keys") {
			t.Errorf("revoke --cascade: want the count of keys revoked with it in\n%s", r.stdout)
		}
		pihuCLI(t, s.url, child.Key, "keys", "list").failsWith(t, "revoked_api_key", owner, child.Key)
	})
	t.Run("ErrNarrowKeyRevokesOwner", func(t *testing.T) {
		narrow := cliCreate(t, s.url, owner, "narrow", "--permission", "api_key:write")
		list := pihuCLI(t, s.url, owner, "keys", "list", "--json").ok(t)
		var keys struct {
			Data []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(list.stdout), &keys); err != nil {
			t.Fatal(err)
		}
		var ownerID string
		for _, k := range keys.Data {
			if k.Name == "Owner key" {
				ownerID = k.ID
			}
		}
		pihuCLI(t, s.url, narrow.Key, "keys", "revoke", ownerID).failsWith(t, "insufficient_permissions", owner, narrow.Key)
		pihuCLI(t, s.url, owner, "keys", "list").ok(t)
	})
	t.Run("Usage", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"keys", "revoke"}, "usage: pihu keys revoke ID"},
			{[]string{"keys", "revoke", "--json"}, "usage: pihu keys revoke ID"},
			{[]string{"keys", "revoke", "--nope", "key_a"}, "not defined"},
		} {
			r := pihuCLI(t, s.url, owner, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("pihu %v: got exit code %d and stderr %q, want 2 and %q", tc.args, r.code, r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("pihu %v: stdout %q", tc.args, r.stdout)
			}
		}
	})
}

func TestKeysCommands_Rotate(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)

	t.Run("Table", func(t *testing.T) {
		old := cliCreate(t, s.url, owner, "CI runner", "--permission", "api_key:read", "--permission", "candidate:read", "--expiration", "30d")
		r := pihuCLI(t, s.url, owner, "keys", "rotate", old.ID).ok(t)
		secrets := keyPattern.FindAllString(r.stdout, -1)
		if len(secrets) != 1 || secrets[0] == old.Key {
			t.Fatalf("rotate: want the new secret once and not the old one in\n%s", r.stdout)
		}
		next := secrets[0]
		if env, ok := pihu.ParseSecret(next); !ok || env != pihu.Live {
			t.Errorf("rotate: the new secret does not parse as a live key")
		}
		for _, want := range []string{
			"Rotated " + old.ID + ": the old key stops working now.",
			`The new key "CI runner"`,
			"Name          CI runner",
			"Permissions   api_key:read, candidate:read",
			"Rotated from  " + old.ID,
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("rotate: want %q in\n%s", want, r.stdout)
			}
		}
		if r.stderr != "" {
			t.Errorf("rotate: stderr %q", r.stderr)
		}

		// The new key works and is the only one of its name; the old one
		// is refused at once.
		r = pihuCLI(t, s.url, next, "keys", "list", "--json").ok(t)
		var page struct {
			Data []struct{ ID, Name, Hint string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
			t.Fatalf("list --json: got %q (%v)", r.stdout, err)
		}
		var names []string
		for _, k := range page.Data {
			if k.ID == old.ID {
				t.Errorf("list: the old key is still listed")
			}
			if k.Name == "CI runner" {
				names = append(names, k.Hint)
			}
		}
		if len(names) != 1 || names[0] != pihu.Hint(next) {
			t.Errorf("list: got the hints %v of keys named \"CI runner\", want only %s", names, pihu.Hint(next))
		}
		pihuCLI(t, s.url, old.Key, "keys", "list").failsWith(t, "revoked_api_key", owner, old.Key, next)
		pihuCLI(t, s.url, owner, "keys", "rotate", old.ID).failsWith(t, "not_found (404)", owner, old.Key, next)
	})
	t.Run("JSON", func(t *testing.T) {
		old := cliCreate(t, s.url, owner, "json", "--permission", "candidate:read", "--environment", "test", "--expiration", "7d")
		r := pihuCLI(t, s.url, owner, "keys", "rotate", old.ID, "--json").ok(t)
		var next createdKey
		if err := json.Unmarshal([]byte(r.stdout), &next); err != nil {
			t.Fatalf("rotate --json: got %q (%v)", r.stdout, err)
		}
		if !strings.Contains(r.stdout, `"rotated_from"`) || next.RotatedFrom != old.ID || next.ID == old.ID ||
			next.Name != "json" || next.Environment != "test" || !strings.HasPrefix(next.Key, "ph_test_") ||
			len(next.Permissions) != 1 || next.Permissions[0] != "candidate:read" {
			t.Errorf("rotate --json: got %s", r.stdout)
		}
		if next.Expires == nil || next.Expires.Sub(next.Created) != 7*24*time.Hour {
			t.Errorf("rotate --json: expires %v, created %v; want the old lifetime of 7 days", next.Expires, next.Created)
		}
		if strings.Contains(r.stdout, old.Key) {
			t.Errorf("rotate --json shows the old secret: %s", r.stdout)
		}
	})
	t.Run("ExpireOldIn", func(t *testing.T) {
		old := cliCreate(t, s.url, owner, "deploy", "--permission", "api_key:read")
		r := pihuCLI(t, s.url, owner, "keys", "rotate", "--expire-old-in", "24h", old.ID).ok(t)
		if !strings.Contains(r.stdout, "Rotated "+old.ID+": the old key stops working in 24h.") {
			t.Errorf("rotate --expire-old-in 24h: output\n%s", r.stdout)
		}
		next := keyPattern.FindString(r.stdout)
		if next == "" || next == old.Key || strings.Count(r.stdout, next) != 1 {
			t.Fatalf("rotate --expire-old-in 24h: want the new secret once in\n%s", r.stdout)
		}

		// Both keys work during the grace period; the old one now
		// expires 24 hours from now.
		pihuCLI(t, s.url, next, "keys", "list").ok(t)
		pihuCLI(t, s.url, old.Key, "keys", "list").ok(t)
		r = pihuCLI(t, s.url, old.Key, "keys", "get", old.ID, "--json").ok(t)
		var item struct{ Expires *time.Time }
		if err := json.Unmarshal([]byte(r.stdout), &item); err != nil || item.Expires == nil {
			t.Fatalf("get --json of the old key: got %q (%v)", r.stdout, err)
		}
		if d := time.Until(*item.Expires); d < 23*time.Hour || d > 24*time.Hour+time.Minute {
			t.Errorf("the old key expires in %v, want about 24h", d)
		}
	})
	t.Run("ErrExpireOldInInvalid", func(t *testing.T) {
		old := cliCreate(t, s.url, owner, "bad grace", "--permission", "api_key:read")
		pihuCLI(t, s.url, owner, "keys", "rotate", old.ID, "--expire-old-in", "tomorrow").failsWith(t, "parameter_invalid", owner, old.Key)
		pihuCLI(t, s.url, old.Key, "keys", "list").ok(t) // untouched
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		pihuCLI(t, s.url, owner, "keys", "rotate", "key_nope").failsWith(t, "not_found (404)", owner)
	})
	t.Run("ErrNoPermission", func(t *testing.T) {
		reader := cliCreate(t, s.url, owner, "reader", "--permission", "api_key:read")
		pihuCLI(t, s.url, reader.Key, "keys", "rotate", reader.ID).failsWith(t, "insufficient_permissions", owner, reader.Key)
		pihuCLI(t, s.url, reader.Key, "keys", "list").ok(t) // untouched
	})
	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"keys", "rotate"},
			{"keys", "rotate", "--expire-old-in", "24h"},
			{"keys", "rotate", "key_a", "key_b"},
		} {
			r := pihuCLI(t, s.url, owner, args...)
			if r.code != 2 || !strings.Contains(r.stderr, "usage: pihu keys rotate ID") {
				t.Errorf("pihu %v: exit code %d, want 2 and the usage; stderr:\n%s", args, r.code, r.stderr)
			}
			if r.stdout != "" || strings.Contains(r.stderr, owner[8:]) {
				t.Errorf("pihu %v: stdout %q, stderr %q", args, r.stdout, r.stderr)
			}
		}
	})
}

// TestKeysCommands_Disable disables a key with the CLI and enables it
// again: the key is refused with disabled_api_key meanwhile, the tables
// show its state, and list --enabled filters by it.
func TestKeysCommands_Disable(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	k := cliCreate(t, s.url, owner, "CI runner", "--permission", "api_key:read")
	pihuCLI(t, s.url, k.Key, "keys", "list").ok(t)

	r := pihuCLI(t, s.url, owner, "keys", "disable", k.ID).ok(t)
	for _, want := range []string{`Disabled the API key "CI runner" (` + k.ID + `)`, "pihu keys enable " + k.ID, "State        disabled"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("disable: want %q in\n%s", want, r.stdout)
		}
	}
	pihuCLI(t, s.url, k.Key, "keys", "list").failsWith(t, "disabled_api_key", owner, k.Key)
	r = pihuCLI(t, s.url, owner, "keys", "list", "--enabled", "false").ok(t)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " STATE ") || !strings.HasPrefix(lines[1], k.ID) || !strings.Contains(lines[1], " disabled ") {
		t.Errorf("list --enabled false: got\n%s", r.stdout)
	}
	r = pihuCLI(t, s.url, owner, "keys", "list", "--enabled", "true").ok(t)
	if strings.Contains(r.stdout, k.ID) || !strings.Contains(r.stdout, " enabled ") {
		t.Errorf("list --enabled true: got\n%s", r.stdout)
	}
	if r := pihuCLI(t, s.url, owner, "keys", "list", "--enabled", "no"); r.code != 2 || !strings.Contains(r.stderr, "--enabled must be true or false") {
		t.Errorf("list --enabled no: exit %d, stderr %q; want 2 and why", r.code, r.stderr)
	}

	r = pihuCLI(t, s.url, owner, "keys", "enable", k.ID, "--json").ok(t)
	if !strings.Contains(r.stdout, `"enabled":true`) {
		t.Errorf("enable --json: got %s", r.stdout)
	}
	pihuCLI(t, s.url, k.Key, "keys", "list").ok(t)
}
