package main_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// version runs a pihu binary's version command with args and returns its
// standard output.
func version(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"version"}, args...)...).Output()
	if err != nil {
		t.Fatalf("pihu version %v: %v", args, err)
	}
	return string(out)
}

// versionJSON runs `version --json` and decodes it.
func versionJSON(t *testing.T, bin string) map[string]any {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal([]byte(version(t, bin, "--json")), &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestVersion(t *testing.T) {
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH

	t.Run("Stamped", func(t *testing.T) {
		// A release build is stamped with -ldflags, as .goreleaser.yaml
		// does.
		bin := filepath.Join(t.TempDir(), "pihu")
		const (
			v = "1.2.3"
			c = "0123456789abcdef0123456789abcdef01234567"
			d = "2026-11-27T08:00:00Z"
		)
		build := exec.Command("go", "build", "-o", bin,
			"-ldflags", "-s -w -X main.version="+v+" -X main.commit="+c+" -X main.date="+d, ".")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		want := map[string]any{
			"version": v, "commit": c, "date": d, "modified": false,
			"go_version": strings.TrimSpace(string(goVersion)), "platform": platform,
		}
		got := versionJSON(t, bin)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("version --json: %s is %v, want %v", k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("version --json: got %v, want the fields %v", got, want)
		}
		text := version(t, bin)
		for _, line := range []string{"pihu " + v + "\n", "commit:   " + c + "\n", "date:     " + d + "\n",
			"go:       " + strings.TrimSpace(string(goVersion)) + "\n", "platform: " + platform + "\n"} {
			if !strings.Contains(text, line) {
				t.Errorf("pihu version: no line %q in\n%s", line, text)
			}
		}
		if !strings.HasPrefix(text, "pihu "+v+"\n") {
			t.Errorf("pihu version: the first line is not %q:\n%s", "pihu "+v, text)
		}
	})

	t.Run("Unstamped", func(t *testing.T) {
		// The test binary is built with plain go build: what it prints is
		// what the toolchain embedded, as go version -m reads it (the
		// module version, and the commit when the build saw one).
		out, err := exec.Command("go", "version", "-m", binary).Output()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"commit": "", "date": "", "modified": false,
			"go_version": strings.TrimSpace(string(goVersion)), "platform": platform}
		for line := range strings.Lines(string(out)) {
			f := strings.Split(strings.TrimSpace(line), "\t")
			switch {
			case len(f) >= 3 && f[0] == "mod":
				want["version"] = f[2]
			case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
				want["commit"] = strings.TrimPrefix(f[1], "vcs.revision=")
			case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.time="):
				want["date"] = strings.TrimPrefix(f[1], "vcs.time=")
			case len(f) == 2 && f[0] == "build" && f[1] == "vcs.modified=true":
				want["modified"] = true
			}
		}
		if want["version"] == nil {
			t.Fatalf("go version -m: no mod line in\n%s", out)
		}
		got := versionJSON(t, binary)
		for k, w := range want {
			if got[k] != w {
				t.Errorf("version --json: %s is %v, want %v (go version -m)", k, got[k], w)
			}
		}
	})

	t.Run("BadFlag", func(t *testing.T) {
		err := exec.Command(binary, "version", "--yaml").Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("pihu version --yaml: got %v, want exit code 2", err)
		}
	})
}
