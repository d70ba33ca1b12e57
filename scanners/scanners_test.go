package scanners_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pihu-ai/pihu"
)

// lookalike is secret with its last character changed: a key's shape,
// as random as a key, with a wrong checksum.
func lookalike(secret string) string {
	c := "A"
	if secret[len(secret)-1] == 'A' {
		c = "B"
	}
	return secret[:len(secret)-1] + c
}

// placeholder is what docs and examples write for a key: the shape, no
// randomness, a wrong checksum.
const placeholder = "ph_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

// TestGitleaks runs gitleaks with scanners/gitleaks.toml over a folder
// holding a real key, a placeholder and a random lookalike with a wrong
// checksum. gitleaks finds the real key and skips the placeholder (its
// entropy is too low); it cannot compute the checksum, so it reports the
// random lookalike too, which pihu's checksum (what pihu scan checks)
// then drops: of what gitleaks reports, exactly the real key is a key.
// It skips when gitleaks is not installed (CI installs it).
func TestGitleaks(t *testing.T) {
	bin, err := exec.LookPath("gitleaks")
	if err != nil {
		t.Skip("gitleaks is not on the PATH: go install github.com/zricethezav/gitleaks/v8@v8.30.1 to run this test (CI does)")
	}
	config, err := filepath.Abs("gitleaks.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	real, fake := pihu.NewSecret(pihu.Live), lookalike(pihu.NewSecret(pihu.Test))
	files := map[string]string{
		"app/.env":     "PIHU_API_KEY=" + real + "\n",
		"docs/api.md":  "curl -H \"Authorization: Bearer " + placeholder + "\"\n",
		"test/keys.go": "const key = \"" + fake + "\"\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "dir", "--config", config, "--report-format", "json", "--report-path", report,
		"--no-banner", "--log-level", "error", "--exit-code", "0", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gitleaks: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var findings []struct {
		RuleID string `json:"RuleID"`
		Secret string `json:"Secret"`
		File   string `json:"File"`
	}
	if err := json.Unmarshal(b, &findings); err != nil {
		t.Fatalf("gitleaks report: %v\n%s", err, b)
	}
	var found, keys []string
	for _, f := range findings {
		if f.RuleID != "pihu-api-key" {
			continue
		}
		found = append(found, f.Secret)
		if _, ok := pihu.ParseSecret(f.Secret); ok {
			keys = append(keys, f.Secret)
		}
	}
	if !slices.Contains(found, real) {
		t.Errorf("gitleaks did not find the real key; it found %d pihu-api-key matches", len(found))
	}
	if slices.Contains(found, placeholder) {
		t.Error("gitleaks reported the placeholder: the entropy threshold should drop it")
	}
	if !slices.Contains(found, fake) {
		t.Error("gitleaks skipped the random lookalike: it cannot check the checksum, and docs/scan.md says it reports such lookalikes; update the docs")
	}
	if !slices.Equal(keys, []string{real}) {
		t.Errorf("of gitleaks' matches, %d have a right checksum; want exactly the real key", len(keys))
	}
}

// TestTrufflehogDetector parses scanners/trufflehog.yaml and checks that
// its regex finds real keys of both environments, as pihu scan does, and
// not another provider's token.
func TestTrufflehogDetector(t *testing.T) {
	b, err := os.ReadFile("trufflehog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Detectors []struct {
			Name     string            `yaml:"name"`
			Keywords []string          `yaml:"keywords"`
			Regex    map[string]string `yaml:"regex"`
			Entropy  float64           `yaml:"entropy"`
		} `yaml:"detectors"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Detectors) != 1 || len(cfg.Detectors[0].Regex) != 1 {
		t.Fatalf("want one detector with one regex, got %+v", cfg.Detectors)
	}
	d := cfg.Detectors[0]
	re, err := regexp.Compile(d.Regex["key"])
	if err != nil {
		t.Fatalf("the regex does not compile: %v", err)
	}
	for _, env := range []pihu.Environment{pihu.Live, pihu.Test} {
		secret := pihu.NewSecret(env)
		text := "export PIHU_API_KEY=\"" + secret + "\"\n"
		m := re.FindStringSubmatch(text)
		if m == nil || m[1] != secret {
			t.Errorf("%s key: got %q, want the key", env, m)
		}
		if !slices.ContainsFunc(d.Keywords, func(k string) bool { return strings.Contains(text, k) }) {
			t.Errorf("%s key: no keyword of %v is in the text, so trufflehog would not run the regex", env, d.Keywords)
		}
	}
	if re.MatchString("ghp_0123456789abcdefghijABCDEFGHIJ0123456789") || re.MatchString("ph_live_short") {
		t.Error("the regex matches what is not shaped like a pihu key")
	}
	if d.Entropy <= 0 {
		t.Error("no entropy threshold: placeholders would be reported")
	}
}

// TestHooksAndAction checks that the pre-commit hooks and the GitHub
// Action run pihu scan as docs/scan.md says: the hooks on the files
// passed (after --), the action with --format sarif, uploading to code
// scanning.
func TestHooksAndAction(t *testing.T) {
	var hooks []struct {
		ID            string `yaml:"id"`
		Entry         string `yaml:"entry"`
		Language      string `yaml:"language"`
		PassFilenames bool   `yaml:"pass_filenames"`
	}
	b, err := os.ReadFile(filepath.Join("..", ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &hooks); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, h := range hooks {
		ids[h.ID] = h.Language
		if h.Entry != "pihu scan --progress never --" || !h.PassFilenames {
			t.Errorf("hook %s: entry %q, pass_filenames %v", h.ID, h.Entry, h.PassFilenames)
		}
	}
	if ids["pihu-scan"] != "golang" || ids["pihu-scan-system"] != "system" {
		t.Errorf("hooks: got %v", ids)
	}

	var action struct {
		Runs struct {
			Using string `yaml:"using"`
			Steps []struct {
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	b, err = os.ReadFile(filepath.Join("..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &action); err != nil {
		t.Fatal(err)
	}
	var scans, uploads bool
	for _, s := range action.Runs.Steps {
		scans = scans || strings.Contains(s.Run, "pihu scan --format sarif")
		uploads = uploads || strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@")
	}
	if action.Runs.Using != "composite" || !scans || !uploads {
		t.Errorf("action: using %q, scans with SARIF %v, uploads %v", action.Runs.Using, scans, uploads)
	}
}
