package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

func versionCommand() *command {
	c := newCommand("version", "print pipegate's version and commit")
	c.help = `Prints the module version pipegate was built from ("(devel)" for a build of a
checkout), the VCS commit, its time and whether the tree had local changes, and
the Go version, from the build information the Go toolchain embeds.`
	c.run = func(_ context.Context, e *env, _ []string) error {
		bi, ok := debug.ReadBuildInfo()
		fmt.Fprintln(e.stdout, versionLine(bi, ok))
		return nil
	}
	return c
}

// versionLine words the build information: "pipegate v1.2.0 (commit 1b1a4d4..., 2026-12-01T10:00:00Z) go1.26.8".
func versionLine(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "pipegate (unknown version: built without module information)"
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, when string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var vcs []string
	switch {
	case rev != "":
		vcs = append(vcs, "commit "+rev)
		if when != "" {
			vcs = append(vcs, when)
		}
		if modified {
			vcs = append(vcs, "with local changes")
		}
	default:
		// go build -buildvcs=false, or a build outside a repository; `go install
		// module@version` records the version instead.
		vcs = append(vcs, "commit unknown: built without VCS information")
	}
	return fmt.Sprintf("pipegate %s (%s) %s", version, strings.Join(vcs, ", "), bi.GoVersion)
}
