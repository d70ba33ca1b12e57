package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pihu-ai/pihu"
)

// scanResult is what one run of pihu scan did.
type scanResult struct {
	code           int
	stdout, stderr string
}

// scan runs the binary's scan command in dir with args.
func scan(tb testing.TB, dir string, env []string, args ...string) scanResult {
	tb.Helper()
	cmd := exec.Command(binary, append([]string{"scan"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return scanResult{code, stdout.String(), stderr.String()}
}

// write creates the file name under dir with content, folders included.
func write(tb testing.TB, dir, name, content string) {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// checkNoSecret fails if out holds any of the keys, or their random part.
func checkNoSecret(tb testing.TB, out string, secrets ...string) {
	tb.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s[8:20]) {
			tb.Fatalf("the output shows a key:\n%s", out)
		}
	}
}

// leakyTree makes a tree holding two real keys where they must be found,
// and others where they must not: a lookalike, a binary file, a .git
// folder, a file over 10 MiB and a link.
func leakyTree(tb testing.TB) (dir string, found, hidden []string) {
	tb.Helper()
	dir = tb.TempDir()
	live, test := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test)
	inGit, inBinary, inBig := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Live)
	lookalike := live[:len(live)-1] + flip(live[len(live)-1])
	write(tb, dir, ".env", "# local settings\nPIHU_API_KEY="+live+"\n")
	write(tb, dir, "src/app/client.go", "package app\n\nfunc key() string {\n\treturn \""+test+"\" // TODO remove\n}\n")
	write(tb, dir, "notes.txt", "a lookalike, not a key: "+lookalike+"\nph_live_abc123\n")
	write(tb, dir, "image.bin", "\x89PNG\r\n\x1a\n\x00\x00"+inBinary+"\x00")
	write(tb, dir, ".git/config", "[remote]\n\ttoken = "+inGit+"\n")
	write(tb, dir, "sub/.git/HEAD", inGit+"\n")
	write(tb, dir, "data/big.txt", strings.Repeat("x", 10<<20)+inBig)
	if err := os.Symlink(filepath.Join(dir, ".env"), filepath.Join(dir, "link.env")); err != nil {
		tb.Fatal(err)
	}
	return dir, []string{live, test}, []string{inGit, inBinary, inBig, lookalike}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestScan(t *testing.T) {
	dir, found, hidden := leakyTree(t)
	all := append(append([]string{}, found...), hidden...)

	t.Run("Found", func(t *testing.T) {
		r := scan(t, dir, nil, ".")
		if r.code != 1 {
			t.Fatalf("exit code: got %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
		}
		want := fmt.Sprintf(".env:2:14: %s\nsrc/app/client.go:4:10: %s\n", pihu.Hint(found[0]), pihu.Hint(found[1]))
		if r.stdout != want {
			t.Errorf("stdout:\ngot  %q\nwant %q", r.stdout, want)
		}
		if !strings.Contains(r.stderr, "2 keys in 2 files") || !strings.Contains(r.stderr, "3 files scanned, 4 skipped") {
			t.Errorf("summary: got %q", r.stderr)
		}
		checkNoSecret(t, r.stdout+r.stderr, all...)
	})
	t.Run("DefaultIsTheCurrentFolder", func(t *testing.T) {
		if r := scan(t, dir, nil); r.code != 1 || !strings.Contains(r.stdout, ".env:2:14:") {
			t.Errorf("got %d %q, want the same findings as \"pihu scan .\"", r.code, r.stdout)
		}
	})
	t.Run("Paths", func(t *testing.T) {
		r := scan(t, dir, nil, "src", "notes.txt", filepath.Join(dir, ".git"))
		if r.code != 1 {
			t.Fatalf("exit code: got %d, want 1\n%s", r.code, r.stderr)
		}
		// A .git folder named on the command line is scanned: it was asked
		// for.
		want := fmt.Sprintf("src/app/client.go:4:10: %s\n%s:2:10: %s\n", pihu.Hint(found[1]), filepath.Join(dir, ".git", "config"), pihu.Hint(hidden[0]))
		if r.stdout != want {
			t.Errorf("stdout:\ngot  %q\nwant %q", r.stdout, want)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		r := scan(t, dir, nil, "--json", ".")
		if r.code != 1 {
			t.Fatalf("exit code: got %d, want 1", r.code)
		}
		var out struct {
			Findings []map[string]any `json:"findings"`
		}
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			t.Fatalf("decoding %s: %v", r.stdout, err)
		}
		if len(out.Findings) != 2 {
			t.Fatalf("got %d findings, want 2", len(out.Findings))
		}
		f := out.Findings[1]
		if f["path"] != "src/app/client.go" || f["line"] != 4.0 || f["column"] != 10.0 || f["hint"] != pihu.Hint(found[1]) || f["environment"] != "test" {
			t.Errorf("finding: got %v", f)
		}
		checkNoSecret(t, r.stdout+r.stderr, all...)
	})
	t.Run("Clean", func(t *testing.T) {
		clean := t.TempDir()
		write(t, clean, "README.md", "Keys look like ph_live_… and are never committed.\n")
		write(t, clean, ".git/config", hidden[0])
		r := scan(t, clean, nil, ".")
		if r.code != 0 || r.stdout != "" {
			t.Errorf("got %d %q, want 0 and no output", r.code, r.stdout)
		}
		if r := scan(t, clean, nil, "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "{\n  \"findings\": []\n}" {
			t.Errorf("--json: got %d %q", r.code, r.stdout)
		}
	})
	t.Run("ErrMissingPath", func(t *testing.T) {
		r := scan(t, dir, nil, "nope", ".")
		if r.code != 2 {
			t.Errorf("exit code: got %d, want 2", r.code)
		}
		// The rest is scanned all the same.
		if !strings.Contains(r.stdout, ".env:2:14:") || !strings.Contains(r.stderr, "nope") {
			t.Errorf("got %q %q", r.stdout, r.stderr)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{{"--nope"}, {"--progress", "sometimes"}} {
			if r := scan(t, dir, nil, args...); r.code != 2 || r.stdout != "" {
				t.Errorf("%v: got %d %q, want 2 and nothing on stdout", args, r.code, r.stdout)
			}
		}
		if r := scan(t, dir, nil, "--help"); r.code != 0 || !strings.Contains(r.stderr, "Usage: pihu scan") {
			t.Errorf("--help: got %d %q", r.code, r.stderr)
		}
	})
	t.Run("FlagsAfterPaths", func(t *testing.T) {
		if r := scan(t, dir, nil, "src", "--json"); r.code != 1 || !strings.HasPrefix(r.stdout, "{") {
			t.Errorf("got %d %q, want JSON", r.code, r.stdout)
		}
		// After "--", everything is a path.
		if r := scan(t, dir, nil, "--", "--json"); r.code != 2 || strings.HasPrefix(r.stdout, "{") {
			t.Errorf("-- --json: got %d %q, want a missing path", r.code, r.stdout)
		}
	})
}

// TestScan_Progress checks the progress bar: on request, on standard error
// only, and never with a key in it.
func TestScan_Progress(t *testing.T) {
	dir := t.TempDir()
	secret := pihu.NewSecret(pihu.Live)
	for i := range 1200 {
		write(t, dir, fmt.Sprintf("d%02d/f%04d.txt", i%40, i), "nothing here\n")
	}
	write(t, dir, "d00/leak.txt", secret)

	r := scan(t, dir, nil, "--progress=always", ".")
	if r.code != 1 || r.stdout != "d00/leak.txt:1:1: "+pihu.Hint(secret)+"\n" {
		t.Fatalf("got %d %q", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr, "\rscanning ") || !strings.Contains(r.stderr, "%") {
		t.Errorf("no progress bar on standard error: %q", r.stderr)
	}
	checkNoSecret(t, r.stdout+r.stderr, secret)

	// Not a terminal: no bar, however large the tree.
	if r := scan(t, dir, nil, "."); strings.Contains(r.stderr, "scanning") {
		t.Errorf("a progress bar on a pipe: %q", r.stderr)
	}
}

// TestScan_Revoke runs pihu scan --revoke against a running server: the
// keys it finds stop working.
func TestScan_Revoke(t *testing.T) {
	s := startServer(t, t.TempDir())
	owner := ownerKey(t, s)
	status, created := do(t, "POST", s.url+"/v1/auth/api-keys", owner, `{"name":"committed by mistake","permissions":["candidate:read"]}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, created)
	}
	leaked := created["key"].(string)
	forged := pihu.NewSecret(pihu.Live)

	dir := t.TempDir()
	write(t, dir, "config.yaml", "api_key: "+leaked+"\nother: "+forged+"\n")
	write(t, dir, "copy.yaml", "api_key: "+leaked+"\n")
	r := scan(t, dir, []string{"PIHU_API_URL=" + s.url}, "--revoke", ".")
	if r.code != 1 {
		t.Fatalf("exit code: got %d, want 1\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "revoked 1 of the 2 distinct keys") {
		t.Errorf("stderr: got %q", r.stderr)
	}
	checkNoSecret(t, r.stdout+r.stderr, leaked, forged)
	if status, body := do(t, "GET", s.url+"/v1/auth/whoami", leaked, ""); status != 401 || body["error"].(map[string]any)["code"] != "revoked_api_key" {
		t.Errorf("the leaked key after --revoke: got %d %v", status, body)
	}
	if status, _ := do(t, "GET", s.url+"/v1/auth/whoami", owner, ""); status != 200 {
		t.Errorf("the owner key: got %d, want 200", status)
	}

	t.Run("ErrServerDown", func(t *testing.T) {
		r := scan(t, dir, []string{"PIHU_API_URL=http://127.0.0.1:1"}, "--revoke", ".")
		if r.code != 2 || !strings.Contains(r.stderr, "--revoke") {
			t.Errorf("got %d %q, want 2 and the error", r.code, r.stderr)
		}
		checkNoSecret(t, r.stdout+r.stderr, leaked, forged)
	})
}
