package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pipegate/pipegate/internal/emulator"
	"github.com/pipegate/pipegate/internal/gate"
)

// weekendFreeze is a Friday 09:00 to Monday 08:00 freeze in Berlin: t0 (Friday
// 27 November 2026, 10:00 UTC, 11:00 in Berlin) lies inside it.
var weekendFreeze = emulator.FreezePeriod{FreezeStart: "0 9 * * 5", FreezeEnd: "0 8 * * 1", CronTimezone: "Europe/Berlin"}

// Inside a deploy freeze the gate stays shut although the merge request is
// approved, and the stage's status says until when, in the period's zone; the
// reconciler's evaluation after the freeze opens it, once.
func TestDeployFreezeHoldsTheGateUntilItEnds(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	w.gl.SetFreezePeriods("team/core", weekendFreeze)
	w.waitAtGate(id, "tok-f")

	ans := w.event(approvalStarted(id))
	if !gated(ans, gate.Wait) || !strings.Contains(ans.Reason, "deploy freeze until Mon 30 Nov 08:00 CET") {
		t.Fatalf("answer %+v, want gate wait for the deploy freeze until Mon 30 Nov 08:00 CET", ans)
	}
	if got := w.approvals(); len(got) != 0 {
		t.Fatalf("approved %+v inside a deploy freeze", got)
	}
	s := w.latest("core-pipeline/Production")
	if s.State != "pending" || s.Description != "Production held: deploy freeze until Mon 30 Nov 08:00 CET" {
		t.Errorf("Production status %+v, want pending, held by the freeze", s)
	}

	// Still frozen a minute before the end: the reconciler approves nothing.
	w.clock.Set(time.Date(2026, 11, 30, 6, 59, 0, 0, time.UTC))
	if _, err := w.app.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.approvals(); len(got) != 0 {
		t.Fatalf("approved %+v a minute before the freeze ends", got)
	}

	w.clock.Set(time.Date(2026, 11, 30, 7, 1, 0, 0, time.UTC)) // Monday 08:01 in Berlin
	for range 2 {
		if _, err := w.app.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.approvals(); len(got) != 1 || got[0].Token != "tok-f" || got[0].Status != "Approved" {
		t.Fatalf("approvals %+v, want one Approved with tok-f after the freeze", got)
	}
}

// Freeze periods pipegate cannot read or cannot understand keep the gate shut:
// a freeze it does not see must not let production out.
func TestDeployFreezeUnreadableFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(w *world)
	}{
		{"GitLab fails", func(w *world) { w.gl.FailNext("freeze_periods", 10, emulator.ServerError) }},
		{"unknown zone", func(w *world) {
			w.gl.SetFreezePeriods("team/core", emulator.FreezePeriod{FreezeStart: "0 9 * * 5", FreezeEnd: "0 8 * * 1", CronTimezone: "Mars/Olympus"})
		}},
		{"bad cron", func(w *world) {
			w.gl.SetFreezePeriods("team/core", emulator.FreezePeriod{FreezeStart: "0 25 * * *", FreezeEnd: "0 8 * * 1", CronTimezone: "UTC"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, withClock)
			id := w.pushed()
			w.gl.AddMergeRequest("team/core", mergedMR("bob"))
			w.waitAtGate(id, "tok-u")
			tc.setup(w)
			if _, err := w.app.PipelineEvent(context.Background(), approvalStarted(id)); err == nil {
				t.Error("the approval event succeeded although the freeze periods could not be judged; want an error so it is evaluated again")
			}
			if got := w.approvals(); len(got) != 0 {
				t.Fatalf("approved %+v without knowing the freeze periods", got)
			}
			// Once GitLab answers with periods pipegate can read, the reconciler opens it.
			w.gl.Recover("freeze_periods")
			w.gl.SetFreezePeriods("team/core")
			if _, err := w.app.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := w.approvals(); len(got) != 1 {
				t.Fatalf("approvals %+v, want one once the periods are readable", got)
			}
		})
	}
}

// GitLab keeps a pending status's words: when the gate waits for another reason
// than before (an approval arrived, then a freeze began), pipegate cancels the
// pending status and posts a new one, so the stage says what holds it now; when
// the reason is the same, it posts nothing new (every reconcile re-evaluates a
// waiting gate: no churn in GitLab).
func TestGateStatusSaysTheCurrentReason(t *testing.T) {
	w := newWorld(t, withClock)
	id := w.pushed()
	w.gl.AddMergeRequest("team/core", mergedMR())
	w.waitAtGate(id, "tok-r")
	if ans := w.event(approvalStarted(id)); !gated(ans, gate.Wait) {
		t.Fatalf("answer %+v, want gate wait", ans)
	}
	const name = "core-pipeline/Production"
	if s := w.latest(name); s.State != "pending" || !strings.Contains(s.Description, "waits for approval: needs 1 more approval") {
		t.Fatalf("Production status %+v, want pending for an approval", s)
	}
	count := func() int {
		n := 0
		for _, s := range w.gl.Statuses() {
			if s.Name == name {
				n++
			}
		}
		return n
	}
	reconcile := func() {
		t.Helper()
		if _, err := w.app.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	before := count()
	reconcile()
	reconcile()
	if n := count(); n != before {
		t.Errorf("%d statuses %s after two reconciles with the same reason, want %d", n, name, before)
	}

	// bob approves during the weekend freeze: the gate is held, and says so.
	w.gl.AddMergeRequest("team/core", mergedMR("bob"))
	w.gl.SetFreezePeriods("team/core", weekendFreeze)
	reconcile()
	if got := w.approvals(); len(got) != 0 {
		t.Fatalf("approved %+v inside a deploy freeze", got)
	}
	if s := w.latest(name); s.State != "pending" || s.Description != "Production held: deploy freeze until Mon 30 Nov 08:00 CET" {
		t.Errorf("Production status %+v, want pending, held by the freeze", s)
	}
	before = count()
	reconcile()
	if n := count(); n != before {
		t.Errorf("%d statuses %s after a reconcile with the same reason, want %d", n, name, before)
	}
}
