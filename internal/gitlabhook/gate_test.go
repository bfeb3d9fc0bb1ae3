package gitlabhook_test

import (
	"testing"

	"github.com/pipegate/pipegate/internal/gitlabhook"
)

func TestOpensGate(t *testing.T) {
	for action, want := range map[string]bool{
		"approval": true, "approved": true, "merge": true,
		"open": false, "update": false, "close": false, "reopen": false,
		"unapproval": false, "unapproved": false, "": false, "Merge": false,
	} {
		m := &gitlabhook.MergeRequest{IID: 7, Action: action}
		if got := m.OpensGate(); got != want {
			t.Errorf("action %q: OpensGate = %v, want %v", action, got, want)
		}
	}
}
