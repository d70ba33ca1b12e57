package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestReadBuild(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/pihu-ai/pihu", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-27T08:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo
		want                  Build
		short                 string
	}{
		{
			name: "Stamped", version: "1.2.0", commit: "fedcba9876543210fedcba9876543210fedcba98", date: "2026-11-20T10:00:00Z",
			info:  vcs,
			want:  Build{Version: "1.2.0", Commit: "fedcba9876543210fedcba9876543210fedcba98", Date: "2026-11-20T10:00:00Z", GoVersion: "go1.26.8", Platform: platform},
			short: "1.2.0",
		},
		{
			name:  "WorkTree",
			info:  vcs,
			want:  Build{Version: "(devel)", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-11-27T08:00:00Z", Modified: true, GoVersion: "go1.26.8", Platform: platform},
			short: "(devel) 0123456789ab-dirty",
		},
		{
			name: "GoInstall",
			info: &debug.BuildInfo{
				GoVersion: "go1.26.8",
				Main:      debug.Module{Path: "github.com/pihu-ai/pihu", Version: "v1.2.0"},
			},
			want:  Build{Version: "v1.2.0", GoVersion: "go1.26.8", Platform: platform},
			short: "v1.2.0",
		},
		{
			name:  "NoBuildInfo",
			want:  Build{Version: "(devel)", GoVersion: runtime.Version(), Platform: platform},
			short: "(devel)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := readBuild(tc.version, tc.commit, tc.date, tc.info)
			if got != tc.want {
				t.Errorf("readBuild:\n got %+v\nwant %+v", got, tc.want)
			}
			if s := got.short(); s != tc.short {
				t.Errorf("short: got %q, want %q", s, tc.short)
			}
		})
	}
}
