package main_test

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/client"
)

// ownerKey is the key the first start of s wrote to the file it logged
// (stderr is not a terminal), checked to be readable only by its owner:
// beside the SQLite file, or in the working directory on PostgreSQL.
func ownerKey(tb testing.TB, s *server) string {
	tb.Helper()
	return ownerKeyIn(tb, s, "pihu.db.owner-key", "pihu.owner-key")
}

// ownerKeyIn is ownerKey for a file of one of names in s's folder.
func ownerKeyIn(tb testing.TB, s *server, names ...string) string {
	tb.Helper()
	m := ownerKeyFileLog.FindStringSubmatch(s.stderr.String())
	if m == nil {
		tb.Fatalf("pihu serve logged no owner_key_file:\n%s", s.stderr.String())
	}
	path := m[1]
	if unquoted, err := strconv.Unquote(path); err == nil {
		path = unquoted
	}
	var want []string
	for _, n := range names {
		want = append(want, filepath.Join(s.dir, n))
	}
	if !slices.Contains(want, path) {
		tb.Errorf("owner_key_file: got %s, want one of %v", path, want)
	}
	info, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	if mode := info.Mode(); mode != 0o600 {
		tb.Errorf("%s: mode got %v, want -rw------- (0600)", path, mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	key := strings.TrimSuffix(string(b), "\n")
	if keyPattern.FindString(key) != key {
		tb.Fatalf("%s: got %q, want one key and a newline", path, b)
	}
	return key
}

var ownerKeyFileLog = regexp.MustCompile(`owner_key_file=("[^"]*"|\S+)`)

// cli is the result of one run of the binary.
type cli struct {
	code           int
	stdout, stderr string
}

// pihuCLI runs the binary with PIHU_API_KEY and PIHU_API_URL set to key
// and url ("" leaves the variable empty).
func pihuCLI(tb testing.TB, url, key string, args ...string) cli {
	tb.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "PIHU_API_KEY="+key, "PIHU_API_URL="+url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	r := cli{code, stdout.String(), stderr.String()}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		tb.Errorf("pihu %v: a stack trace on stderr:\n%s", args, r.stderr)
	}
	if key != "" && strings.Contains(r.stderr, key[min(8, len(key)):]) {
		tb.Errorf("pihu %v: the API key is on stderr:\n%s", args, r.stderr)
	}
	return r
}

func (r cli) ok(tb testing.TB) cli {
	tb.Helper()
	if r.code != 0 {
		tb.Fatalf("exit code %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	return r
}

// columns returns where each heading of a table's first line starts.
func columns(header string, names ...string) []int {
	var at []int
	for _, n := range names {
		at = append(at, strings.Index(header, n))
	}
	return at
}

func TestKeysCommands(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)

	// create: the secret once, then the key's fields.
	r := pihuCLI(t, s.url, owner, "keys", "create", "--name", "CI runner", "--permission", "candidate:read",
		"--permission", "interview:write", "--expiration", "30d").ok(t)
	secret := keyPattern.FindString(r.stdout)
	if env, ok := pihu.ParseSecret(secret); !ok || env != pihu.Live || strings.Count(r.stdout, secret) != 1 {
		t.Fatalf("create: want one live key in the output:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "candidate:read, interview:write") || !strings.Contains(r.stdout, "Expires") {
		t.Errorf("create: output:\n%s", r.stdout)
	}

	// create --json: the API's answer.
	r = pihuCLI(t, s.url, owner, "keys", "create", "--json", "--name", "test key", "--permission", "api_key:read", "--environment", "test").ok(t)
	var created struct{ ID, Key, Environment string }
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.Environment != "test" || !strings.HasPrefix(created.Key, "ph_test_") {
		t.Fatalf("create --json: got %q (%v)", r.stdout, err)
	}

	// list: an aligned table, newest first.
	r = pihuCLI(t, s.url, owner, "keys", "list").ok(t)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], created.ID) || !strings.Contains(lines[3], "Owner key") {
		t.Fatalf("list: got\n%s", r.stdout)
	}
	head := columns(lines[0], "NAME", "ENVIRONMENT", "PERMISSIONS", "CREATED", "EXPIRES", "LAST USED", "HINT")
	for _, line := range lines[1:] {
		for i, at := range head {
			if at <= 0 || at > len(line) || line[at-1] != ' ' || line[at] == ' ' {
				t.Errorf("list: column %d does not start at %d in %q", i+1, at, line)
			}
		}
	}
	if strings.Contains(r.stdout, secret) || strings.Contains(r.stdout, owner) {
		t.Errorf("list shows a secret:\n%s", r.stdout)
	}

	// list --json and paging.
	r = pihuCLI(t, s.url, owner, "keys", "list", "--json", "--limit", "1").ok(t)
	var page struct {
		Data    []struct{ ID, Name string }
		HasMore bool `json:"has_more"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Data) != 1 || page.Data[0].ID != created.ID || !page.HasMore {
		t.Fatalf("list --json --limit 1: got %q (%v)", r.stdout, err)
	}
	r = pihuCLI(t, s.url, owner, "keys", "list", "--limit", "1").ok(t)
	if !strings.Contains(r.stdout, "pihu keys list --starting-after "+created.ID) {
		t.Errorf("list --limit 1 does not say how to see more:\n%s", r.stdout)
	}

	// get, with the flag after the id; --api-url wins over PIHU_API_URL.
	r = pihuCLI(t, "http://127.0.0.1:1", owner, "keys", "get", created.ID, "--json", "--api-url", s.url).ok(t)
	var item struct{ ID, Hint string }
	if err := json.Unmarshal([]byte(r.stdout), &item); err != nil || item.ID != created.ID || item.Hint != pihu.Hint(created.Key) {
		t.Fatalf("get --json: got %q (%v)", r.stdout, err)
	}
	r = pihuCLI(t, s.url, owner, "keys", "get", created.ID).ok(t)
	for _, want := range []string{"ID           " + created.ID, "Environment  test", "Last used    never", "Hint         " + item.Hint} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("get: want %q in\n%s", want, r.stdout)
		}
	}

	// The key the CLI made works with the CLI.
	r = pihuCLI(t, s.url, created.Key, "keys", "list", "--json").ok(t)
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Data) != 1 || page.Data[0].ID != created.ID {
		t.Errorf("list with the test key: got %q, want only itself", r.stdout)
	}
}

// TestKeysCommands_Extras shows what a key carries besides its rights in
// the tables of get and list: credits, their refill, metadata, and the
// mark of an imported key (which has no hint).
func TestKeysCommands_Extras(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	c, err := client.New(client.Config{BaseURL: s.url, APIKey: owner})
	if err != nil {
		t.Fatal(err)
	}
	five := int64(5)
	metered, err := c.CreateKey(t.Context(), client.KeyParams{Name: "Metered", Permissions: []string{"candidate:read"},
		Remaining: &five, Refill: &client.Refill{Interval: client.RefillMonthly, Amount: 10, Day: 1},
		Metadata: json.RawMessage(`{"plan":"pro"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportKeys(t.Context(), []client.ImportKeyParams{{Hash: client.HashSecret("legacy-secret-0123456789"), Name: "Legacy", Permissions: []string{"candidate:read"}}}); err != nil {
		t.Fatal(err)
	}

	r := pihuCLI(t, s.url, owner, "keys", "get", metered.ID).ok(t)
	for _, want := range []string{"Credits      5 left", "Refill       to 10 on day 1 of every month, next ", `Metadata     {"plan":"pro"}`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("get: want %q in\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Imported") {
		t.Errorf("get: a key made here is not imported:\n%s", r.stdout)
	}
	r = pihuCLI(t, s.url, owner, "keys", "list").ok(t)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.HasSuffix(lines[0], "CREDITS") {
		t.Fatalf("list: got\n%s", r.stdout)
	}
	legacy, meteredLine, ownerLine := lines[1], lines[2], lines[3]
	if !strings.Contains(legacy, "- (imported)") || !strings.HasSuffix(legacy, " -") || !strings.HasSuffix(meteredLine, " 5") || !strings.HasSuffix(ownerLine, " -") {
		t.Errorf("list: hints and credits wrong:\n%s", r.stdout)
	}
	r = pihuCLI(t, s.url, owner, "keys", "get", strings.Fields(legacy)[0]).ok(t)
	if !strings.Contains(r.stdout, "Imported     yes") {
		t.Errorf("get of the imported key:\n%s", r.stdout)
	}
}

func TestKeysCommands_Errors(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	forged := pihu.NewSecret(pihu.Live) // well formed, never issued

	for _, tc := range []struct {
		name      string
		url, key  string
		args      []string
		code      int
		wantInErr string
	}{
		{"NoKey", s.url, "", []string{"keys", "list"}, 1, "PIHU_API_KEY"},
		{"UnknownKey", s.url, forged, []string{"keys", "list"}, 1, "invalid_api_key"},
		{"MalformedKey", s.url, "ph_live_short", []string{"keys", "get", "key_x"}, 1, "PIHU_API_KEY"},
		{"ServerDown", down, owner, []string{"keys", "list"}, 1, "cannot reach the Pihu API at " + down},
		{"NotFound", s.url, owner, []string{"keys", "get", "key_nope"}, 1, "not_found (404)"},
		{"BadRequest", s.url, owner, []string{"keys", "create", "--name", "x", "--permission", "candidate:delete"}, 1, "parameter_invalid"},
		{"UsageNoSubcommand", s.url, owner, []string{"keys"}, 2, "usage"},
		{"UsageUnknownSubcommand", s.url, owner, []string{"keys", "delete", "key_x"}, 2, "unknown subcommand"},
		{"UsageGetWithoutID", s.url, owner, []string{"keys", "get"}, 2, "usage: pihu keys get ID"},
		{"UsageTwoIDs", s.url, owner, []string{"keys", "revoke", "key_a", "key_b"}, 2, "usage: pihu keys revoke ID"},
		{"UsageCreateWithoutPermission", s.url, owner, []string{"keys", "create", "--name", "x"}, 2, "--permission"},
		{"UsageBadFlag", s.url, owner, []string{"keys", "list", "--nope"}, 2, "not defined"},
		{"UsageBadURL", "127.0.0.1:8080", owner, []string{"keys", "list"}, 2, "--api-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pihuCLI(t, tc.url, tc.key, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.wantInErr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.wantInErr)
			}
			if tc.code == 1 {
				if lines := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") + 1; lines != 1 || !strings.HasPrefix(r.stderr, "pihu: ") {
					t.Errorf("want one line starting with \"pihu: \" on stderr, got %d:\n%s", lines, r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("stdout on failure: %q", r.stdout)
				}
			}
			for _, k := range []string{owner, forged} {
				if strings.Contains(r.stderr, k[8:]) || strings.Contains(r.stdout, k[8:]) {
					t.Errorf("the output holds a key:\n%s%s", r.stdout, r.stderr)
				}
			}
		})
	}
}

// TestKeysCommands_ListFilters lists keys with each filter flag of keys
// list, and all together: the table holds the keys the API keeps, and a
// --metadata without "=" is a usage error (exit 2).
func TestKeysCommands_ListFilters(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	c, err := client.New(client.Config{BaseURL: s.url, APIKey: owner})
	if err != nil {
		t.Fatal(err)
	}
	role, err := c.CreateRole(t.Context(), client.RoleParams{Name: "support", Permissions: []string{"candidate:write"}})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, p := range []client.KeyParams{
		{Name: "web_1", Permissions: []string{"candidate:read"}, Metadata: json.RawMessage(`{"team":"web","tier":"gold"}`)},
		{Name: "web-2", Permissions: []string{"interview:read"}, Roles: []string{role.ID}, Metadata: json.RawMessage(`{"team":"web"}`)},
		{Name: "db", Permissions: []string{"interview:read"}, Metadata: json.RawMessage(`{"team":"data"}`)},
	} {
		k, err := c.CreateKey(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		ids[p.Name] = k.ID
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--name-prefix", "web_"}, []string{"web_1"}},
		{[]string{"--role", role.ID}, []string{"web-2"}},
		{[]string{"--permission", "candidate:read", "--name-prefix", "web"}, []string{"web-2", "web_1"}},
		{[]string{"--metadata", "team=web", "--metadata", "tier=gold"}, []string{"web_1"}},
		{[]string{"--name-prefix", "w", "--role", role.ID, "--permission", "candidate:write", "--metadata", "team=web", "--enabled", "true"}, []string{"web-2"}},
	} {
		r := pihuCLI(t, s.url, owner, append([]string{"keys", "list"}, tt.args...)...).ok(t)
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")[1:]
		if len(lines) != len(tt.want) {
			t.Errorf("list %v: got\n%s\nwant %v", tt.args, r.stdout, tt.want)
			continue
		}
		for i, name := range tt.want {
			if !strings.HasPrefix(lines[i], ids[name]+" ") {
				t.Errorf("list %v: line %d is %q, want %s (%s)", tt.args, i+1, lines[i], name, ids[name])
			}
		}
	}
	if r := pihuCLI(t, s.url, owner, "keys", "list", "--metadata", "team"); r.code != 2 || !strings.Contains(r.stderr, "--metadata takes NAME=VALUE") {
		t.Errorf("list --metadata team: exit %d, stderr %q; want 2 and why", r.code, r.stderr)
	}
	pihuCLI(t, s.url, owner, "keys", "list", "--role", "support").failsWith(t, "parameter_invalid", owner)
}
