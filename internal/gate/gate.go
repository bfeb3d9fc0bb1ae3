// Package gate decides whether a commit may go to production, from what GitLab
// says of the commit's merge requests and the service's policy. It does no I/O:
// the caller fetches the merge requests and their approvals and acts on the Decision.
package gate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/text"
)

// Policy is a service's production policy (routing file).
type Policy struct {
	MinApprovals     int    // approvals needed on the MR (routing default 1)
	AuthorCanApprove bool   // whether the MR author's own approval counts (default false)
	NoMergeRequest   string // "wait" (default, also for "") or "reject": what a commit with no MR gets
	// Branch is the branch the execution deploys, when pipegate knows it (it
	// started the execution from a push to it); "" when unknown or a tag.
	Branch string
	// Branches are the service's branch globs (routing file), which the target
	// of a counted MR must match when Branch is "".
	Branches []string
	// Approvers, when not nil, are whose approvals count (the routing file's
	// production.approvers): listed users and members of listed groups.
	Approvers *routing.Approvers
	// Members are the usernames of each listed group's members that count
	// (docs/routing.md), read by the caller for the groups MembersNeeded names;
	// a group it lacks has no member that counts.
	Members map[string][]string
}

// MergeRequest is what GitLab says of one MR of the commit, with its approvals.
type MergeRequest struct {
	IID               int64
	Title, WebURL     string
	State             string   // opened, closed, locked, merged
	TargetBranch      string   // the branch it merges into
	Author            string   // username
	ApprovedBy        []string // usernames (approved_by), every tier
	ApprovalsRequired int64    // Premium+: approvals_required; 0 on Free
	ApprovalsLeft     int64    // Premium+: approvals_left; 0 on Free
}

// Verdict is what the gate does with the approval action. Its values are the
// words pipegate's answers and audit records carry.
type Verdict string

const (
	Wait    Verdict = "wait"
	Approve Verdict = "approve"
	Reject  Verdict = "reject"
	// NotWaiting is no decision of Decide: the evaluation found no execution
	// waiting at the approval action, or CodePipeline refused the answer because
	// the approval it read no longer waited for one.
	NotWaiting Verdict = "not waiting"
)

func (v Verdict) String() string { return string(v) }

// States are what a verdict makes of the production stage's commit status: a
// waiting gate shows the stage pending in GitLab (cpState "": CodePipeline's
// stage runs on, but pipegate words it); an answer CodePipeline took runs the
// stage on (approved) or fails it (rejected), which the stage's own events
// confirm later.
func (v Verdict) States() (cpState, glState string) {
	switch v {
	case Wait:
		return "", "pending"
	case Approve:
		return "STARTED", "running"
	case Reject:
		return "FAILED", "failed"
	}
	return "", ""
}

// CreationTrigger is the trigger type of the execution CodePipeline starts by
// itself when a pipeline is created.
const CreationTrigger = "CreatePipeline"

// creationSummary is the gate's answer to an execution the pipeline's creation
// started.
const creationSummary = "Rejected by pipegate: this run was started by the pipeline's creation, not by a push; push or release the commit to deploy it"

// ByTrigger is the gate's decision from what started the execution alone
// (CodePipeline's trigger type), when that decides: CodePipeline runs every new
// pipeline once by itself, at the source's head, even with change detection
// off; nobody asked for that deploy, and left waiting it would hold later
// commits back for days, so it is rejected without asking GitLab anything.
// ok is false when the merge requests must decide (Decide).
func ByTrigger(trigger string) (d Decision, ok bool) {
	if trigger != CreationTrigger {
		return Decision{}, false
	}
	return Decision{Verdict: Reject, Summary: creationSummary}, true
}

// Decision is the gate's answer for one commit.
type Decision struct {
	Verdict      Verdict
	MergeRequest *MergeRequest // the MR that opened the gate, else the one closest to opening it; nil if none
	Approvers    []string      // approvals that counted (author excluded unless AuthorCanApprove), sorted
	// NotApprovers are the MR's approvals that did not count because their
	// users are not among Policy.Approvers, sorted.
	NotApprovers []string
	// Summary is for PutApprovalResult when Verdict is Approve or Reject, at most
	// text.MaxApprovalSummary bytes (so at most that many characters however they
	// are counted).
	Summary string
	// Missing says, for Wait, what is missing, at most text.MaxDescription bytes so
	// that it fits a GitLab commit status description.
	Missing string
}

// Decide is the gate: it opens when one of the commit's MRs is merged into a branch the service
// deploys, GitLab reports no approvals left on it, and it has at least MinApprovals counted
// approvals. sha is only for messages. MRs into other branches do not count and are not cited
// (a reviewed change to feature/y says nothing about main). Several MRs: any one that qualifies
// opens it (prefer the one with most counted approvals, then lowest IID, deterministic). No MR
// into a deploy branch: Wait or Reject per policy, naming the MRs that target other branches.
// Unmerged MRs never open it.
func Decide(p Policy, sha string, mrs []MergeRequest) Decision {
	var cands []candidate
	var elsewhere []MergeRequest
	for _, mr := range mrs {
		if p.deploys(mr.TargetBranch) {
			cands = append(cands, assess(p, mr))
		} else {
			elsewhere = append(elsewhere, mr)
		}
	}
	if len(cands) == 0 {
		if len(elsewhere) > 0 {
			return noneIntoBranch(p, sha, elsewhere)
		}
		return noMergeRequest(p, sha)
	}
	best := slices.MinFunc(cands, closer)
	mr := best.mr
	d := Decision{MergeRequest: &mr, Approvers: best.counted, NotApprovers: best.notApprovers}
	if best.opens() {
		d.Verdict = Approve
		d.Summary = approvedSummary(mr, best.counted)
		return d
	}
	d.Verdict = Wait
	d.Missing = text.TruncateBytes(best.why(p), text.MaxDescription)
	return d
}

// MembersNeeded names the groups of p.Approvers whose members Decide must know
// for mrs: none unless some approval of an MR that could open the gate would
// count but for the approver list, and its user is not listed by name. So a
// gate whose MRs have no approvals yet reads no group.
func MembersNeeded(p Policy, mrs []MergeRequest) []string {
	if p.Approvers == nil || len(p.Approvers.Groups) == 0 {
		return nil
	}
	for _, mr := range mrs {
		if !p.deploys(mr.TargetBranch) {
			continue
		}
		for _, u := range mr.ApprovedBy {
			if u == "" || !p.AuthorCanApprove && strings.EqualFold(u, mr.Author) || containsFold(p.Approvers.Users, u) {
				continue
			}
			return slices.Clone(p.Approvers.Groups)
		}
	}
	return nil
}

// approver reports whether u's approval may count: any user's when the policy
// lists no approvers, else a listed user's or a listed group's member's.
// GitLab usernames are unique regardless of case.
func (p Policy) approver(u string) bool {
	if p.Approvers == nil {
		return true
	}
	if containsFold(p.Approvers.Users, u) {
		return true
	}
	for _, g := range p.Approvers.Groups {
		if containsFold(p.Members[g], u) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}

// deploys reports whether an MR into branch can open the gate: branch is the
// execution's own, or, when that is unknown, one the routing file's branches match
// by routing's own glob rule, so that what starts a service is what gates it.
func (p Policy) deploys(branch string) bool {
	if branch == "" {
		return false
	}
	if p.Branch != "" {
		return branch == p.Branch
	}
	return routing.MatchesAny(p.Branches, branch)
}

// into names the branches whose MRs count, for messages.
func (p Policy) into() string {
	switch {
	case p.Branch != "":
		return p.Branch
	case len(p.Branches) == 0:
		return "a branch the service deploys (it names no branches and this run's branch is unknown)"
	}
	return strings.Join(p.Branches, " or ")
}

// noneIntoBranch is the decision when the commit's only MRs go into branches the
// service does not deploy: as with no MR, saying where they go instead.
func noneIntoBranch(p Policy, sha string, others []MergeRequest) Decision {
	others = slices.SortedFunc(slices.Values(others), func(a, b MergeRequest) int { return cmp.Compare(a.IID, b.IID) })
	where := make([]string, len(others))
	for i, mr := range others {
		where[i] = fmt.Sprintf("!%d targets %s", mr.IID, mr.TargetBranch)
		if mr.TargetBranch == "" {
			where[i] = fmt.Sprintf("!%d names no target branch", mr.IID)
		}
	}
	none := fmt.Sprintf("no merge request of %s is merged into %s", shortSHA(sha), p.into())
	if p.NoMergeRequest != "reject" {
		return Decision{Verdict: Wait, Missing: text.TruncateBytes(none+"; "+strings.Join(where, ", "), text.MaxDescription)}
	}
	return Decision{
		Verdict: Reject,
		Summary: text.TruncateBytes(fmt.Sprintf("Rejected by pipegate: no merge request of %s is merged into %s (%s); production takes only reviewed changes",
			commit(sha), p.into(), strings.Join(where, ", ")), text.MaxApprovalSummary),
	}
}

// candidate is one MR weighed against the policy.
type candidate struct {
	mr            MergeRequest
	counted       []string // approvers that count, sorted
	need          int      // approvals pipegate still wants (MinApprovals - counted, at least 0)
	authorSkipped bool     // the author approved, and that approval did not count
	notApprovers  []string // approvals that did not count: not among the policy's approvers, sorted
	mergeRank     int      // 0 merged, 1 may still merge (opened, locked), 2 closed
	approvalsGap  int64    // the larger of need and GitLab's approvals_left
}

func assess(p Policy, mr MergeRequest) candidate {
	mr.ApprovedBy = slices.Clone(mr.ApprovedBy) // the Decision must not share the caller's slice
	c := candidate{mr: mr}
	for _, u := range mr.ApprovedBy {
		if u == "" || slices.Contains(c.counted, u) {
			continue
		}
		// GitLab usernames are unique regardless of case.
		if !p.AuthorCanApprove && strings.EqualFold(u, mr.Author) {
			c.authorSkipped = true
			continue
		}
		if !p.approver(u) {
			if !slices.Contains(c.notApprovers, u) {
				c.notApprovers = append(c.notApprovers, u)
			}
			continue
		}
		c.counted = append(c.counted, u)
	}
	slices.Sort(c.counted)
	slices.Sort(c.notApprovers)
	c.need = max(p.MinApprovals-len(c.counted), 0)
	c.approvalsGap = max(int64(c.need), mr.ApprovalsLeft)
	switch mr.State {
	case "merged":
		c.mergeRank = 0
	case "closed":
		c.mergeRank = 2
	default: // opened, or locked while GitLab merges it
		c.mergeRank = 1
	}
	return c
}

// opens reports whether the candidate opens the gate.
func (c candidate) opens() bool {
	return c.mergeRank == 0 && c.approvalsGap == 0
}

// closer orders candidates by how close each is to opening the gate: merged first,
// then fewest approvals missing, most counted approvals, lowest IID. Among those
// that open it, that is most counted approvals, then lowest IID.
func closer(a, b candidate) int {
	return cmp.Or(
		cmp.Compare(a.mergeRank, b.mergeRank),
		cmp.Compare(a.approvalsGap, b.approvalsGap),
		-cmp.Compare(len(a.counted), len(b.counted)),
		cmp.Compare(a.mr.IID, b.mr.IID),
	)
}

// why says what the candidate lacks under p, for the commit status.
func (c candidate) why(p Policy) string {
	ref := fmt.Sprintf("!%d", c.mr.IID)
	switch {
	case c.mergeRank == 2:
		return ref + " was closed without merging"
	case c.mergeRank == 1 && c.approvalsGap == 0:
		return ref + " is not merged yet"
	case c.mergeRank == 1 && c.mr.ApprovalsLeft > int64(c.need):
		return fmt.Sprintf("%s is not merged yet and needs %s", ref, approvals(c.approvalsGap))
	case c.mergeRank == 1:
		return fmt.Sprintf("%s is not merged yet and needs %s%s", ref, approvals(c.approvalsGap), c.fromWhom(p))
	case c.mr.ApprovalsLeft > int64(c.need):
		// GitLab's own rules (Premium+) ask for more than pipegate's count does.
		return fmt.Sprintf("GitLab requires %s on %s", approvals(c.mr.ApprovalsLeft), ref)
	case c.authorSkipped:
		return fmt.Sprintf("needs %s on %s%s (the author's own does not count)%s", approvals(int64(c.need)), ref, c.fromWhom(p), c.uncounted())
	default:
		return fmt.Sprintf("needs %s on %s%s%s", approvals(int64(c.need)), ref, c.fromWhom(p), c.uncounted())
	}
}

// maxNamed is how many approvers a status names before counting the rest: a
// status description holds 255 bytes.
const maxNamed = 4

// fromWhom says, when p lists approvers, whose approval would count: the listed
// users who have not approved yet (the author only when their own counts), then
// the groups. "" when p lists none.
func (c candidate) fromWhom(p Policy) string {
	if p.Approvers == nil {
		return ""
	}
	var users []string
	for _, u := range p.Approvers.Users {
		if containsFold(c.counted, u) || !p.AuthorCanApprove && strings.EqualFold(u, c.mr.Author) || containsFold(users, "@"+u) {
			continue
		}
		users = append(users, "@"+u)
	}
	if len(users) > maxNamed {
		users = append(users[:maxNamed], fmt.Sprintf("%d other listed users", len(users)-maxNamed))
	}
	who := users
	if g := p.Approvers.Groups; len(g) > 0 {
		who = append(who, "a member of "+strings.Join(g, " or "))
	}
	if len(who) == 0 {
		return ": every listed approver has approved or is the author"
	}
	if len(who) == 1 {
		return " from " + who[0]
	}
	return " from " + strings.Join(who[:len(who)-1], ", ") + " or " + who[len(who)-1]
}

// uncounted says which approvals did not count for want of being an approver.
func (c candidate) uncounted() string {
	switch n := len(c.notApprovers); {
	case n == 0:
		return ""
	case n == 1:
		return fmt.Sprintf("; @%s's approval does not count: not an approver", c.notApprovers[0])
	case n <= maxNamed:
		return fmt.Sprintf("; approvals of @%s do not count: not approvers", strings.Join(c.notApprovers, ", @"))
	default:
		return fmt.Sprintf("; approvals of @%s and %d more do not count: not approvers", strings.Join(c.notApprovers[:maxNamed], ", @"), n-maxNamed)
	}
}

func approvals(n int64) string {
	if n == 1 {
		return "1 more approval"
	}
	return fmt.Sprintf("%d more approvals", n)
}

func noMergeRequest(p Policy, sha string) Decision {
	if p.NoMergeRequest != "reject" {
		return Decision{Verdict: Wait, Missing: "no merge request for this commit"}
	}
	return Decision{
		Verdict: Reject,
		Summary: text.TruncateBytes(fmt.Sprintf("Rejected by pipegate: %s has no merge request; production takes only reviewed changes", commit(sha)), text.MaxApprovalSummary),
	}
}

func commit(sha string) string {
	if sha == "" {
		return "the commit"
	}
	return "commit " + shortSHA(sha)
}

// shortSHA is the first 8 characters of sha, as GitLab shows a commit; "this
// commit" when there is none.
func shortSHA(sha string) string {
	if sha == "" {
		return "this commit"
	}
	return sha[:min(8, len(sha))]
}

// approvedSummary names the MR and its approvers within the API's limit: the
// IID and URL always stay; a long title and a long list of approvers give way,
// the list ending in "and N more".
func approvedSummary(mr MergeRequest, approvers []string) string {
	const format = "Approved by pipegate: !%d \"%s\" (%s), %s"
	const minTitle = 60 // bytes of title kept before approvers are dropped
	for k := len(approvers); ; k-- {
		by := approvedBy(approvers, k)
		room := text.MaxApprovalSummary - len(fmt.Sprintf(format, mr.IID, "", mr.WebURL, by))
		if room >= min(len(mr.Title), minTitle) || k == 0 {
			title := text.TruncateBytes(mr.Title, max(room, 0))
			return text.TruncateBytes(fmt.Sprintf(format, mr.IID, title, mr.WebURL, by), text.MaxApprovalSummary)
		}
	}
}

// approvedBy lists the first k approvers and counts the rest.
func approvedBy(approvers []string, k int) string {
	switch n := len(approvers); {
	case n == 0:
		return "no approval required"
	case k == n:
		return "approved by " + strings.Join(approvers, ", ")
	case k == 0:
		return fmt.Sprintf("approved by %d users", n)
	default:
		return fmt.Sprintf("approved by %s and %d more", strings.Join(approvers[:k], ", "), n-k)
	}
}
