package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// commands are every command and subcommand of the binary.
var commands = [][]string{
	{"serve"}, {"migrate"}, {"scan"}, {"version"},
	{"accounts", "create"}, {"accounts", "list"}, {"accounts", "recover"},
	{"keys", "list"}, {"keys", "create"}, {"keys", "get"}, {"keys", "update"}, {"keys", "revoke"}, {"keys", "rotate"}, {"keys", "disable"}, {"keys", "enable"},
	{"permissions", "list"}, {"permissions", "add"}, {"permissions", "delete"},
	{"roles", "list"}, {"roles", "get"}, {"roles", "create"}, {"roles", "update"}, {"roles", "delete"},
	{"identities", "list"}, {"identities", "show"}, {"identities", "create"}, {"identities", "update"}, {"identities", "delete"},
	{"signing-keys", "list"}, {"signing-keys", "rotate"},
	{"completion"},
}

var flagLine = regexp.MustCompile(`(?m)^\s+-([a-z][a-z-]*)`)

// TestCLI_Help: every command answers --help with exit 0 and its flags on
// standard output, and the top-level help names every command and every
// flag of each, as does each shell's completion script.
func TestCLI_Help(t *testing.T) {
	top := pihuCLI(t, "", "", "help").ok(t).stdout
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		scripts[shell] = pihuCLI(t, "", "", "completion", shell).ok(t).stdout
	}
	for _, cmd := range commands {
		name := strings.Join(cmd, " ")
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			r := pihuCLI(t, "", "", append(cmd, "--help")...)
			if r.code != 0 || r.stdout == "" {
				t.Fatalf("pihu %s --help: exit %d, stdout %q, stderr %q; want 0 and the help on stdout", name, r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(top, "pihu "+cmd[0]) {
				t.Errorf("pihu help does not name %q", cmd[0])
			}
			for _, script := range scripts {
				if !strings.Contains(script, cmd[len(cmd)-1]) {
					t.Errorf("a completion script lacks %q", cmd[len(cmd)-1])
				}
			}
			for _, m := range flagLine.FindAllStringSubmatch(r.stdout, -1) {
				flag := "--" + m[1]
				if !strings.Contains(top, flag) {
					t.Errorf("pihu help does not name %s of %s", flag, name)
				}
				for shell, script := range scripts {
					if !strings.Contains(script, flag) && !strings.Contains(script, "-l "+m[1]) {
						t.Errorf("the %s completion lacks %s of %s", shell, flag, name)
					}
				}
			}
		})
	}
}

// TestCLI_RequiredArguments: a command missing a required flag or
// argument exits 2 naming it.
func TestCLI_RequiredArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "create", "--permission", "candidate:read"}, "--name is required"},
		{[]string{"keys", "create", "--name", "x"}, "--permission is required"},
		{[]string{"accounts", "create"}, "--name is required"},
		{[]string{"keys", "get"}, "ID is required"},
		{[]string{"keys", "revoke", "--cascade"}, "ID is required"},
		{[]string{"accounts", "recover"}, "ACCOUNT_ID is required"},
		{[]string{"completion"}, "bash|zsh|fish"},
		{[]string{"keys", "list", "--starting-after", "key_a", "--ending-before", "key_b"}, "not both"},
	} {
		r := pihuCLI(t, "", "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("pihu %v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestCLI_Completion: each shell's script is produced, and bash (and zsh
// or fish where installed) accepts its syntax.
func TestCLI_Completion(t *testing.T) {
	for _, tc := range []struct{ shell, check string }{
		{"bash", "bash -n"}, {"zsh", "zsh -n"}, {"fish", "fish --no-execute"},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			script := pihuCLI(t, "", "", "completion", tc.shell).ok(t).stdout
			if !strings.Contains(script, "pihu") || !strings.Contains(script, "ending-before") {
				t.Fatalf("got %q", script)
			}
			args := strings.Fields(tc.check)
			if _, err := exec.LookPath(args[0]); err != nil {
				if tc.shell == "bash" {
					t.Fatal("bash is needed to check the bash script")
				}
				t.Skipf("%s is not installed", args[0])
			}
			file := filepath.Join(t.TempDir(), "pihu."+tc.shell)
			if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(args[0], append(args[1:], file)...).CombinedOutput(); err != nil {
				t.Errorf("%s rejects the script: %v\n%s", tc.check, err, out)
			}
		})
	}
}

// TestCLI_Database: a command that creates a new database file says so,
// with its absolute path, once; PIHU_DATABASE is PIHU_DATABASE_URL's alias,
// and the two set to different databases is a usage error.
func TestCLI_Database(t *testing.T) {
	dir := t.TempDir()
	migrate := func(env ...string) cli {
		cmd := exec.Command(binary, "migrate")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "PIHU_DATABASE") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return cli{code, out.String(), errb.String()}
	}
	r := migrate()
	if want := "created a new, empty database at " + filepath.Join(dir, "pihu.db"); r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("first migrate: exit %d, stderr %q; want 0 and %q", r.code, r.stderr, want)
	}
	if r = migrate(); r.code != 0 || strings.Contains(r.stderr, "created") {
		t.Errorf("second migrate: exit %d, stderr %q; want 0 and no warning", r.code, r.stderr)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	if r = migrate("PIHU_DATABASE=sqlite:" + other); r.code != 0 || !strings.Contains(r.stderr, other) {
		t.Errorf("PIHU_DATABASE: exit %d, stderr %q; want 0 and %s created", r.code, r.stderr, other)
	}
	if r = migrate("PIHU_DATABASE_URL=sqlite:"+other, "PIHU_DATABASE=sqlite:"+other); r.code != 0 {
		t.Errorf("both set alike: exit %d, stderr %q; want 0", r.code, r.stderr)
	}
	if r = migrate("PIHU_DATABASE_URL=sqlite:a.db", "PIHU_DATABASE=sqlite:b.db"); r.code != 2 || !strings.Contains(r.stderr, "PIHU_DATABASE_URL and PIHU_DATABASE") {
		t.Errorf("both set differently: exit %d, stderr %q; want 2 naming both", r.code, r.stderr)
	}
}

// TestKeysCommands_CreateLimits: keys create takes --rate-limit and
// repeated --allowed-ip, as the API does; version prints JSON too.
func TestKeysCommands_CreateLimits(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	r := pihuCLI(t, s.url, owner, "keys", "create", "--json", "--name", "limited", "--permission", "candidate:read",
		"--rate-limit", "5/m", "--allowed-ip", "203.0.113.7", "--allowed-ip", "10.0.0.0/8").ok(t)
	var k struct {
		RateLimit  string   `json:"rate_limit"`
		AllowedIPs []string `json:"allowed_ips"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.RateLimit != "5/m" || strings.Join(k.AllowedIPs, ",") != "203.0.113.7,10.0.0.0/8" {
		t.Errorf("got %q (%v), want rate_limit 5/m and both addresses", r.stdout, err)
	}
	r = pihuCLI(t, s.url, owner, "keys", "create", "--name", "table", "--permission", "candidate:read", "--rate-limit", "1/s").ok(t)
	if !strings.Contains(r.stdout, "Rate limit") || !strings.Contains(r.stdout, "1/s") {
		t.Errorf("table: got %q, want the rate limit", r.stdout)
	}
	var v struct{ Version string }
	if r = pihuCLI(t, "", "", "version", "--json").ok(t); json.Unmarshal([]byte(r.stdout), &v) != nil || v.Version == "" {
		t.Errorf("version --json: got %q", r.stdout)
	}
}
