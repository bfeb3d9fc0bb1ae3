package progress

import (
	"strings"
	"time"

	"github.com/pipegate/pipegate/internal/routing"
)

// IsGate reports whether ev is the start of the production approval action p
// names: the one event that makes pipegate evaluate the gate.
func IsGate(p routing.Production, ev Event) bool {
	return ev.Level == ActionLevel && ev.Category == "Approval" && Normalize(ev.State) == "STARTED" &&
		ev.Stage == p.Stage && ev.Action == p.ApprovalAction
}

// GateOwns reports whether the status of stage in state is the production gate's
// to post: GitLab keeps a running status's description when it is posted running
// again, so if the stage's start were posted, the gate could never say what it
// waits for.
func GateOwns(p routing.Production, stage, state string) bool {
	return stage != "" && stage == p.Stage && Normalize(state) == "STARTED"
}

// StatusRef is the ref that keeps an execution's commit statuses apart from
// other executions' of the same commit: the full ref of a tag, "" for every
// branch execution. GitLab keeps a commit's statuses per ref, so a tag's
// executions are ordered apart from a branch's. Branch executions share one
// record whatever their ref: pipegate knows the ref only of executions it
// started, and GitLab files a status posted without one (an execution started
// in the console) under the commit's branch, so they must take over from each
// other.
func StatusRef(ref string) string {
	if strings.HasPrefix(ref, "refs/tags/") {
		return ref
	}
	return ""
}

// Known is what is known of one execution: the commit it runs, the full ref
// pipegate started it on ("" when something else started it), what started it
// (CodePipeline's trigger type, "" when not read) and when it began.
type Known struct {
	Commit, Ref, Trigger string
	Started              time.Time
}

// Enough reports whether rec, pipegate's record of an execution, serves as it
// is, or must be completed from CodePipeline first. inHand is what the caller
// already has from CodePipeline at no cost (the reconciler's list of recent
// executions); zero when completing means asking (GetPipelineExecution).
//
// It serves when it names the commit; when it tells the gate whether the
// pipeline's creation started the run (pipegate's own start has the ref; any
// other record needs the trigger), unless what is in hand cannot tell either;
// and when an exact start in hand is not earlier than the one recorded.
func Enough(rec, inHand Known) bool {
	if rec.Commit == "" {
		return false
	}
	if rec.Ref == "" && rec.Trigger == "" && (inHand.Commit == "" || inHand.Trigger != "") {
		return false
	}
	if !inHand.Started.IsZero() && (rec.Started.IsZero() || inHand.Started.Before(rec.Started)) {
		return false
	}
	return true
}
