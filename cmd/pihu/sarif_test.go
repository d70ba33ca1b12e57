package main_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pihu-ai/pihu"
)

// sarifSchema compiles the SARIF 2.1.0 JSON schema under testdata (the
// OASIS standard's schema, rtm.5, as the npm package @microsoft/jest-sarif
// ships it, MIT), with formats asserted.
func sarifSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// validSARIF checks that out is a SARIF log the schema accepts.
func validSARIF(tb testing.TB, schema *jsonschema.Schema, out string) {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, out)
	}
	if err := schema.Validate(inst); err != nil {
		tb.Fatalf("not valid SARIF 2.1.0: %v\n%s", err, out)
	}
}

type sarifOut struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string `json:"name"`
				Rules []struct {
					ID string `json:"id"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID  string `json:"ruleId"`
			Level   string `json:"level"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine   int `json:"startLine"`
						StartColumn int `json:"startColumn"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

// TestScan_SARIF runs pihu scan --format sarif over keys as themselves and
// encoded, in paths with a space, beside a lookalike: the output is valid
// SARIF 2.1.0 (checked against its JSON schema), each key a result of the
// one rule with its relative path, line and column and its hint, never the
// key; a clean tree is valid SARIF with no result.
func TestScan_SARIF(t *testing.T) {
	schema := sarifSchema(t)
	dir := t.TempDir()
	live, test := pihu.NewSecret(pihu.Live), pihu.NewSecret(pihu.Test)
	bad := lookalikeOf(live)
	write(t, dir, ".env", "# settings\nPIHU_API_KEY="+live+"\nOTHER="+bad+"\n")
	write(t, dir, "src/my app/config.go", "package config\n\n\tconst key = \""+test+"\"\n")
	write(t, dir, "k8s/secret.yaml", "data:\n  key: "+base64.StdEncoding.EncodeToString([]byte(live))+"\n")

	r := scan(t, dir, nil, "--format", "sarif", ".")
	if r.code != 1 {
		t.Fatalf("exit code: got %d, want 1\n%s", r.code, r.stderr)
	}
	validSARIF(t, schema, r.stdout)
	for _, secret := range []string{live, test, bad} {
		if strings.Contains(r.stdout, secret) {
			t.Fatalf("the SARIF holds a key:\n%s", r.stdout)
		}
	}
	var log sarifOut
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "pihu scan" ||
		len(log.Runs[0].Tool.Driver.Rules) != 1 || log.Runs[0].Tool.Driver.Rules[0].ID != "pihu/api-key" {
		t.Fatalf("log: got %+v", log)
	}
	type want struct {
		uri          string
		line, column int
		text         string
	}
	wants := []want{
		{".env", 2, 14, "A Pihu live API key, " + pihu.Hint(live) + ", is written here"},
		{"k8s/secret.yaml", 2, 8, "A Pihu live API key, " + pihu.Hint(live) + ", is written here (base64)"},
		{"src/my%20app/config.go", 3, 15, "A Pihu test API key, " + pihu.Hint(test) + ", is written here"},
	}
	results := log.Runs[0].Results
	if len(results) != len(wants) {
		t.Fatalf("results: got %d, want %d (the lookalike left out)\n%s", len(results), len(wants), r.stdout)
	}
	for i, w := range wants {
		res := results[i]
		loc := res.Locations[0].PhysicalLocation
		if res.RuleID != "pihu/api-key" || res.Level != "error" || loc.ArtifactLocation.URI != w.uri || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" ||
			loc.Region.StartLine != w.line || loc.Region.StartColumn != w.column || !strings.HasPrefix(res.Message.Text, w.text) {
			t.Errorf("result %d: got %+v, want %+v", i, res, w)
		}
	}

	clean := t.TempDir()
	write(t, clean, "README", "no keys here\n")
	r = scan(t, clean, nil, "--format", "sarif")
	if r.code != 0 {
		t.Fatalf("clean: exit code %d\n%s", r.code, r.stderr)
	}
	validSARIF(t, schema, r.stdout)
	if !strings.Contains(r.stdout, `"results": []`) {
		t.Errorf("clean: want an empty results list:\n%s", r.stdout)
	}
	// The schema refuses what is not SARIF: the check has teeth.
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(strings.Replace(r.stdout, `"version": "2.1.0"`, `"version": "2.0.0"`, 1)))
	if schema.Validate(inst) == nil {
		t.Error("the schema accepts version 2.0.0")
	}
}

// TestScan_Format checks that text stays the default, that --json is
// --format json, and that a bad or contradictory format is a usage error.
func TestScan_Format(t *testing.T) {
	dir := t.TempDir()
	live := pihu.NewSecret(pihu.Live)
	write(t, dir, ".env", "KEY="+live+"\n")
	text := scan(t, dir, nil)
	if text.code != 1 || text.stdout != ".env:1:5: "+pihu.Hint(live)+"\n" {
		t.Errorf("default: got %d %q", text.code, text.stdout)
	}
	j1, j2 := scan(t, dir, nil, "--json"), scan(t, dir, nil, "--format", "json")
	if j1.code != 1 || j1.stdout != j2.stdout || !strings.HasPrefix(j1.stdout, "{") {
		t.Errorf("--json and --format json: got %q and %q", j1.stdout, j2.stdout)
	}
	for _, args := range [][]string{{"--format", "xml"}, {"--json", "--format", "sarif"}} {
		if r := scan(t, dir, nil, args...); r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "--format") {
			t.Errorf("%v: got %d %q %q, want a usage error", args, r.code, r.stdout, r.stderr)
		}
	}
}

// lookalikeOf is secret with its last character changed: a key's shape
// with a wrong checksum.
func lookalikeOf(secret string) string {
	c := "A"
	if secret[len(secret)-1] == 'A' {
		c = "B"
	}
	return secret[:len(secret)-1] + c
}
