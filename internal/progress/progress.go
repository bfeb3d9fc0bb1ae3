// Package progress turns CodePipeline state changes into GitLab commit statuses and decides
// which of several observations of one status wins. It does no I/O: the handler reads the
// last accepted Status from the store, asks Next, and writes back what Next returns.
//
// Events arrive late, twice and out of order, and the reconciler feeds in the same states
// again from the API, so Next is written to end in the same Status whatever the order of
// delivery of one execution's events.
package progress

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Level is the part of a pipeline an event is about.
type Level int

const (
	PipelineLevel Level = iota + 1
	StageLevel
	ActionLevel
)

func (l Level) String() string {
	switch l {
	case PipelineLevel:
		return "pipeline"
	case StageLevel:
		return "stage"
	case ActionLevel:
		return "action"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Event is one CodePipeline state change.
type Event struct {
	Level       Level
	ID          string // envelope id
	Pipeline    string
	ExecutionID string
	Stage       string    // stage and action events ("" if the event names none)
	Action      string    // action events
	Category    string    // action events: detail.type.category (Source, Build, Deploy, Approval, ...)
	Provider    string    // action events: detail.type.provider
	State       string    // detail.state, event vocabulary, upper case
	Time        time.Time // envelope time
	Summary     string    // action events: detail.execution-result.external-execution-summary
	// Started is when the execution began (detail.start-time), which recent events
	// carry; zero when absent or unreadable.
	Started time.Time
}

// detail holds only the fields pipegate reads, so that a change in the type of another
// field (detail.version is a number today) cannot break decoding.
type detail struct {
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"execution-id"`
	Stage       string `json:"stage"`
	Action      string `json:"action"`
	State       string `json:"state"`
	StartTime   string `json:"start-time"` // read leniently: it only refines ordering
	Type        struct {
		Category string `json:"category"`
		Provider string `json:"provider"`
	} `json:"type"`
	Result struct {
		Summary string `json:"external-execution-summary"`
	} `json:"execution-result"`
}

// IsSchedule reports whether e is the EventBridge schedule's event, on which the
// pipeline-events function runs the reconciler.
func IsSchedule(e events.CloudWatchEvent) bool {
	return e.Source == "aws.events" && e.DetailType == "Scheduled Event"
}

// FromEventBridge reads an EventBridge envelope. ok is false (and err nil) when it is not a
// CodePipeline state change at all: another source or detail-type, a scheduled event, a
// CodePipeline job event (which decodes to an empty envelope). err is for a CodePipeline
// state change that lacks pipeline, execution-id or state, or whose detail is not a JSON
// object. A stage event without "stage" is not an error: Stage is "".
func FromEventBridge(e events.CloudWatchEvent) (ev Event, ok bool, err error) {
	if e.Source != events.CodePipelineEventSource {
		return Event{}, false, nil
	}
	var level Level
	switch e.DetailType {
	case events.CodePipelineExecutionEventDetailType:
		level = PipelineLevel
	case events.CodePipelineStageEventDetailType:
		level = StageLevel
	case events.CodePipelineActionEventDetailType:
		level = ActionLevel
	default:
		return Event{}, false, nil
	}
	var d detail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return Event{}, false, fmt.Errorf("read %s %s: %w", e.DetailType, e.ID, err)
	}
	var missing []string
	if d.Pipeline == "" {
		missing = append(missing, "pipeline")
	}
	if d.ExecutionID == "" {
		missing = append(missing, "execution-id")
	}
	if d.State == "" {
		missing = append(missing, "state")
	}
	if len(missing) > 0 {
		return Event{}, false, fmt.Errorf("read %s %s: detail lacks %s", e.DetailType, e.ID, strings.Join(missing, ", "))
	}
	return Event{
		Level:       level,
		ID:          e.ID,
		Pipeline:    d.Pipeline,
		ExecutionID: d.ExecutionID,
		Stage:       d.Stage,
		Action:      d.Action,
		Category:    d.Type.Category,
		Provider:    d.Type.Provider,
		State:       strings.ToUpper(d.State),
		Time:        e.Time,
		Summary:     d.Result.Summary,
		Started:     startTime(d.StartTime),
	}, true, nil
}

func startTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Normalize turns either vocabulary into the event one: API statuses from
// ListPipelineExecutions / GetPipelineState (InProgress, Succeeded, Failed, Stopped,
// Stopping, Superseded, Cancelled, Skipped, Abandoned) become STARTED, SUCCEEDED, FAILED,
// STOPPED, STOPPING, SUPERSEDED, CANCELED, SKIPPED, ABANDONED; event states are returned
// upper-cased as they are. Only two API names differ from their event names by more than case.
func Normalize(state string) string {
	s := strings.ToUpper(state)
	switch s {
	case "INPROGRESS":
		return "STARTED"
	case "CANCELLED":
		return "CANCELED"
	}
	return s
}

// GitLabState maps a CodePipeline state (either vocabulary) to a GitLab commit status state,
// per the table of docs/statuses.md, plus SKIPPED (a V2 stage skipped by a condition) -> skipped.
// ok is false for anything else.
func GitLabState(state string) (glState string, ok bool) {
	switch Normalize(state) {
	case "STARTED", "RESUMED", "STOPPING":
		return "running", true
	case "SUCCEEDED":
		return "success", true
	case "FAILED":
		return "failed", true
	case "CANCELED", "STOPPED", "SUPERSEDED", "ABANDONED":
		return "canceled", true
	case "SKIPPED":
		return "skipped", true
	}
	return "", false
}

// Final reports whether a GitLab state is final (success, failed, canceled, skipped).
func Final(glState string) bool {
	switch glState {
	case "success", "failed", "canceled", "skipped":
		return true
	}
	return false
}

// StatusName is "<pipeline>" for stage "" and "<pipeline>/<stage>" otherwise.
func StatusName(pipeline, stage string) string {
	if stage == "" {
		return pipeline
	}
	return pipeline + "/" + stage
}

// Status is what pipegate last accepted for one commit status.
type Status struct {
	ExecutionID    string
	ExecutionStart time.Time // when that execution began, as far as known
	State          string    // CodePipeline state, event vocabulary
	At             time.Time // time of the event that set it
	Began          time.Time // when this execution's running state for this status was first seen (for durations); zero if unknown
}

// Update is one observation of an execution's state for one commit status.
type Update struct {
	ExecutionID    string
	ExecutionStart time.Time
	State          string // either vocabulary
	At             time.Time
	// Began, when not zero, is when CodePipeline says what this status shows
	// began: the execution's start for the pipeline's own status, the earliest
	// start of its actions for a stage's. It gives a final state whose running
	// state was never seen its duration. A Began after At is ignored.
	Began time.Time
}

// Next applies u to cur (zero Status: nothing known yet) and says whether the status changed
// (and so must be posted). why is a short reason for the log: "first", "newer", "duplicate",
// "older event", "final state kept", "older execution", "newer execution", or, for an update
// that cannot be used at all, "unknown state" and "no execution".
//
// Within one execution an older event (u.At before cur.At) never overwrites, and a final
// state never goes back to running. CodePipeline times have second precision, so at equal
// At the states are ordered by how late in a status's life they come (a final state after a
// running one); identical states are duplicates; a later final state of a different value
// replaces an earlier one (a retried stage that failed and then succeeded).
//
// Between executions the one that started later takes over (a zero ExecutionStart is
// unknown, so never later than a known one); at equal starts the greater ExecutionID wins,
// so that every order of delivery ends the same.
//
// Began is the earliest start known for the execution's run of this status: u.Began, the
// At of an accepted running state, or the Began already kept for the same execution; zero
// when the first accepted state of an execution is final and u.Began is unknown. Taking the
// earliest makes it the same whatever the order, when every update carries the same Began.
func Next(cur Status, u Update) (next Status, changed bool, why string) {
	state := Normalize(u.State)
	gl, ok := GitLabState(state)
	if !ok {
		return cur, false, "unknown state"
	}
	if u.ExecutionID == "" {
		return cur, false, "no execution"
	}
	next = Status{ExecutionID: u.ExecutionID, ExecutionStart: u.ExecutionStart, State: state, At: u.At}
	if !Final(gl) {
		next.Began = u.At
	}
	if !u.Began.After(u.At) {
		next.Began = earliest(next.Began, u.Began)
	}

	if cur.ExecutionID == "" {
		return next, true, "first"
	}
	if u.ExecutionID != cur.ExecutionID {
		if startedLater(u, cur) {
			return next, true, "newer execution"
		}
		return cur, false, "older execution"
	}

	curGL, _ := GitLabState(cur.State)
	switch {
	case u.At.Before(cur.At):
		return cur, false, "older event"
	case state == Normalize(cur.State):
		return cur, false, "duplicate"
	case Final(curGL) && !Final(gl):
		return cur, false, "final state kept"
	case u.At.Equal(cur.At) && rank(state) < rank(Normalize(cur.State)):
		if Final(curGL) {
			return cur, false, "final state kept"
		}
		return cur, false, "older event"
	}
	// Same execution: the start and Began are facts of the execution, not of this event.
	next.Began = earliest(cur.Began, next.Began)
	next.ExecutionStart = earliest(cur.ExecutionStart, next.ExecutionStart)
	return next, true, "newer"
}

// earliest is the earlier of two times, a zero time being unknown.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// startedLater reports whether u's execution takes over from cur's. Comparing (start, id)
// is a total order, which is what makes the outcome independent of delivery order.
func startedLater(u Update, cur Status) bool {
	if !u.ExecutionStart.Equal(cur.ExecutionStart) {
		return u.ExecutionStart.After(cur.ExecutionStart)
	}
	return u.ExecutionID > cur.ExecutionID
}

// rank orders the states of one status within one second: running states first, in the
// order CodePipeline goes through them, then final ones. Among final states SUCCEEDED comes
// last because nothing follows it in an execution, while a failed or stopped stage can be
// retried. Any fixed order would make delivery order irrelevant; this one is the likeliest.
func rank(state string) int {
	switch state {
	case "STARTED":
		return 1
	case "RESUMED":
		return 2
	case "STOPPING":
		return 3
	case "STOPPED":
		return 4
	case "ABANDONED":
		return 5
	case "CANCELED":
		return 6
	case "SUPERSEDED":
		return 7
	case "FAILED":
		return 8
	case "SKIPPED":
		return 9
	case "SUCCEEDED":
		return 10
	}
	return 0
}
