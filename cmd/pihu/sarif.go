package main

import (
	"net/url"
	"path/filepath"
	"strings"
)

// SARIF 2.1.0 (OASIS), as `pihu scan --format sarif` writes it: one run of
// the tool "pihu scan" with one rule, and a result for each key found,
// located by a path relative to where the scan ran (or as given, for a
// path outside it), line and column. Columns count bytes, as in the text
// output: for a line whose text before the key is ASCII, as in most
// configuration files, that is the character column viewers show.

// sarifSchema is where the SARIF 2.1.0 JSON schema is published.
const sarifSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// sarifRuleID names the one kind of finding: a Pihu API key.
const sarifRuleID = "pihu/api-key"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      sarifText       `json:"fullDescription"`
	Help                 sarifText       `json:"help"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
	Properties           map[string]any  `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           sarifRegion           `json:"region"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
	// URIBaseID is "%SRCROOT%" for a path relative to where the scan
	// ran, as GitHub code scanning expects; absent for an absolute one.
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
}

// newSARIF is the SARIF log of the findings: never a key, only its hint.
func newSARIF(findings []finding) sarifLog {
	rule := sarifRule{
		ID:               sarifRuleID,
		Name:             "PihuAPIKey",
		ShortDescription: sarifText{Text: "Pihu API key"},
		FullDescription: sarifText{Text: "A Pihu API key (ph_live_… or ph_test_…, with a right checksum) is written in this file: " +
			"whoever reads the file can use it."},
		Help: sarifText{
			Text: "Revoke the key (pihu scan --revoke, or the dashboard), give its users a new one, and remove it from the file and its history. " +
				"Keep keys in a secret store or the environment.",
			Markdown: "Revoke the key (`pihu scan --revoke`, or the dashboard), give its users a new one, and remove it from the file and its history. " +
				"Keep keys in a secret store or the environment.",
		},
		DefaultConfiguration: sarifRuleConfig{Level: "error"},
		Properties:           map[string]any{"tags": []string{"security", "secret"}, "precision": "very-high", "security-severity": "9.0"},
	}
	results := make([]sarifResult, 0, len(findings))
	for _, f := range findings {
		env := "live"
		if f.Environment == "test" {
			env = "test"
		}
		msg := "A Pihu " + env + " API key, " + f.Hint + ", is written here"
		if f.Encoding != "" {
			msg += " (" + f.Encoding + ")"
		}
		msg += ": revoke it and remove it."
		loc := sarifArtifactLocation{URI: sarifURI(f.Path)}
		if !filepath.IsAbs(f.Path) {
			loc.URIBaseID = "%SRCROOT%"
		}
		results = append(results, sarifResult{
			RuleID: sarifRuleID, RuleIndex: 0, Level: "error", Message: sarifText{Text: msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysicalLocation{
				ArtifactLocation: loc,
				Region:           sarifRegion{StartLine: f.Line, StartColumn: f.Column},
			}}},
		})
	}
	return sarifLog{
		Schema:  sarifSchema,
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name: "pihu scan", Version: strings.TrimPrefix(currentBuild().Version, "v"),
				InformationURI: "https://pihu.ai", Rules: []sarifRule{rule},
			}},
			Results: results,
		}},
	}
}

// sarifURI is path as a URI reference: forward slashes, no leading "./",
// escaped; an absolute path is a file: URI.
func sarifURI(path string) string {
	p := filepath.ToSlash(path)
	if filepath.IsAbs(path) {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	return (&url.URL{Path: p}).String()
}
