package emulator

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// StageSpec and ActionSpec describe a pipeline's shape for Run.
type StageSpec struct {
	Name    string
	Actions []ActionSpec // run in order
}

// ActionSpec is one action of a StageSpec.
type ActionSpec struct {
	Name, Category, Provider string // Category "Approval" waits for PutApprovalResult
	// Configuration and RunOrder are what GetPipeline declares of the action (Run
	// runs a stage's actions one after another, in their order here); RunOrder 0
	// declares the action's position in its stage, from 1.
	Configuration map[string]string
	RunOrder      int
}

// DefaultShape is the shape of our users' pipelines, with the names a routing
// file gives them: Source[<sourceAction> Source/CodeStarSourceConnection],
// Build[Build Build/CodeBuild], <stagingStage>[Deploy Deploy/ECS],
// <productionStage>[<approvalAction> Approval/Manual, Deploy Deploy/ECS]. A stage
// named like an earlier one is that stage: its actions are added to it.
func DefaultShape(sourceAction, stagingStage, productionStage, approvalAction string) []StageSpec {
	var stages []StageSpec
	add := func(name string, actions ...ActionSpec) {
		for i := range stages {
			if stages[i].Name == name {
				stages[i].Actions = append(stages[i].Actions, actions...)
				return
			}
		}
		stages = append(stages, StageSpec{Name: name, Actions: actions})
	}
	add("Source", ActionSpec{Name: sourceAction, Category: "Source", Provider: "CodeStarSourceConnection"})
	add("Build", ActionSpec{Name: "Build", Category: "Build", Provider: "CodeBuild"})
	add(stagingStage, ActionSpec{Name: "Deploy", Category: "Deploy", Provider: "ECS"})
	add(productionStage, ActionSpec{Name: approvalAction, Category: "Approval", Provider: "Manual"}, ActionSpec{Name: "Deploy", Category: "Deploy", Provider: "ECS"})
	return stages
}

// SetShape sets the stages Run takes pipeline's executions through; the pipeline
// becomes known. GetPipelineState then answers with these stages and actions, in
// this order, keeping what was set for those of the same name and dropping the rest.
func (c *CodePipeline) SetShape(pipeline string, stages []StageSpec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.addPipeline(pipeline)
	p.shape = cloneShape(stages)
	p.layout()
}

// RunOptions says how fast Run goes.
type RunOptions struct {
	Step time.Duration // real time between two state changes (0: none)
	// Advance, if > 0, makes the stand-in's clock virtual while Run runs: it starts at
	// the stand-in's time (Now, else time.Now) truncated to the second and moves this
	// much per state change, so event times and durations look real ("Build
	// succeeded in 3m 0s").
	Advance time.Duration
	// Ready, if set, is called once Run takes the executions started from then on,
	// so that a caller running Run in a goroutine knows when to start some.
	Ready func()
}

// Run takes every execution started from now on (StartPipelineExecution; not
// AddExecution) through its pipeline's shape, sending each state change to events
// as the EventBridge JSON AWS sends, and keeps GetPipelineState,
// GetPipelineExecution, ListPipelineExecutions and ListActionExecutions
// consistent with it.
//
// Each execution runs in its own goroutine. events is called from it synchronously,
// in order, never with the stand-in's lock held: the callee may call the stand-in's
// API. Calls for different executions may overlap. Each state is set before its
// event is sent, so a callee reading GetPipelineState sees it.
//
// Per stage: stage STARTED, per action STARTED then SUCCEEDED, stage SUCCEEDED;
// the pipeline STARTED before the first stage and SUCCEEDED after the last. An
// Approval action sets its stage InProgress with a fresh token and waits for
// PutApprovalResult: Approved → the action SUCCEEDED and the run goes on; Rejected →
// action, stage and pipeline FAILED. As in CodePipeline's SUPERSEDED mode, one
// execution at a time runs in a stage; the next waits in the inbound transition,
// and one arriving there later supersedes it (pipeline SUPERSEDED).
//
// A pipeline without a shape gets DefaultShape("Source", "Staging", "Production", "ApproveProduction").
// Run returns when ctx is done, after the runs it started have stopped (waiting
// approvals are abandoned: no more events). One Run at a time.
func (c *CodePipeline) Run(ctx context.Context, opt RunOptions, events func([]byte)) {
	r := &runner{ctx: ctx, opt: opt, events: events}
	c.mu.Lock()
	if c.runner != nil {
		c.mu.Unlock()
		panic("emulator: CodePipeline.Run called while another Run runs")
	}
	c.runner = r
	if opt.Advance > 0 {
		c.virtual = c.now().Truncate(time.Second)
		c.advance = opt.Advance
	}
	c.mu.Unlock()
	if opt.Ready != nil {
		opt.Ready()
	}

	<-ctx.Done()
	// No run starts once c.runner is nil, so Wait sees every Add.
	c.mu.Lock()
	c.runner = nil
	c.mu.Unlock()
	r.wg.Wait()
	c.mu.Lock()
	c.virtual, c.advance = time.Time{}, 0
	c.mu.Unlock()
}

// runner is a Run in progress.
type runner struct {
	ctx    context.Context
	opt    RunOptions
	events func([]byte)
	wg     sync.WaitGroup // one per execution run
}

// approvalWait is an approval action a run waits at, for PutApprovalResult.
type approvalWait struct {
	e      *Execution
	result chan Approval // buffered (1)
}

// stageSlot is who runs in a stage and who waits to enter it.
type stageSlot struct {
	holder string   // execution id; "" when the stage is free
	next   *execRun // waiting in the inbound transition
}

// execRun is one execution being run.
type execRun struct {
	c *CodePipeline
	r *runner
	p *cpPipeline
	// e is the recorded execution: read and written under c.mu, but for the
	// fields copied here, which never change.
	e            *Execution
	pipeline, id string
	start        time.Time
	shape        []StageSpec

	inbound chan bool // while waiting to enter a stage: true to enter, false when superseded
	token   string    // the approval waited for; guarded by c.mu
}

// startRun starts running e; c.mu must be held and c.runner set.
func (c *CodePipeline) startRun(p *cpPipeline, e *Execution) {
	if p.shape == nil {
		p.shape = DefaultShape("Source", "Staging", "Production", "ApproveProduction")
		p.layout()
	}
	x := &execRun{
		c: c, r: c.runner, p: p, e: e,
		pipeline: e.Pipeline, id: e.ID, start: e.StartedAt, shape: cloneShape(p.shape),
	}
	c.runner.wg.Add(1)
	go x.run()
}

func (x *execRun) run() {
	defer x.r.wg.Done()
	defer x.leave()
	// The first event reaches EventBridge's targets a moment after
	// StartPipelineExecution has answered; Step stands for that lag too, so the
	// caller's own follow-up (pipegate's pending status) comes first, as in AWS.
	if !x.pause() {
		return
	}
	x.send(StateChange{DetailType: PipelineStateChange, State: "STARTED"}, x.start)

	var wait chan bool
	if len(x.shape) > 0 {
		x.c.mu.Lock()
		wait = x.enter(x.shape[0].Name, x.start)
		x.c.mu.Unlock()
	}
	for i, stage := range x.shape {
		if !x.await(wait) {
			return
		}
		var next string
		if i+1 < len(x.shape) {
			next = x.shape[i+1].Name
		}
		ok, alive := x.runStage(stage, next, &wait)
		if !alive {
			return
		}
		if !ok {
			x.change(func(time.Time) StateChange {
				x.e.Status = "Failed"
				return StateChange{DetailType: PipelineStateChange, State: "FAILED"}
			})
			return
		}
	}
	x.change(func(time.Time) StateChange {
		x.e.Status = "Succeeded"
		return StateChange{DetailType: PipelineStateChange, State: "SUCCEEDED"}
	})
}

// runStage runs the stage x has entered. At its end x leaves it and, if it
// succeeded, enters next ("" after the last stage), setting *wait to what to await
// before it can. ok is whether the stage succeeded; alive is false when Run stops.
func (x *execRun) runStage(stage StageSpec, next string, wait *chan bool) (ok, alive bool) {
	alive = x.change(func(now time.Time) StateChange {
		s := x.p.stage(stage.Name)
		s.ExecutionID, s.Status, s.Updated = x.id, "InProgress", now
		if s.Inbound == x.id {
			s.Inbound = ""
		}
		return StateChange{DetailType: StageStateChange, Stage: stage.Name, State: "STARTED"}
	})
	if !alive {
		return false, false
	}
	ok = true
	for _, action := range stage.Actions {
		if action.Category == "Approval" {
			ok, alive = x.approval(stage.Name, action)
		} else {
			ok, alive = x.action(stage.Name, action)
		}
		if !alive {
			return false, false
		}
		if !ok {
			break
		}
	}
	alive = x.change(func(now time.Time) StateChange {
		s := x.p.stage(stage.Name)
		s.Status, s.Updated = "Succeeded", now
		state := "SUCCEEDED"
		if !ok {
			s.Status, state = "Failed", "FAILED"
		}
		// Leaving the stage and entering the transition to the next are one step, so
		// an execution behind cannot overtake x there.
		x.p.release(stage.Name)
		if ok && next != "" {
			*wait = x.enter(next, now)
		}
		return StateChange{DetailType: StageStateChange, Stage: stage.Name, State: state}
	})
	return ok, alive
}

// action runs an action that needs nothing from outside: STARTED, then SUCCEEDED.
func (x *execRun) action(stage string, action ActionSpec) (ok, alive bool) {
	var id string
	if !x.change(func(now time.Time) StateChange {
		id = x.startAction(stage, action, now).ExecutionID
		return actionChange(stage, action, "STARTED", id)
	}) {
		return false, false
	}
	return true, x.change(func(now time.Time) StateChange {
		a := x.p.stage(stage).action(action.Name)
		a.Status, a.Updated = "Succeeded", now
		if ae := x.c.actionExec(id); ae != nil {
			ae.Status, ae.LastUpdate = a.Status, now
		}
		return actionChange(stage, action, "SUCCEEDED", id)
	})
}

// approval runs an approval action: STARTED with a fresh token, then waits for
// PutApprovalResult, whose time is the action's end.
func (x *execRun) approval(stage string, action ActionSpec) (ok, alive bool) {
	var id string
	result := make(chan Approval, 1)
	if !x.change(func(now time.Time) StateChange {
		a := x.startAction(stage, action, now)
		a.Token = newUUID()
		id, x.token = a.ExecutionID, a.Token
		if x.c.waiting == nil {
			x.c.waiting = map[string]*approvalWait{}
		}
		x.c.waiting[a.Token] = &approvalWait{e: x.e, result: result}
		return actionChange(stage, action, "STARTED", id)
	}) {
		return false, false
	}
	var ap Approval
	select {
	case ap = <-result:
	case <-x.r.ctx.Done():
		return false, false
	}
	// PutApprovalResult has set the action's state; only the event is left.
	x.c.mu.Lock()
	x.token = ""
	x.c.mu.Unlock()
	ok = ap.Status == "Approved"
	ev := actionChange(stage, action, "SUCCEEDED", id)
	if !ok {
		ev.State = "FAILED"
	}
	ev.Summary = ap.Summary
	x.send(ev, ap.At)
	return ok, true
}

// startAction sets a fresh InProgress run of the action, records it for
// ListActionExecutions and returns it; c.mu must be held.
func (x *execRun) startAction(stage string, action ActionSpec, now time.Time) *ActionState {
	a := x.p.stage(stage).action(action.Name)
	x.c.actionRuns++
	*a = ActionState{Name: action.Name, Status: "InProgress", Updated: now, ExecutionID: awsUUID(0xa, x.c.actionRuns)}
	x.c.actionExecs = append(x.c.actionExecs, &ActionExecution{
		Pipeline: x.pipeline, PipelineExecutionID: x.id, Stage: stage, Action: action.Name,
		Category: action.Category, Provider: action.Provider, ID: a.ExecutionID,
		Status: "InProgress", StartTime: now, LastUpdate: now,
	})
	return a
}

func actionChange(stage string, action ActionSpec, state, actionExecutionID string) StateChange {
	return StateChange{
		DetailType: ActionStateChange, Stage: stage, Action: action.Name,
		Category: action.Category, Provider: action.Provider, State: state,
		ActionExecutionID: actionExecutionID,
	}
}

// pause waits RunOptions.Step; it reports false when Run stops.
func (x *execRun) pause() bool {
	if step := x.r.opt.Step; step > 0 {
		t := time.NewTimer(step)
		defer t.Stop()
		select {
		case <-t.C:
		case <-x.r.ctx.Done():
		}
	}
	return x.r.ctx.Err() == nil
}

// change is one state change of the run: after RunOptions.Step it moves the clock
// on, applies f under the lock (with the execution's LastUpdate set) and sends the
// event f returns. It reports false, changing nothing, when Run stops.
func (x *execRun) change(f func(now time.Time) StateChange) bool {
	if !x.pause() {
		return false
	}
	x.c.mu.Lock()
	now := x.c.tick()
	x.e.LastUpdate = now
	ev := f(now)
	x.c.mu.Unlock()
	x.send(ev, now)
	return true
}

// send gives events the event of ev at time at; c.mu must not be held.
func (x *execRun) send(ev StateChange, at time.Time) {
	ev.Pipeline, ev.ExecutionID, ev.StartTime, ev.Time = x.pipeline, x.id, x.start, at
	x.r.events(ev.JSON())
}

// enter takes x into stage, or into the stage's inbound transition when another
// execution runs in it, superseding the one that waited there. It returns what to
// await before x is in (nil: it is). c.mu must be held.
func (x *execRun) enter(stage string, now time.Time) chan bool {
	slot := x.p.slot(stage)
	if slot.holder == "" {
		slot.holder = x.id
		return nil
	}
	if old := slot.next; old != nil {
		old.e.Status, old.e.StatusSummary, old.e.LastUpdate = "Superseded", "", now
		old.inbound <- false
	}
	x.inbound = make(chan bool, 1)
	slot.next = x
	x.p.stage(stage).Inbound = x.id
	return x.inbound
}

// await waits until x may enter the stage it waits for, and reports whether it
// entered; a superseded run sends its last event.
func (x *execRun) await(wait chan bool) bool {
	if wait == nil {
		return true
	}
	select {
	case in := <-wait:
		if !in {
			x.c.mu.Lock()
			at := x.e.LastUpdate // set by the execution that superseded x
			x.c.mu.Unlock()
			x.send(StateChange{DetailType: PipelineStateChange, State: "SUPERSEDED"}, at)
		}
		return in
	case <-x.r.ctx.Done():
		return false
	}
}

// leave drops what x holds when its run ends, however it ends: the stages it runs
// in or waits for, the approval it waits for.
func (x *execRun) leave() {
	x.c.mu.Lock()
	defer x.c.mu.Unlock()
	for name, slot := range x.p.slots {
		if slot.next == x {
			slot.next = nil
		}
		if slot.holder == x.id {
			x.p.release(name)
		}
	}
	// x may have been let in and not have started the stage yet.
	for i := range x.p.stages {
		if x.p.stages[i].Inbound == x.id {
			x.p.stages[i].Inbound = ""
		}
	}
	if x.token != "" {
		delete(x.c.waiting, x.token)
	}
}

// release frees stage, letting in the execution waiting for it. c.mu must be held.
func (p *cpPipeline) release(stage string) {
	slot := p.slot(stage)
	slot.holder = ""
	if w := slot.next; w != nil {
		slot.next = nil
		slot.holder = w.id
		w.inbound <- true
	}
}

// slot returns stage's slot; c.mu must be held.
func (p *cpPipeline) slot(stage string) *stageSlot {
	if p.slots == nil {
		p.slots = map[string]*stageSlot{}
	}
	s := p.slots[stage]
	if s == nil {
		s = &stageSlot{}
		p.slots[stage] = s
	}
	return s
}

// stage returns the state of the named stage, adding it if SetStage or SetShape
// dropped it meanwhile; c.mu must be held.
func (p *cpPipeline) stage(name string) *StageState {
	i := slices.IndexFunc(p.stages, func(s StageState) bool { return s.Name == name })
	if i < 0 {
		p.stages = append(p.stages, StageState{Name: name})
		i = len(p.stages) - 1
	}
	return &p.stages[i]
}

// action returns the state of the named action, adding it if missing.
func (s *StageState) action(name string) *ActionState {
	i := slices.IndexFunc(s.Actions, func(a ActionState) bool { return a.Name == name })
	if i < 0 {
		s.Actions = append(s.Actions, ActionState{Name: name})
		i = len(s.Actions) - 1
	}
	return &s.Actions[i]
}

// layout makes the stage states follow p.shape, keeping the state of stages and
// actions that stay; c.mu must be held.
func (p *cpPipeline) layout() {
	old := p.stages
	p.stages = make([]StageState, 0, len(p.shape))
	for _, spec := range p.shape {
		s := StageState{Name: spec.Name}
		if i := slices.IndexFunc(old, func(o StageState) bool { return o.Name == spec.Name }); i >= 0 {
			s = old[i]
		}
		actions := make([]ActionState, 0, len(spec.Actions))
		for _, a := range spec.Actions {
			as := ActionState{Name: a.Name}
			if j := slices.IndexFunc(s.Actions, func(o ActionState) bool { return o.Name == a.Name }); j >= 0 {
				as = s.Actions[j]
			}
			actions = append(actions, as)
		}
		s.Actions = actions
		p.stages = append(p.stages, s)
	}
}

// tick moves a virtual clock on by one state change and returns the time; c.mu
// must be held.
func (c *CodePipeline) tick() time.Time {
	if !c.virtual.IsZero() {
		c.virtual = c.virtual.Add(c.advance)
	}
	return c.now()
}

func cloneShape(stages []StageSpec) []StageSpec {
	out := slices.Clone(stages)
	for i := range out {
		out[i].Actions = slices.Clone(out[i].Actions)
		for j := range out[i].Actions {
			out[i].Actions[j].Configuration = maps.Clone(out[i].Actions[j].Configuration)
		}
	}
	return out
}
