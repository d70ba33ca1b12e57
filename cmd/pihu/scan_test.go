package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	utf16pkg "unicode/utf16"

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
	return runScan(tb, nil, dir, env, args...)
}

// scanAs is scan run with the credential as (nil: this process's).
func scanAs(tb testing.TB, as *syscall.Credential, dir string, args ...string) scanResult {
	tb.Helper()
	return runScan(tb, as, dir, nil, args...)
}

func runScan(tb testing.TB, as *syscall.Credential, dir string, env []string, args ...string) scanResult {
	tb.Helper()
	cmd := exec.Command(binary, append([]string{"scan"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	}
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

// leakyTree makes a tree holding four real keys where they must be found
// (one at the end of a file over 10 MiB, one in a binary file), and others
// where they must not: a lookalike, a .git folder and a link.
func leakyTree(tb testing.TB) (dir string, found, hidden []string) {
	tb.Helper()
	dir = tb.TempDir()
	live, test, inBig := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test), pihu.NewSecret(pihu.Live)
	inGit, inBinary := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Live)
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
	return dir, []string{live, test, inBig, inBinary}, []string{inGit, lookalike}
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
		want := fmt.Sprintf(".env:2:14: %s\ndata/big.txt:1:%d: %s\nimage.bin:3:3: %s\nsrc/app/client.go:4:10: %s\n",
			pihu.Hint(found[0]), 10<<20+1, pihu.Hint(found[2]), pihu.Hint(found[3]), pihu.Hint(found[1]))
		if r.stdout != want {
			t.Errorf("stdout:\ngot  %q\nwant %q", r.stdout, want)
		}
		wantErr := "pihu scan: 4 keys in 4 files; 5 files scanned (1 binary); 0 skipped; 3 excluded (2 .git folders, 1 symbolic link)\n"
		if r.stderr != wantErr {
			t.Errorf("stderr:\ngot  %q\nwant %q", r.stderr, wantErr)
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
		var out scanJSON
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			t.Fatalf("decoding %s: %v", r.stdout, err)
		}
		if len(out.Findings) != 4 {
			t.Fatalf("got %d findings, want 4", len(out.Findings))
		}
		f := out.Findings[3]
		if f["path"] != "src/app/client.go" || f["line"] != 4.0 || f["column"] != 10.0 || f["hint"] != pihu.Hint(found[1]) || f["environment"] != "test" || f["encoding"] != "" {
			t.Errorf("finding: got %v", f)
		}
		if out.Scanned != 5 || fmt.Sprint(out.Skipped) != "[]" ||
			fmt.Sprint(out.Excluded) != "[{.git .git folder} {link.env symbolic link} {sub/.git .git folder}]" {
			t.Errorf("got scanned %d, skipped %v, excluded %v", out.Scanned, out.Skipped, out.Excluded)
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
		want := `{"findings":[],"scanned":1,"skipped":[],"excluded":[{"path":".git","reason":".git folder"}]}`
		if r := scan(t, clean, nil, "--json"); r.code != 0 || compactJSON(t, r.stdout) != want {
			t.Errorf("--json: got %d %q, want %s", r.code, r.stdout, want)
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
		// Help asked for is the answer: on stdout.
		if r := scan(t, dir, nil, "--help"); r.code != 0 || !strings.Contains(r.stdout, "Usage: pihu scan") {
			t.Errorf("--help: got %d %q", r.code, r.stdout)
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

// scanJSON is the output of pihu scan --json.
type scanJSON struct {
	Findings []map[string]any `json:"findings"`
	Scanned  int              `json:"scanned"`
	Skipped  []struct {
		Path   string `json:"path"`
		Reason string `json:"reason"`
	} `json:"skipped"`
	Excluded []struct {
		Path   string `json:"path"`
		Reason string `json:"reason"`
	} `json:"excluded"`
	Revoked *int `json:"revoked"`
}

func compactJSON(tb testing.TB, s string) string {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		tb.Fatalf("%q: %v", s, err)
	}
	return b.String()
}

// TestScan_Skipped checks that a scan never says clean when it did not
// look: a file it cannot read is named on standard error, counted in the
// summary and listed in --json, and the exit code is 2 (1 if it found
// keys) unless --allow-skipped is given.
func TestScan_Skipped(t *testing.T) {
	key := pihu.NewSecret(pihu.Live)
	t.Run("UTF32", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "README.md", "nothing here\n")
		write(t, dir, "data/file", "\xff\xfe\x00\x00p\x00\x00\x00")
		r := scan(t, dir, nil, ".")
		if r.code != 2 || r.stdout != "" {
			t.Errorf("exit code: got %d %q, want 2 and no findings", r.code, r.stdout)
		}
		for _, want := range []string{
			"pihu scan: skipped data/file: UTF-32\n",
			"1 file scanned; 1 skipped (1 UTF-32); 0 excluded\n",
			"incomplete: 1 file could not be read",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr: got %q, want %q in it", r.stderr, want)
			}
		}
		r = scan(t, dir, nil, "--json", ".")
		var out scanJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 2 || fmt.Sprint(out.Skipped) != "[{data/file UTF-32}]" {
			t.Errorf("--json: got %d %q (%v)", r.code, r.stdout, err)
		}
		r = scan(t, dir, nil, "--allow-skipped", ".")
		if r.code != 0 || strings.Contains(r.stderr, "incomplete") || strings.Contains(r.stderr, "skipped data/file") ||
			!strings.Contains(r.stderr, "1 skipped (1 UTF-32)") {
			t.Errorf("--allow-skipped: got %d %q, want 0 and the count alone", r.code, r.stderr)
		}
	})
	// A binary file is read as bytes: a key stands as it is in a compiled
	// program or an image's metadata; a text file with a stray NUL byte
	// is not mistaken for UTF-16 and its key missed.
	for _, tt := range []struct{ name, content string }{
		{"Binary", "\x89PNG\r\n\x1a\n\x00\x00" + key + "\x00"},
		{"StrayNUL", "key = " + key + "\n\x00\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "data/file", tt.content)
			r := scan(t, dir, nil, ".")
			if r.code != 1 || !strings.Contains(r.stdout, "data/file:") || !strings.Contains(r.stdout, pihu.Hint(key)) {
				t.Errorf("got %d %q, want 1 and the key found", r.code, r.stdout)
			}
			if !strings.Contains(r.stderr, "1 file scanned (1 binary); 0 skipped") || strings.Contains(r.stderr, "incomplete") {
				t.Errorf("stderr: got %q, want the binary counted as scanned", r.stderr)
			}
			checkNoSecret(t, r.stdout+r.stderr, key)
		})
	}
	t.Run("FoundIsOne", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "a.bin", "\xff\xfe\x00\x00")
		write(t, dir, "b.txt", key)
		if r := scan(t, dir, nil, "."); r.code != 1 || !strings.Contains(r.stderr, "incomplete") {
			t.Errorf("got %d %q, want 1 and the scan said incomplete", r.code, r.stderr)
		}
	})
	t.Run("PermissionDenied", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "secret.txt", key)
		write(t, dir, "locked/inner.txt", key)
		for _, p := range []string{"secret.txt", "locked"} {
			if err := os.Chmod(filepath.Join(dir, p), 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(filepath.Join(dir, p), 0o755) })
		}
		// Root reads any file: run the scan as nobody then.
		var as *syscall.Credential
		if os.Geteuid() == 0 {
			as = &syscall.Credential{Uid: 65534, Gid: 65534}
			for _, d := range []string{dir, filepath.Dir(dir), filepath.Dir(binary)} {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		r := scanAs(t, as, dir, "--json", ".")
		var out scanJSON
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 2 {
			t.Fatalf("got %d %q %q (%v), want 2", r.code, r.stdout, r.stderr, err)
		}
		if got := fmt.Sprint(out.Skipped); got != "[{locked permission denied} {secret.txt permission denied}]" {
			t.Errorf("skipped: got %s", got)
		}
		if r := scanAs(t, as, dir, "--allow-skipped", "."); r.code != 0 {
			t.Errorf("--allow-skipped: got %d, want 0", r.code)
		}
	})
}

// TestScan_SymlinkRoot checks that a link named on the command line is
// followed, to a folder or a file, and the paths shown under its name;
// links inside a folder are not followed, and are counted.
func TestScan_SymlinkRoot(t *testing.T) {
	dir, found, _ := leakyTree(t)
	links := t.TempDir()
	for name, target := range map[string]string{"tree": dir, "env": filepath.Join(dir, ".env")} {
		if err := os.Symlink(target, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	r := scan(t, links, nil, "tree", "env")
	want := fmt.Sprintf("tree/.env:2:14: %s\ntree/data/big.txt:1:%d: %s\ntree/image.bin:3:3: %s\ntree/src/app/client.go:4:10: %s\nenv:2:14: %s\n",
		pihu.Hint(found[0]), 10<<20+1, pihu.Hint(found[2]), pihu.Hint(found[3]), pihu.Hint(found[1]), pihu.Hint(found[0]))
	if r.code != 1 || r.stdout != want {
		t.Errorf("got %d\n%s\nwant 1\n%s", r.code, r.stdout, want)
	}
	if !strings.Contains(r.stderr, "6 files scanned (1 binary); 0 skipped; 3 excluded (2 .git folders, 1 symbolic link)") {
		t.Errorf("summary: got %q", r.stderr)
	}
}

// utf16 encodes s in UTF-16, with or without a byte order mark.
func utf16(s string, bigEndian, bom bool) string {
	var b strings.Builder
	if bom {
		s = "\ufeff" + s
	}
	for _, r := range utf16pkg.Encode([]rune(s)) {
		hi, lo := byte(r>>8), byte(r)
		if bigEndian {
			b.WriteByte(hi)
			b.WriteByte(lo)
		} else {
			b.WriteByte(lo)
			b.WriteByte(hi)
		}
	}
	return b.String()
}

// TestScan_UTF16 checks that UTF-16 files, with a byte order mark or
// without, are decoded and scanned, lines and columns counted in the text
// as UTF-8, characters outside the BMP (two units) included, and invalid
// UTF-16 read as U+FFFD.
func TestScan_UTF16(t *testing.T) {
	dir := t.TempDir()
	keys := []string{pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test), pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test)}
	write(t, dir, "a-le-bom.txt", utf16("# settings\r\nKEY="+keys[0]+"\r\n", false, true))
	write(t, dir, "b-be-bom.txt", utf16("KEY="+keys[1], true, true))
	write(t, dir, "c-le.ps1", utf16("$key = '"+keys[2]+"'", false, false))
	write(t, dir, "d-be.txt", utf16("x\n\n  "+b64(keys[3]), true, false))
	// Over 100,000 units of characters in two units, so that reads end
	// between the two; a lone surrogate; an odd byte at the end.
	write(t, dir, "e-le-bom.txt", utf16(strings.Repeat("😀 pihu\n", 20000)+"é😀 ", false, true)+"\x00\xd8"+utf16(" "+keys[4], false, false)+"\x41")
	r := scan(t, dir, nil, ".")
	want := fmt.Sprintf("a-le-bom.txt:2:5: %s\nb-be-bom.txt:1:5: %s\nc-le.ps1:1:9: %s\nd-be.txt:3:3: %s (base64)\ne-le-bom.txt:20001:12: %s\n",
		pihu.Hint(keys[0]), pihu.Hint(keys[1]), pihu.Hint(keys[2]), pihu.Hint(keys[3]), pihu.Hint(keys[4]))
	if r.code != 1 || r.stdout != want {
		t.Errorf("got %d\n%s\nwant 1\n%s", r.code, r.stdout, want)
	}
	if !strings.Contains(r.stderr, "5 keys in 5 files; 5 files scanned (5 from UTF-16); 0 skipped; 0 excluded\n") {
		t.Errorf("summary: got %q", r.stderr)
	}
	checkNoSecret(t, r.stdout+r.stderr, keys...)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestScan_Encoded checks that keys written in base64, percent-encoding
// or JSON escapes are found, with the encoding in the report and in
// --json, and never shown.
func TestScan_Encoded(t *testing.T) {
	dir := t.TempDir()
	k := []string{pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test), pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Live)}
	write(t, dir, "k8s/secret.yaml", "kind: Secret\ndata:\n  PIHU_API_KEY: "+b64(k[0])+"\n")
	write(t, dir, "access.log", `GET /hook?key=ph%5Ftest%5F`+k[1][8:]+` HTTP/1.1`+"\n")
	write(t, dir, "bundle.js", `var k="\u0070\u0068\u005f`+k[2][3:]+`";`)
	write(t, dir, "plain.json", `{"key": "`+k[3]+`"}`)
	r := scan(t, dir, nil, ".")
	want := fmt.Sprintf("access.log:1:15: %s (percent)\nbundle.js:1:8: %s (json-escape)\nk8s/secret.yaml:3:17: %s (base64)\nplain.json:1:10: %s\n",
		pihu.Hint(k[1]), pihu.Hint(k[2]), pihu.Hint(k[0]), pihu.Hint(k[3]))
	if r.code != 1 || r.stdout != want {
		t.Errorf("got %d\n%s\nwant 1\n%s", r.code, r.stdout, want)
	}
	r = scan(t, dir, nil, "--json", ".")
	var out scanJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Findings) != 4 {
		t.Fatalf("--json: got %q (%v)", r.stdout, err)
	}
	for i, enc := range []string{"percent", "json-escape", "base64", ""} {
		if out.Findings[i]["encoding"] != enc {
			t.Errorf("finding %d: got %v, want encoding %q", i, out.Findings[i], enc)
		}
	}
	checkNoSecret(t, r.stdout+r.stderr, k...)
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
