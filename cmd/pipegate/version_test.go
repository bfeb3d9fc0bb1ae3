package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"go install module@version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.3.0"}},
			true, "pipegate v1.3.0 (commit unknown: built without VCS information) go1.26.8"},
		{"a build of a clone", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: setting("vcs", "git", "vcs.revision", "1b1a4d47f77a255a53d485134c975f9ee1235cac", "vcs.time", "2026-12-01T10:00:00Z", "vcs.modified", "false")},
			true, "pipegate (devel) (commit 1b1a4d47f77a255a53d485134c975f9ee1235cac, 2026-12-01T10:00:00Z) go1.26.8"},
		{"local changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: setting("vcs.revision", "1b1a4d4", "vcs.modified", "true")},
			true, "pipegate (devel) (commit 1b1a4d4, with local changes) go1.26.8"},
		{"no build information", nil, false, "pipegate (unknown version: built without module information)"},
	} {
		if got := versionLine(tc.bi, tc.ok); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
