// Package missed decides what the reconciler does with a branch whose head it
// read: whether GitLab left a push to it undelivered, and so whether pipegate
// starts it itself (docs/statuses.md, "Pushes GitLab did not deliver"). It does
// no I/O; the facts that cost a call are asked for only when the decision
// needs them.
package missed

import "time"

// Fact is a fact the decision may need, not yet looked up.
type Fact int

const (
	Unknown Fact = iota // not looked up yet
	Yes
	No
)

// Input is what is known of one branch.
type Input struct {
	Head  string // the branch's head commit in GitLab; "" when the branch does not exist
	Known string // the last head pipegate knows (store.Head); "" for none
	// Candidate is a head found undelivered at an earlier run, since CandidateAt.
	Candidate   string
	CandidateAt time.Time
	Now         time.Time
	// Grace is how long an undelivered head waits before it is started, so that
	// a delivery that is only late is not raced (it would start a second run).
	Grace time.Duration
	// Delivered: a delivery brought Head, or pipegate knew it as the head before
	// (the store's seen commits). Ran: an execution of the branch's pipelines
	// ran Head (CodePipeline's recent executions).
	Delivered, Ran Fact
}

// Verdict is what to do with the branch.
type Verdict string

const (
	Gone         Verdict = "branch gone"   // no head to start: nothing
	Unchanged    Verdict = "unchanged"     // the head is the known one: nothing, not even a write
	Baseline     Verdict = "baseline"      // pipegate knows nothing of the branch: note the head, start nothing
	AskDelivered Verdict = "ask delivered" // look Delivered up and decide again
	AskRan       Verdict = "ask ran"       // look Ran up and decide again
	Known        Verdict = "known"         // delivered or ran already: note the head, start nothing
	Wait         Verdict = "wait"          // undelivered, new or within the grace: note it as the candidate
	Start        Verdict = "start"         // route the head as a push from Known and start what matches
)

// Decide is the decision. A push pipegate received is never started here,
// whatever became of it (started, skipped, queued): its delivery noted it.
func Decide(in Input) Verdict {
	switch {
	case in.Head == "":
		return Gone
	case in.Known == "":
		return Baseline
	case in.Head == in.Known:
		return Unchanged
	case in.Delivered == Unknown:
		return AskDelivered
	case in.Delivered == Yes:
		return Known
	case in.Candidate != in.Head || in.Now.Before(in.CandidateAt.Add(in.Grace)):
		return Wait
	case in.Ran == Unknown:
		return AskRan
	case in.Ran == Yes:
		return Known
	}
	return Start
}
