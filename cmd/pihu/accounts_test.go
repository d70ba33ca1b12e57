package main_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
)

// accountItem is one account of `pihu accounts list --json`.
type accountItem struct {
	ID, Name, Created string
	Keys              int
}

// listAccounts runs `pihu accounts list --json` on the database in dir.
func listAccounts(tb testing.TB, dir string) []accountItem {
	tb.Helper()
	r := pihuCLI(tb, "", "", "accounts", "list", "--json", "--database", "sqlite:"+filepath.Join(dir, "pihu.db")).ok(tb)
	var list []accountItem
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		tb.Fatalf("accounts list --json: %v in %q", err, r.stdout)
	}
	return list
}

// auditEvents returns the audit events key may see, newest first.
func auditEvents(tb testing.TB, s *server, key string) []map[string]any {
	tb.Helper()
	status, body := do(tb, "GET", s.url+"/v1/auth/audit-events?limit=100", key, "")
	if status != 200 {
		tb.Fatalf("audit events: got %d %v", status, body)
	}
	data, _ := body["data"].([]any)
	var events []map[string]any
	for _, d := range data {
		ev, _ := d.(map[string]any)
		events = append(events, ev)
	}
	return events
}

// TestAccountsRecover locks an account out (its only key revoked) and
// brings it back with `pihu accounts recover`, while the server runs.
func TestAccountsRecover(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "pihu.db")
	s := startServer(t, dir)
	owner := ownerKey(t, s)
	status, who := do(t, "GET", s.url+"/v1/auth/whoami", owner, "")
	if status != 200 {
		t.Fatalf("whoami: got %d %v", status, who)
	}
	ownerID := who["key"].(map[string]any)["id"].(string)
	accountID := who["account"].(map[string]any)["id"].(string)
	if status, body := do(t, "DELETE", s.url+"/v1/auth/api-keys/"+ownerID, owner, ""); status != 200 {
		t.Fatalf("revoking the owner key: got %d %v", status, body)
	}
	if status, _ := do(t, "GET", s.url+"/v1/auth/whoami", owner, ""); status != 401 {
		t.Fatalf("whoami with the revoked key: got %d, want 401", status)
	}
	if list := listAccounts(t, dir); len(list) != 1 || list[0].ID != accountID || list[0].Keys != 0 {
		t.Fatalf("accounts list: got %+v, want %s with 0 keys", list, accountID)
	}

	// The id may come before or after the flags.
	r := pihuCLI(t, "", "", "accounts", "recover", "--database", db, accountID).ok(t)
	secret := keyPattern.FindString(r.stdout)
	if secret == "" || strings.Count(r.stdout, secret) != 1 || !strings.Contains(r.stdout, accountID) || !strings.Contains(r.stdout, `"Default"`) {
		t.Fatalf("recover: want the account and one key in the output:\n%s", r.stdout)
	}
	r = pihuCLI(t, "", "", "accounts", "recover", accountID, "--json", "--database", db).ok(t)
	var got struct {
		Account struct{ ID, Name string }
		APIKey  struct {
			ID, Key, Environment string
			Permissions          []string
			Expires              *string
		} `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("recover --json: %v in %q", err, r.stdout)
	}
	if got.Account.ID != accountID || got.Account.Name != "Default" || !strings.HasPrefix(got.APIKey.Key, "ph_live_") ||
		fmt.Sprint(got.APIKey.Permissions) != "[*]" || got.APIKey.Expires != nil || got.APIKey.Environment != "live" {
		t.Errorf("recover --json: got %s", r.stdout)
	}

	// Both keys work on the running server, for the same account.
	for _, key := range []string{secret, got.APIKey.Key} {
		status, who := do(t, "GET", s.url+"/v1/auth/whoami", key, "")
		if status != 200 || who["account"].(map[string]any)["id"] != accountID {
			t.Errorf("whoami with a recovered key: got %d %v", status, who)
		}
	}
	if list := listAccounts(t, dir); len(list) != 1 || list[0].Keys != 2 {
		t.Errorf("accounts list: got %+v, want 2 keys", list)
	}

	// Every owner key is in the audit log, made by the operator.
	events := auditEvents(t, s, secret)
	want := []string{
		"api_key.created operator " + got.APIKey.ID,
		"api_key.created operator " + keyID(t, s, secret),
		"api_key.revoked " + ownerID + " " + ownerID,
		"api_key.created operator " + ownerID,
	}
	var gotEvents []string
	for _, ev := range events {
		if strings.HasPrefix(ev["action"].(string), "user.") { // the first start's owner user
			continue
		}
		gotEvents = append(gotEvents, fmt.Sprint(ev["action"], " ", ev["actor"], " ", ev["target"]))
	}
	if fmt.Sprint(gotEvents) != fmt.Sprint(want) {
		t.Errorf("audit events: got %v, want %v", gotEvents, want)
	}
	for _, ev := range events {
		if ev["actor"] == "operator" && ev["ip"] != "" {
			t.Errorf("an operator's event has the ip %v, want none", ev["ip"])
		}
	}
}

// keyID is the id of key.
func keyID(tb testing.TB, s *server, key string) string {
	tb.Helper()
	status, who := do(tb, "GET", s.url+"/v1/auth/whoami", key, "")
	if status != 200 {
		tb.Fatalf("whoami: got %d %v", status, who)
	}
	return who["key"].(map[string]any)["id"].(string)
}

func TestAccountsRecover_Errors(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "pihu.db")
	pihuCLI(t, "", "", "accounts", "create", "--name", "Acme", "--database", db).ok(t)
	leaked := pihu.NewSecret(pihu.Live)
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"UnknownAccount", []string{"recover", "acct_nope", "--database", db}, 1, `no account has the id "acct_nope"`},
		{"KeyGivenAsID", []string{"recover", leaked, "--database", db}, 1, "no account has the id"},
		{"NoDatabase", []string{"recover", "acct_nope", "--database", "sqlite:" + filepath.Join(dir, "typo.db")}, 1, "there is no database at"},
		{"ListNoDatabase", []string{"list", "--database", "sqlite:" + filepath.Join(dir, "typo.db")}, 1, "there is no database at"},
		{"NoID", []string{"recover", "--database", db}, 2, "usage: pihu accounts recover ACCOUNT_ID"},
		{"TwoIDs", []string{"recover", "acct_a", "acct_b", "--database", db}, 2, "usage: pihu accounts recover ACCOUNT_ID"},
		{"UnknownFlag", []string{"recover", "acct_a", "--name", "x", "--database", db}, 2, "flag provided but not defined"},
		{"ListArgument", []string{"list", "acct_a", "--database", db}, 2, "usage: pihu accounts list"},
		{"UnknownSubcommand", []string{"delete", "acct_a"}, 2, `unknown subcommand "delete"`},
		{"NoSubcommand", nil, 2, "pihu accounts recover ACCOUNT_ID"},
		{"CreateNoName", []string{"create", "--database", db}, 2, "--name is required"},
		// A name follows the rules of names everywhere (pihu.Account.Validate).
		{"CreateControlInName", []string{"create", "--name", "Acme\tCorp", "--database", db}, 2, "control character"},
		{"CreateBidiInName", []string{"create", "--name", "Acme \u202eproC", "--database", db}, 2, "bidirectional control"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := pihuCLI(t, "", "", append([]string{"accounts"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.stderr)
			}
			if r.stdout != "" || strings.Contains(r.stderr, leaked) {
				t.Errorf("stdout %q, stderr %q: want nothing on stdout and no key", r.stdout, r.stderr)
			}
		})
	}
	// Nothing was created or changed.
	if list := listAccounts(t, dir); len(list) != 1 || list[0].Keys != 1 {
		t.Errorf("accounts list: got %+v, want Acme with its one key", list)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "typo.db*")); len(left) != 0 {
		t.Errorf("a command on a missing database created %v", left)
	}
}

func TestAccountsList(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "pihu.db")
	if r := pihuCLI(t, "", "", "accounts", "list", "--database", db); r.code != 1 {
		t.Errorf("list before the database exists: exit code %d, want 1", r.code)
	}
	s := startServer(t, dir)
	owner := ownerKey(t, s)
	if status, body := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"short","permissions":["candidate:read"],"expiration":"1h"}`); status != 200 {
		t.Fatalf("create: got %d %v", status, body)
	}
	r := pihuCLI(t, "", "", "accounts", "create", "--name", "Acme Corp", "--json", "--database", db).ok(t)
	var acme struct {
		Account struct{ ID string }
		APIKey  struct{ ID, Key string } `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &acme); err != nil {
		t.Fatal(err)
	}
	// accounts create records its owner key in the account's audit log.
	if events := auditEvents(t, s, acme.APIKey.Key); len(events) != 1 || events[0]["action"] != "api_key.created" ||
		events[0]["actor"] != "operator" || events[0]["target"] != acme.APIKey.ID {
		t.Errorf("Acme's audit events: got %v, want its owner key created by the operator", events)
	}

	// The table: oldest first, aligned, one account a line, no key.
	r = pihuCLI(t, "", "", "accounts", "list", "--database", db).ok(t)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[1], " Default ") || !strings.HasPrefix(lines[2], acme.Account.ID+" ") {
		t.Fatalf("list: got\n%s", r.stdout)
	}
	head := columns(lines[0], "NAME", "CREATED", "KEYS")
	for _, line := range lines[1:] {
		for i, at := range head {
			if at <= 0 || at > len(line) || line[at-1] != ' ' || line[at] == ' ' {
				t.Errorf("list: column %d does not start at %d in %q", i+1, at, line)
			}
		}
	}
	if !strings.HasSuffix(lines[1], " 2") || !strings.HasSuffix(lines[2], " 1") || !strings.Contains(lines[2], "Acme Corp") {
		t.Errorf("list: want Default with 2 keys, Acme Corp with 1:\n%s", r.stdout)
	}
	if keyPattern.MatchString(r.stdout + r.stderr) {
		t.Errorf("list shows a key:\n%s", r.stdout)
	}

	list := listAccounts(t, dir)
	if len(list) != 2 || list[0].Name != "Default" || list[0].Keys != 2 || list[1].ID != acme.Account.ID || list[1].Name != "Acme Corp" || list[1].Keys != 1 {
		t.Fatalf("list --json: got %+v", list)
	}
	for _, a := range list {
		if c, err := time.Parse(time.RFC3339, a.Created); err != nil || time.Since(c) > time.Minute || !strings.HasSuffix(a.Created, "Z") {
			t.Errorf("created: got %q, want about now in RFC 3339 UTC", a.Created)
		}
	}
}

// TestServe_ConcurrentFirstStart starts servers at once on one empty
// database: exactly one creates the account "Default" and writes its key.
func TestServe_ConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	servers := make([]*server, 3)
	for i := range servers {
		servers[i] = launchServer(t, dir)
	}
	var wrote int
	for _, s := range servers {
		s.wait(t)
		if strings.Contains(s.stderr.String(), "owner_key_file=") {
			wrote++
		}
		if keyPattern.MatchString(s.stderr.String()) {
			t.Errorf("a server logged a key:\n%s", s.stderr.String())
		}
	}
	if wrote != 1 {
		t.Errorf("%d servers wrote an owner key file, want 1", wrote)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "pihu.db.owner-key*"))
	if len(files) != 1 {
		t.Errorf("owner key files: got %v, want one", files)
	}
	list := listAccounts(t, dir)
	if len(list) != 1 || list[0].Name != "Default" || list[0].Keys != 1 {
		t.Errorf("accounts: got %+v, want one Default with one key", list)
	}
}
