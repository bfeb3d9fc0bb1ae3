package gitlabhook

// OpensGate reports whether the merge request hook's action can open a
// production gate: one user approved, all required approvals are given, or it
// was merged. Any other action (open, update, close, unapproval, ...) cannot
// make a waiting gate's answer yes, so it is no reason to evaluate one.
func (m *MergeRequest) OpensGate() bool {
	switch m.Action {
	case "approval", "approved", "merge":
		return true
	}
	return false
}

// NoGateAction is why a merge request hook whose action cannot open a gate is
// ignored.
const NoGateAction = "only approval, approved and merge can open a production gate"
