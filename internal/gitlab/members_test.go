package gitlab

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
)

// TestGroupApprovers reads a subgroup's members/all through client-go: its own
// members and those inherited from the parent, each once at their highest role,
// across pages, by full path (escaped on the wire) or id; blocked users and
// roles below Developer do not count.
func TestGroupApprovers(t *testing.T) {
	g, c := start(t)
	ctx := ctxTimeout(t, 10*time.Second)
	g.AddGroup(100, "platform")
	g.AddGroup(101, "platform/leads")
	g.AddGroup(102, "platformer")                                                              // a path prefix, but no ancestor
	g.AddGroupMember("platform", emulator.GroupMember{Username: "erin", AccessLevel: 30})      // inherited
	g.AddGroupMember("platform", emulator.GroupMember{Username: "gus", AccessLevel: 20})       // Reporter in the parent…
	g.AddGroupMember("platform/leads", emulator.GroupMember{Username: "gus", AccessLevel: 40}) // …Maintainer here
	g.AddGroupMember("platform/leads", emulator.GroupMember{Username: "dave", AccessLevel: 30})
	g.AddGroupMember("platform/leads", emulator.GroupMember{Username: "rita", AccessLevel: 20})
	g.AddGroupMember("platform/leads", emulator.GroupMember{Username: "bert", AccessLevel: 50, State: "blocked"})
	g.AddGroupMember("platformer", emulator.GroupMember{Username: "mallory", AccessLevel: 50})
	for i := range 120 { // more than one page of 100
		g.AddGroupMember("platform", emulator.GroupMember{Username: fmt.Sprintf("dev%03d", i), AccessLevel: 30})
	}
	for _, group := range []string{"platform/leads", "101"} {
		got, err := c.GroupApprovers(ctx, group)
		if err != nil {
			t.Fatalf("%s: %v", group, err)
		}
		for _, want := range []string{"dave", "erin", "gus", "dev000", "dev119"} {
			if !slices.Contains(got, want) {
				t.Errorf("%s: %s missing from %d approvers", group, want, len(got))
			}
		}
		for _, not := range []string{"rita", "bert", "mallory"} {
			if slices.Contains(got, not) {
				t.Errorf("%s: %s counted", group, not)
			}
		}
		if len(got) != 123 {
			t.Errorf("%s: %d approvers, want 123", group, len(got))
		}
	}
	if n := g.Calls("group_members"); n != 4 {
		t.Errorf("%d requests, want 2 pages × 2 reads", n)
	}
	// The parent does not inherit the subgroup's members.
	if got, _ := c.GroupApprovers(ctx, "platform"); slices.Contains(got, "dave") {
		t.Errorf("platform counts its subgroup's dave: %v", got)
	}
	// An unknown group and a failing GitLab are errors, never an empty list.
	if _, err := c.GroupApprovers(ctx, "platform/nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown group: %v", err)
	}
	g.FailNext("group_members", retryMax+1, emulator.ServerError)
	if got, err := c.GroupApprovers(ctx, "platform/leads"); err == nil {
		t.Errorf("a failing GitLab read as %v", got)
	}
}
