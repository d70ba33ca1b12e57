package main_test

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" driver, to write what no door accepts

	"github.com/pihu-ai/pihu"
)

// TestCLI_EscapesTerminalControls stores text that would command a
// terminal (an escape sequence that retitles the window and clears the
// screen, a bell, a right-to-left override) where the commands print it:
// a key's metadata, through the API, which takes it; a key's name and an
// account's name straight in the database, as a row written around every
// door's validation would be. Every table, and every --json answer, shows
// those characters escaped, never raw: the same text, which a person sees
// and the terminal does not obey.
func TestCLI_EscapesTerminalControls(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "pihu.db")
	s := startServer(t, dir)
	owner := ownerKey(t, s)
	const hostile = "evil\x1b]0;owned\x07\x1b[2J\u202egnp.exe"
	status, k := do(t, "POST", s.url+"/v1/auth/api-keys", owner,
		`{"name":"plain","permissions":["candidate:read"],"metadata":{"note":"`+"\u202e"+`gnp.exe"}}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, k)
	}
	id := k["id"].(string)
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE api_keys SET name = ? WHERE id = ?`, hostile, id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE accounts SET name = ?`, hostile); err != nil {
		t.Fatal(err)
	}

	raw := []string{"\x1b", "\x07", "\u202e"}
	for _, args := range [][]string{
		{"keys", "list"},
		{"keys", "get", id},
		{"accounts", "list", "--database", "sqlite:" + dbPath},
	} {
		r := pihuCLI(t, s.url, owner, args...).ok(t)
		for _, c := range raw {
			if strings.Contains(r.stdout, c) {
				t.Errorf("pihu %s: %q reaches the terminal raw:\n%q", strings.Join(args, " "), c, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, `evil\x1b]0;owned\a\x1b[2J\u202egnp.exe`) {
			t.Errorf("pihu %s: want the name escaped, as Go writes it:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
	if r := pihuCLI(t, s.url, owner, "keys", "get", id).ok(t); !strings.Contains(r.stdout, `{"note":"\u202egnp.exe"}`) {
		t.Errorf("keys get: want the metadata escaped:\n%s", r.stdout)
	}

	// --json: the same value, written with JSON's escapes.
	for _, args := range [][]string{
		{"keys", "list", "--json"},
		{"keys", "get", id, "--json"},
		{"accounts", "list", "--json", "--database", "sqlite:" + dbPath},
	} {
		r := pihuCLI(t, s.url, owner, args...).ok(t)
		for _, c := range raw {
			if strings.Contains(r.stdout, c) {
				t.Errorf("pihu %s: %q reaches the terminal raw:\n%q", strings.Join(args, " "), c, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, `"evil\u001b]0;owned\u0007\u001b[2J\u202egnp.exe"`) {
			t.Errorf("pihu %s: want the name in JSON escapes:\n%s", strings.Join(args, " "), r.stdout)
		}
		var v any
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Errorf("pihu %s: not JSON: %v", strings.Join(args, " "), err)
		}
	}
	var item struct {
		Name     string
		Metadata struct{ Note string }
	}
	if err := json.Unmarshal([]byte(pihuCLI(t, s.url, owner, "keys", "get", id, "--json").ok(t).stdout), &item); err != nil ||
		item.Name != hostile || item.Metadata.Note != "\u202egnp.exe" {
		t.Errorf("keys get --json: got %+v (%v), want the stored text", item, err)
	}
}

// TestScan_EscapesFileNames: a file's name is anyone's writing (a cloned
// repository's, an unpacked archive's), so pihu scan shows it escaped as
// the tables do, in its findings and in its JSON.
func TestScan_EscapesFileNames(t *testing.T) {
	dir := t.TempDir()
	key := pihu.NewSecret(pihu.Live)
	write(t, dir, "evil\x1b[2J\u202etxt.exe", "PIHU_API_KEY="+key+"\n")
	r := scan(t, dir, nil, ".")
	if r.code != 1 || r.stdout != `evil\x1b[2J\u202etxt.exe:1:14: `+pihu.Hint(key)+"\n" {
		t.Errorf("got %d %q, want the finding with its file's name escaped", r.code, r.stdout)
	}
	r = scan(t, dir, nil, "--json", ".")
	if strings.ContainsAny(r.stdout, "\x1b\u202e") || !strings.Contains(r.stdout, `"evil\u001b[2J\u202etxt.exe"`) {
		t.Errorf("--json: got %q, want the file's name in JSON escapes", r.stdout)
	}
}
