package deploy

// Checks of PipelineEventsFunction: its EventBridge rule and schedule, its
// asynchronous invocation settings and dead-letter queue, and the EventBridge
// sample events in events/ that `sam local invoke PipelineEventsFunction -e` takes.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/validate"
)

const (
	pipelineEventsFunction = "PipelineEventsFunction"
	pipelineEventsDLQ      = "PipelineEventsDeadLetterQueue"

	// reconcileSchedule is how often the reconciler runs (ISSUE3: every 5 minutes).
	reconcileSchedule = "rate(5 minutes)"

	// Lambda's bounds for asynchronous invocation (API FunctionEventInvokeConfig).
	maxAsyncRetries = 2
	minEventAge     = 60
	maxEventAge     = 21600

	// sqsMaxRetention is the longest SQS keeps a message: 14 days.
	sqsMaxRetention = 1209600

	// The one execution the sample events follow.
	samplePipeline  = "core-pipeline"
	sampleExecution = "00000001-0000-4000-800c-000000000001"
)

// The detail-types CodePipeline sends to EventBridge, by level.
const (
	pipelineDetailType = "CodePipeline Pipeline Execution State Change"
	stageDetailType    = "CodePipeline Stage Execution State Change"
	actionDetailType   = "CodePipeline Action Execution State Change"
)

// states are the states each level's events carry, from the CodePipeline User
// Guide, "Monitoring CodePipeline events".
var states = map[string][]string{
	pipelineDetailType: {"CANCELED", "FAILED", "RESUMED", "STARTED", "STOPPED", "STOPPING", "SUCCEEDED", "SUPERSEDED"},
	stageDetailType:    {"CANCELED", "FAILED", "RESUMED", "STARTED", "STOPPED", "STOPPING", "SUCCEEDED"},
	actionDetailType:   {"ABANDONED", "CANCELED", "FAILED", "STARTED", "SUCCEEDED"},
}

// eventsOfType returns the names of a function's events of one SAM type.
func (c *checker) eventsOfType(fn, typ string) []string {
	evs := c.events(fn)
	var names []string
	for _, name := range slices.Sorted(maps.Keys(evs)) {
		if cfn.Lookup(evs[name], "Type") == typ {
			names = append(names, name)
		}
	}
	return names
}

// stateRule is the name of PipelineEventsFunction's one EventBridgeRule event, or "".
func (c *checker) stateRule() string {
	if names := c.eventsOfType(pipelineEventsFunction, "EventBridgeRule"); len(names) == 1 {
		return names[0]
	}
	return ""
}

func (c *checker) checkPipelineEventsFunction() {
	fn := pipelineEventsFunction
	if _, err := c.cf.GetServerlessFunctionWithName(fn); err != nil {
		return // reported by checkFunctions
	}
	switch rules := c.eventsOfType(fn, "EventBridgeRule"); len(rules) {
	case 0:
		c.errorf("%s: no EventBridgeRule event: CodePipeline state changes never reach it", fn)
	case 1:
		props := cfn.Lookup(c.events(fn)[rules[0]], "Properties")
		c.checkDelivery(rules[0], props)
		if bus, _ := cfn.Lookup(props, "EventBusName").(string); bus != "" && bus != "default" {
			c.errorf("%s event %s: EventBusName %q: CodePipeline sends its events to the default bus", fn, rules[0], bus)
		}
		p, err := c.ev.Eval(cfn.Lookup(props, "Pattern"))
		if err != nil {
			c.errorf("%s event %s: Pattern: %v", fn, rules[0], err)
			break
		}
		c.pattern = p
		c.checkRulePattern(c.ev, c.values.PipelineNames, "")
	default:
		c.errorf("%s: EventBridgeRule events %v: want one, so that no state change is handled twice", fn, rules)
	}

	switch sched := c.eventsOfType(fn, "Schedule"); len(sched) {
	case 0:
		c.errorf("%s: no Schedule event: nothing reconciles statuses whose events were lost", fn)
	case 1:
		props := cfn.Lookup(c.events(fn)[sched[0]], "Properties")
		c.checkDelivery(sched[0], props)
		if got := cfn.Lookup(props, "Schedule"); got != reconcileSchedule {
			c.errorf("%s event %s: Schedule %v, want %s", fn, sched[0], got, reconcileSchedule)
		}
	default:
		c.errorf("%s: Schedule events %v: want one", fn, sched)
	}
	c.checkInvokeConfig()
}

// checkDelivery checks what an EventBridge rule event hands the function: the
// whole envelope, which is how the function tells a state change from a
// Scheduled Event, and only while the rule is enabled.
func (c *checker) checkDelivery(event string, props any) {
	for _, k := range []string{"Input", "InputPath", "InputTransformer"} {
		if cfn.Lookup(props, k) != nil {
			c.errorf("%s event %s: %s is set: the function needs the EventBridge envelope as it is", pipelineEventsFunction, event, k)
		}
	}
	if cfn.Lookup(props, "Enabled") == false || cfn.Lookup(props, "State") == "DISABLED" {
		c.errorf("%s event %s: the rule is disabled", pipelineEventsFunction, event)
	}
}

// checkRulePattern checks the StateChanges pattern as ev evaluates it: the three
// CodePipeline detail-types, of exactly the pipelines in names, and no filter on
// state or anything else (every state moves a commit status).
func (c *checker) checkRulePattern(ev *cfn.Evaluator, names []string, label string) {
	rule := c.stateRule()
	if rule == "" {
		return // reported by checkPipelineEventsFunction
	}
	p, err := ev.Eval(cfn.Lookup(c.events(pipelineEventsFunction)[rule], "Properties", "Pattern"))
	if err != nil {
		if label != "" {
			c.errorf("%s event %s%s: Pattern: %v", pipelineEventsFunction, rule, label, err)
		}
		return // with the defaults: reported by checkPipelineEventsFunction
	}
	where := fmt.Sprintf("%s event %s%s: Pattern", pipelineEventsFunction, rule, label)
	m, ok := p.(map[string]any)
	if !ok {
		c.errorf("%s %v is not a mapping", where, p)
		return
	}
	if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, []string{"detail", "detail-type", "source"}) {
		c.errorf("%s filters on %v, want exactly source, detail-type and detail", where, keys)
	}
	if !sameSet(m["source"], []string{"aws.codepipeline"}) {
		c.errorf("%s source %v, want [aws.codepipeline]", where, m["source"])
	}
	if want := []string{pipelineDetailType, stageDetailType, actionDetailType}; !sameSet(m["detail-type"], want) {
		c.errorf("%s detail-type %v, want %q", where, m["detail-type"], want)
	}
	detail, _ := m["detail"].(map[string]any)
	if keys := slices.Sorted(maps.Keys(detail)); !slices.Equal(keys, []string{"pipeline"}) {
		c.errorf("%s detail filters on %v, want pipeline only: a state filter would leave statuses behind", where, keys)
	}
	if !sameSet(detail["pipeline"], names) {
		c.errorf("%s detail.pipeline %v, want the PipelineNames %v", where, detail["pipeline"], names)
	}
}

// sameSet reports whether v is a list of exactly the strings in want, in any order.
func sameSet(v any, want []string) bool {
	got, err := strings1(v)
	if err != nil || len(got) != len(want) {
		return false
	}
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	return slices.Equal(got, want)
}

// checkInvokeConfig checks what Lambda does with an asynchronous invocation that
// fails: retry, then keep it in PipelineEventsDeadLetterQueue rather than drop it.
func (c *checker) checkInvokeConfig() {
	fn := pipelineEventsFunction
	cfg := cfn.Lookup(c.raw, "Resources", fn, "Properties", "EventInvokeConfig")
	if cfg == nil {
		c.errorf("%s: no EventInvokeConfig: events that still fail are dropped after Lambda's default retries", fn)
		return
	}
	if n, ok := toInt(cfn.Lookup(cfg, "MaximumRetryAttempts")); !ok || n != maxAsyncRetries {
		c.errorf("%s EventInvokeConfig: MaximumRetryAttempts %v, want %d (Lambda's most)", fn, cfn.Lookup(cfg, "MaximumRetryAttempts"), maxAsyncRetries)
	}
	if n, ok := toInt(cfn.Lookup(cfg, "MaximumEventAgeInSeconds")); !ok || n < minEventAge || n > maxEventAge {
		c.errorf("%s EventInvokeConfig: MaximumEventAgeInSeconds %v, want %d-%d (Lambda's range)", fn, cfn.Lookup(cfg, "MaximumEventAgeInSeconds"), minEventAge, maxEventAge)
	}
	onFailure := cfn.Lookup(cfg, "DestinationConfig", "OnFailure")
	if onFailure == nil {
		c.errorf("%s EventInvokeConfig: no DestinationConfig OnFailure: failed events are dropped", fn)
		return
	}
	if typ := cfn.Lookup(onFailure, "Type"); typ != "SQS" {
		// SAM grants the role sqs:SendMessage on the destination only for Type SQS.
		c.errorf("%s EventInvokeConfig OnFailure: Type %v, want SQS", fn, typ)
	}
	dest, err := c.ev.Eval(cfn.Lookup(onFailure, "Destination"))
	if want := "{GetAtt:" + pipelineEventsDLQ + ".Arn}"; err != nil || dest != want {
		c.errorf("%s EventInvokeConfig OnFailure: Destination %v %v, want !GetAtt %s.Arn", fn, dest, err, pipelineEventsDLQ)
	}
	q, err := c.cf.GetSQSQueueWithName(pipelineEventsDLQ)
	if err != nil {
		c.errorf("%s: no AWS::SQS::Queue of that name", pipelineEventsDLQ)
		return
	}
	if q.SqsManagedSseEnabled == nil || !*q.SqsManagedSseEnabled {
		c.errorf("%s: SqsManagedSseEnabled is not true", pipelineEventsDLQ)
	}
	if q.MessageRetentionPeriod == nil || *q.MessageRetentionPeriod != sqsMaxRetention {
		c.errorf("%s: MessageRetentionPeriod %v, want %d (14 days, the most SQS keeps)", pipelineEventsDLQ, str(q.MessageRetentionPeriod), sqsMaxRetention)
	}
	if q.FifoQueue != nil && *q.FifoQueue {
		c.errorf("%s: a FIFO queue, which Lambda cannot use as a destination", pipelineEventsDLQ)
	}
}

// checkLogGroups checks that every function's log group is in the template, so
// that its retention is set and it goes with the stack.
func (c *checker) checkLogGroups() {
	have := map[string]bool{}
	resources, _ := cfn.Lookup(c.raw, "Resources").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(resources)) {
		if cfn.Lookup(resources[name], "Type") != "AWS::Logs::LogGroup" {
			continue
		}
		group, err := c.ev.Eval(cfn.Lookup(resources[name], "Properties", "LogGroupName"))
		if err != nil {
			c.errorf("%s: LogGroupName: %v", name, err)
			continue
		}
		if cfn.Lookup(resources[name], "Properties", "RetentionInDays") == nil {
			c.errorf("%s: no RetentionInDays: its logs would be kept forever", name)
		}
		have[fmt.Sprint(group)] = true
	}
	for _, spec := range functions() {
		if !have["/aws/lambda/{Ref:"+spec.name+"}"] {
			c.errorf("%s: no AWS::Logs::LogGroup /aws/lambda/${%s}: Lambda would create one that keeps logs forever", spec.name, spec.name)
		}
	}
}

// isEventBridge tells an EventBridge envelope from an API Gateway request.
func isEventBridge(data []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	_, ok := m["detail-type"]
	return ok
}

// pipelineEvent says what one sample CodePipeline event must be.
type pipelineEvent struct {
	detailType string
	stage      string
	action     string
	category   string // action events: detail.type
	provider   string
	state      string
}

// The sample events of PipelineEventsFunction, in the order they happen:
// one execution of core-pipeline, and a reconcile tick.
var pipelineEventOrder = []string{
	"pipeline-started.json",
	"stage-build-succeeded.json",
	"action-approval-started.json",
	"pipeline-succeeded.json",
}

const scheduledEvent = "scheduled.json"

// pipelineEventSpecs returns what each sample event must be, and the pipelines
// the routing file names (the function ignores events of any other). The
// approval event is of the production approval the routing file gives the
// sample events' pipeline.
func (c *checker) pipelineEventSpecs() (map[string]pipelineEvent, []string) {
	prod := routing.Production{}
	if s, ok := c.routes.Service(samplePipeline); ok {
		prod = s.Production
	}
	return map[string]pipelineEvent{
		"pipeline-started.json":        {detailType: pipelineDetailType, state: "STARTED"},
		"stage-build-succeeded.json":   {detailType: stageDetailType, stage: "Build", state: "SUCCEEDED"},
		"action-approval-started.json": {detailType: actionDetailType, stage: prod.Stage, action: prod.ApprovalAction, category: "Approval", provider: "Manual", state: "STARTED"},
		"pipeline-succeeded.json":      {detailType: pipelineDetailType, state: "SUCCEEDED"},
	}, c.values.PipelineNames
}

// codePipelineDetail is the part of an event's detail pipegate reads, with the
// two version fields kept raw: AWS documents detail.version as a number (3.0)
// and type.version as a string ("1"), while aws-lambda-go types both int64.
type codePipelineDetail struct {
	Pipeline    string          `json:"pipeline"`
	ExecutionID string          `json:"execution-id"`
	StartTime   string          `json:"start-time"`
	Stage       string          `json:"stage"`
	Action      string          `json:"action"`
	State       string          `json:"state"`
	Version     json.RawMessage `json:"version"`
	Type        *struct {
		Owner    string          `json:"owner"`
		Category string          `json:"category"`
		Provider string          `json:"provider"`
		Version  json.RawMessage `json:"version"`
	} `json:"type"`
}

var (
	uuidPattern     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	ruleARNPattern  = regexp.MustCompile(`^arn:aws:events:` + cfn.Region + `:` + cfn.AccountID + `:rule/[A-Za-z0-9._-]{1,64}$`)
	jsonNumber      = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	jsonStringValue = regexp.MustCompile(`^"[^"]+"$`)
)

// checkPipelineEvents checks the EventBridge events in events/: envelopes as
// EventBridge delivers them in this account and region, the CodePipeline ones
// matched by the StateChanges rule, the scheduled one not.
func (c *checker) checkPipelineEvents() {
	specs, routed := c.pipelineEventSpecs()
	for _, name := range append(slices.Clone(pipelineEventOrder), scheduledEvent) {
		if c.in.events[name] == nil {
			c.errorf("events/%s is missing", name)
		}
	}
	ids := map[string]string{}
	times := map[string]time.Time{}
	starts := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.in.events)) {
		data := c.in.events[name]
		if !isEventBridge(data) {
			continue
		}
		var e events.CloudWatchEvent
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			c.errorf("events/%s: not an EventBridge envelope: %v", name, err)
			continue
		}
		if e.Version != "0" || e.AccountID != cfn.AccountID || e.Region != cfn.Region {
			c.errorf("events/%s: version %q account %q region %q, want 0, %s, %s", name, e.Version, e.AccountID, e.Region, cfn.AccountID, cfn.Region)
		}
		if !uuidPattern.MatchString(e.ID) {
			c.errorf("events/%s: id %q is not an EventBridge event id (a UUID)", name, e.ID)
		} else if other, dup := ids[e.ID]; dup {
			c.errorf("events/%s: id %s is also %s's", name, e.ID, other)
		}
		ids[e.ID] = name
		if e.Time.IsZero() || e.Time.Nanosecond() != 0 || e.Time.Location() != time.UTC {
			c.errorf("events/%s: time %v, want a UTC time in whole seconds, as EventBridge gives it", name, e.Time)
		}
		times[name] = e.Time
		matched := c.pattern != nil && matches(c.pattern, data)
		switch {
		case name == scheduledEvent:
			c.checkScheduled(name, e)
			if matched {
				c.errorf("events/%s: the StateChanges rule's pattern matches it", name)
			}
		case e.Source == "aws.codepipeline":
			if c.pattern != nil && !matched {
				c.errorf("events/%s: the StateChanges rule's pattern does not match it: EventBridge would not deliver it", name)
			}
			starts[name] = c.checkCodePipelineEvent(name, e, specs[name], routed)
		default:
			c.errorf("events/%s: source %q is neither aws.codepipeline nor, for %s, aws.events", name, e.Source, scheduledEvent)
		}
	}
	for i := 1; i < len(pipelineEventOrder); i++ {
		prev, next := pipelineEventOrder[i-1], pipelineEventOrder[i]
		if t0, t1 := times[prev], times[next]; !t0.IsZero() && !t1.IsZero() && !t0.Before(t1) {
			c.errorf("events/%s: time %v is not after %s's %v", next, t1, prev, t0)
		}
		if s0, s1 := starts[prev], starts[next]; s0 != "" && s1 != "" && s0 != s1 {
			c.errorf("events/%s: start-time %s differs from %s's %s: one execution has one start", next, s1, prev, s0)
		}
	}
}

func (c *checker) checkScheduled(name string, e events.CloudWatchEvent) {
	if e.Source != "aws.events" || e.DetailType != "Scheduled Event" {
		c.errorf("events/%s: source %q detail-type %q, want aws.events and Scheduled Event", name, e.Source, e.DetailType)
	}
	if strings.Join(strings.Fields(string(e.Detail)), "") != "{}" {
		c.errorf("events/%s: detail %s, want {} (a scheduled rule sends no detail)", name, e.Detail)
	}
	if len(e.Resources) != 1 || !ruleARNPattern.MatchString(e.Resources[0]) {
		c.errorf("events/%s: resources %v, want the one rule ARN arn:aws:events:%s:%s:rule/...", name, e.Resources, cfn.Region, cfn.AccountID)
	}
}

// checkCodePipelineEvent checks one CodePipeline state change and returns its
// execution's start-time.
func (c *checker) checkCodePipelineEvent(name string, e events.CloudWatchEvent, want pipelineEvent, routed []string) string {
	if want.detailType == "" {
		c.errorf("events/%s: a CodePipeline event this check does not know; add it to pipelineEventSpecs", name)
		return ""
	}
	var d codePipelineDetail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		c.errorf("events/%s: detail: %v", name, err)
		return ""
	}
	if e.DetailType != want.detailType || d.State != want.state {
		c.errorf("events/%s: %q state %q, want %q state %q", name, e.DetailType, d.State, want.detailType, want.state)
	}
	if !slices.Contains(states[e.DetailType], d.State) {
		c.errorf("events/%s: state %q is not one CodePipeline sends with %q", name, d.State, e.DetailType)
	}
	if d.Pipeline != samplePipeline || d.ExecutionID != sampleExecution {
		c.errorf("events/%s: pipeline %q execution-id %q, want %s %s", name, d.Pipeline, d.ExecutionID, samplePipeline, sampleExecution)
	}
	if want := []string{validate.PipelineARN(samplePipeline)}; !slices.Equal(e.Resources, want) {
		c.errorf("events/%s: resources %v, want %v", name, e.Resources, want)
	}
	if !slices.Contains(routed, d.Pipeline) {
		c.errorf("events/%s: the routing file routes no service to pipeline %q: the function would ignore the event", name, d.Pipeline)
	}
	if !jsonNumber.Match(d.Version) {
		c.errorf("events/%s: detail.version %s, want a number (the pipeline structure version), as CodePipeline sends it", name, d.Version)
	}
	start, err := time.Parse(time.RFC3339Nano, d.StartTime)
	// The envelope's time is in whole seconds, start-time in milliseconds.
	if err != nil || start.Truncate(time.Second).After(e.Time) {
		c.errorf("events/%s: start-time %q, want an RFC 3339 time no later than the event's %v", name, d.StartTime, e.Time)
	}
	if d.Stage != want.stage || d.Action != want.action {
		c.errorf("events/%s: stage %q action %q, want %q %q", name, d.Stage, d.Action, want.stage, want.action)
	}
	switch e.DetailType {
	case actionDetailType:
		t := d.Type
		if t == nil || t.Owner != "AWS" || t.Category != want.category || t.Provider != want.provider {
			c.errorf("events/%s: type %+v, want owner AWS category %s provider %s", name, t, want.category, want.provider)
		} else if !jsonStringValue.Match(t.Version) {
			c.errorf("events/%s: type.version %s, want a string (\"1\") as AWS's documented events give it", name, t.Version)
		}
	default:
		if d.Type != nil {
			c.errorf("events/%s: a type, which only action events have", name)
		}
	}
	return d.StartTime
}

// matches applies an EventBridge pattern made of exact values only (lists of
// strings, nested mappings), which is all checkRulePattern allows, to an event.
func matches(pattern any, data []byte) bool {
	var ev any
	if json.Unmarshal(data, &ev) != nil {
		return false
	}
	var match func(p, v any) bool
	match = func(p, v any) bool {
		switch p := p.(type) {
		case map[string]any:
			m, ok := v.(map[string]any)
			if !ok {
				return false
			}
			for k, sub := range p {
				if !match(sub, m[k]) {
					return false
				}
			}
			return true
		case []any:
			s, ok := v.(string)
			return ok && slices.ContainsFunc(p, func(x any) bool { return x == s })
		}
		return false
	}
	return match(pattern, ev)
}
