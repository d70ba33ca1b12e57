package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// The build's stamps, set by release builds (see .goreleaser.yaml) with
// -ldflags "-X main.version=… -X main.commit=… -X main.date=…". A build
// without them (go build, go install, go run) reads what it can from the
// build information the Go toolchain embeds.
var (
	// version is the release version, such as 1.2.0.
	version = ""
	// commit is the full hash of the commit the binary was built from.
	commit = ""
	// date is the commit's time, RFC 3339: a release build is dated by
	// its commit, not by the clock, so that two builds of one commit are
	// byte for byte the same.
	date = ""
)

// Build describes the binary: what `pihu version` prints.
type Build struct {
	// Version is the release version, the module version of a go install
	// (v1.2.0), or "(devel)" for a build from a work tree.
	Version string `json:"version"`
	// Commit is the VCS revision, or "" when unknown.
	Commit string `json:"commit"`
	// Date is the commit's time (RFC 3339), or "" when unknown.
	Date string `json:"date"`
	// Modified reports a build from a work tree with uncommitted changes.
	Modified bool `json:"modified"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
	// Platform is the operating system and architecture, as linux/amd64.
	Platform string `json:"platform"`
}

// currentBuild returns the running binary's Build.
func currentBuild() Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return readBuild(version, commit, date, info)
}

// readBuild combines the -ldflags stamps with the toolchain's build
// information (nil when there is none): a stamp given wins, and what is
// missing is read from info's module version and vcs.revision, vcs.time
// and vcs.modified settings.
func readBuild(version, commit, date string, info *debug.BuildInfo) Build {
	b := Build{
		Version:   version,
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if info != nil {
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		if info.GoVersion != "" {
			b.GoVersion = info.GoVersion
		}
		stamped := commit != ""
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				// A stamped commit is what the release built; the
				// toolchain's flag describes an unstamped build only.
				if !stamped {
					b.Modified = s.Value == "true"
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	return b
}

// buildVersion is the one-line version: "1.2.0", or for a build from a
// work tree "(devel) 0123456789ab" (the commit's first 12 digits, with
// "-dirty" when modified).
func buildVersion() string {
	return currentBuild().short()
}

func (b Build) short() string {
	v := b.Version
	if b.Version == "(devel)" && b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		v += " " + c
		if b.Modified {
			v += "-dirty"
		}
	}
	return v
}

// runVersion prints the Build: a line of its own for the version, then
// the commit, the date, the Go version and the platform; --json prints
// the Build as an object.
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	b := currentBuild()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	c := unknown(b.Commit)
	if b.Modified {
		c += " (modified)"
	}
	_, err := fmt.Fprintf(stdout, "pihu %s\ncommit:   %s\ndate:     %s\ngo:       %s\nplatform: %s\n",
		b.Version, c, unknown(b.Date), b.GoVersion, b.Platform)
	return err
}
