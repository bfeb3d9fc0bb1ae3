package progress_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/pipegate/pipegate/internal/progress"
)

func TestStates(t *testing.T) {
	tests := []struct {
		in, norm, gl string
		ok, final    bool
	}{
		// Event vocabulary (aws-lambda-go's constants and the CodePipeline user guide).
		{"STARTED", "STARTED", "running", true, false},
		{"RESUMED", "RESUMED", "running", true, false},
		{"STOPPING", "STOPPING", "running", true, false},
		{"SUCCEEDED", "SUCCEEDED", "success", true, true},
		{"FAILED", "FAILED", "failed", true, true},
		{"CANCELED", "CANCELED", "canceled", true, true},
		{"STOPPED", "STOPPED", "canceled", true, true},
		{"SUPERSEDED", "SUPERSEDED", "canceled", true, true},
		{"ABANDONED", "ABANDONED", "canceled", true, true},
		{"SKIPPED", "SKIPPED", "skipped", true, true},
		{"succeeded", "SUCCEEDED", "success", true, true},
		// API vocabulary (aws-sdk-go-v2 codepipeline types: Pipeline/Stage/ActionExecutionStatus).
		{"InProgress", "STARTED", "running", true, false},
		{"Stopping", "STOPPING", "running", true, false},
		{"Succeeded", "SUCCEEDED", "success", true, true},
		{"Failed", "FAILED", "failed", true, true},
		{"Cancelled", "CANCELED", "canceled", true, true},
		{"Stopped", "STOPPED", "canceled", true, true},
		{"Superseded", "SUPERSEDED", "canceled", true, true},
		{"Abandoned", "ABANDONED", "canceled", true, true},
		{"Skipped", "SKIPPED", "skipped", true, true},
		// Neither.
		{"", "", "", false, false},
		{"PENDING", "PENDING", "", false, false},
		{"In Progress", "IN PROGRESS", "", false, false},
	}
	for _, tt := range tests {
		if got := progress.Normalize(tt.in); got != tt.norm {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.norm)
		}
		gl, ok := progress.GitLabState(tt.in)
		if gl != tt.gl || ok != tt.ok {
			t.Errorf("GitLabState(%q) = %q, %v; want %q, %v", tt.in, gl, ok, tt.gl, tt.ok)
		}
		if got := progress.Final(gl); got != tt.final {
			t.Errorf("Final(%q) = %v, want %v", gl, got, tt.final)
		}
	}
	for _, gl := range []string{"pending", "running", "", "Success"} {
		if progress.Final(gl) {
			t.Errorf("Final(%q) = true", gl)
		}
	}
}

// TestSDKStatuses catches a status the SDK knows and pipegate does not.
func TestSDKStatuses(t *testing.T) {
	var all []string
	for _, s := range types.PipelineExecutionStatus("").Values() {
		all = append(all, string(s))
	}
	for _, s := range types.StageExecutionStatus("").Values() {
		all = append(all, string(s))
	}
	for _, s := range types.ActionExecutionStatus("").Values() {
		all = append(all, string(s))
	}
	if len(all) != 18 {
		t.Errorf("the SDK lists %d statuses, want 7+7+4: %v", len(all), all)
	}
	for _, s := range all {
		if _, ok := progress.GitLabState(s); !ok {
			t.Errorf("GitLabState(%q): not mapped", s)
		}
		if n := progress.Normalize(s); n != strings.ToUpper(s) && s != "InProgress" && s != "Cancelled" {
			t.Errorf("Normalize(%q) = %q", s, n)
		}
	}
}

func TestStatusName(t *testing.T) {
	if got := progress.StatusName("core-pipeline", ""); got != "core-pipeline" {
		t.Errorf("pipeline: %q", got)
	}
	if got := progress.StatusName("core-pipeline", "Build"); got != "core-pipeline/Build" {
		t.Errorf("stage: %q", got)
	}
}

func readEnvelope(t *testing.T, name string) events.CloudWatchEvent {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var e events.CloudWatchEvent
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return e
}

func TestFromEventBridgeTestdata(t *testing.T) {
	at := time.Date(2017, 4, 22, 3, 31, 47, 0, time.UTC)
	const exec = "01234567-0123-0123-0123-012345678901"
	tests := []struct {
		file string
		want progress.Event
		ok   bool
	}{
		{"codepipeline-execution-state-change-event.json", progress.Event{
			Level: progress.PipelineLevel, ID: "CWE-event-id", Pipeline: "myPipeline",
			ExecutionID: exec, State: "STARTED", Time: at,
		}, true},
		// This one names no stage; it is still a stage event.
		{"codepipeline-execution-stage-change-event.json", progress.Event{
			Level: progress.StageLevel, ID: "CWE-event-id", Pipeline: "myPipeline",
			ExecutionID: exec, State: "STARTED", Time: at,
		}, true},
		{"codepipeline-action-execution-stage-change-event.json", progress.Event{
			Level: progress.ActionLevel, ID: "CWE-event-id", Pipeline: "myPipeline",
			ExecutionID: exec, Stage: "Prod", Action: "myAction", Category: "Deploy",
			Provider: "CodeDeploy", State: "STARTED", Time: at,
		}, true},
		{"codepipeline-job-event.json", progress.Event{}, false},
	}
	files, _ := filepath.Glob("testdata/codepipeline-*.json")
	if len(files) != len(tests) {
		t.Errorf("testdata has %d files, the table %d", len(files), len(tests))
	}
	for _, tt := range tests {
		ev, ok, err := progress.FromEventBridge(readEnvelope(t, tt.file))
		if err != nil || ok != tt.ok || !ev.Time.Equal(tt.want.Time) {
			t.Errorf("%s: ok %v, err %v, time %v", tt.file, ok, err, ev.Time)
		}
		ev.Time = tt.want.Time
		if ev != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.file, ev, tt.want)
		}
	}
}

func TestFromEventBridge(t *testing.T) {
	envelope := func(source, detailType, detail string) events.CloudWatchEvent {
		return events.CloudWatchEvent{
			ID: "e1", Source: source, DetailType: detailType, Time: time.Unix(1700000000, 0),
			Detail: json.RawMessage(detail),
		}
	}
	const stage = "CodePipeline Stage Execution State Change"
	tests := []struct {
		name string
		e    events.CloudWatchEvent
		ok   bool
		err  string // part of the error; "" for none
	}{
		{"scheduled", envelope("aws.events", "Scheduled Event", `{}`), false, ""},
		{"other source", envelope("aws.codebuild", stage, `{}`), false, ""},
		{"other detail-type", envelope("aws.codepipeline", "CodePipeline Pipeline Definition Change", `{}`), false, ""},
		{"detail a string", envelope("aws.codepipeline", stage, `"STARTED"`), false, "cannot unmarshal"},
		{"detail an array", envelope("aws.codepipeline", stage, `[]`), false, "cannot unmarshal"},
		{"detail absent", envelope("aws.codepipeline", stage, ``), false, "unexpected end"},
		{"detail not JSON", envelope("aws.codepipeline", stage, `{pipeline`), false, "invalid character"},
		{"detail null", envelope("aws.codepipeline", stage, `null`), false, "lacks pipeline, execution-id, state"},
		{"no execution-id", envelope("aws.codepipeline", stage, `{"pipeline":"p","stage":"Build","state":"STARTED"}`), false, "lacks execution-id"},
		{"no pipeline", envelope("aws.codepipeline", stage, `{"execution-id":"x","state":"STARTED"}`), false, "lacks pipeline"},
		{"no state", envelope("aws.codepipeline", stage, `{"pipeline":"p","execution-id":"x"}`), false, "lacks state"},
		{"whole", envelope("aws.codepipeline", stage, `{"pipeline":"p","execution-id":"x","stage":"Build","state":"failed","version":1.0}`), true, ""},
	}
	for _, tt := range tests {
		_, ok, err := progress.FromEventBridge(tt.e)
		if ok != tt.ok {
			t.Errorf("%s: ok = %v", tt.name, ok)
		}
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.err)
		}
	}

	// An action result, as AWS sends it for a failed CodeBuild action.
	ev, ok, err := progress.FromEventBridge(envelope("aws.codepipeline", "CodePipeline Action Execution State Change", `{
		"pipeline": "core-pipeline", "execution-id": "e-1", "stage": "Build", "action": "Compile",
		"state": "FAILED", "version": 3,
		"type": {"owner": "AWS", "provider": "CodeBuild", "category": "Build", "version": "1"},
		"execution-result": {"external-execution-url": "https://example.com", "external-execution-summary": "Build terminated with state: FAILED", "external-execution-id": "b-1", "error-code": "JobFailed"}
	}`))
	want := progress.Event{Level: progress.ActionLevel, ID: "e1", Pipeline: "core-pipeline",
		ExecutionID: "e-1", Stage: "Build", Action: "Compile", Category: "Build", Provider: "CodeBuild",
		State: "FAILED", Time: ev.Time, Summary: "Build terminated with state: FAILED"}
	if !ok || err != nil || ev != want {
		t.Errorf("action: %v %v\n got %+v\nwant %+v", ok, err, ev, want)
	}
}

func TestLevelString(t *testing.T) {
	for l, want := range map[progress.Level]string{progress.PipelineLevel: "pipeline", progress.StageLevel: "stage", progress.ActionLevel: "action", 0: "Level(0)"} {
		if got := l.String(); got != want {
			t.Errorf("%d: %q, want %q", int(l), got, want)
		}
	}
}

func TestNext(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	var zero time.Time
	// st builds a Status of execution "b" started at 0 (the usual cur).
	st := func(state string, at, began time.Time) progress.Status {
		return progress.Status{ExecutionID: "b", ExecutionStart: sec(0), State: state, At: at, Began: began}
	}
	up := func(id string, start time.Time, state string, at time.Time) progress.Update {
		return progress.Update{ExecutionID: id, ExecutionStart: start, State: state, At: at}
	}
	upBegan := func(id string, start time.Time, state string, at, began time.Time) progress.Update {
		u := up(id, start, state, at)
		u.Began = began
		return u
	}
	tests := []struct {
		name    string
		cur     progress.Status
		u       progress.Update
		want    progress.Status
		changed bool
		why     string
	}{
		{"first running", progress.Status{}, up("b", sec(0), "STARTED", sec(1)),
			st("STARTED", sec(1), sec(1)), true, "first"},
		{"first final has no start", progress.Status{}, up("b", sec(0), "SUCCEEDED", sec(5)),
			st("SUCCEEDED", sec(5), zero), true, "first"},
		{"first in API words", progress.Status{}, up("b", sec(0), "InProgress", sec(1)),
			st("STARTED", sec(1), sec(1)), true, "first"},
		{"unknown state", st("STARTED", sec(1), sec(1)), up("b", sec(0), "PENDING", sec(9)),
			st("STARTED", sec(1), sec(1)), false, "unknown state"},
		{"unknown state first", progress.Status{}, up("b", sec(0), "", sec(9)),
			progress.Status{}, false, "unknown state"},
		{"no execution", progress.Status{}, up("", sec(0), "STARTED", sec(9)),
			progress.Status{}, false, "no execution"},

		// Same execution.
		{"running to final", st("STARTED", sec(1), sec(1)), up("b", sec(0), "SUCCEEDED", sec(9)),
			st("SUCCEEDED", sec(9), sec(1)), true, "newer"},
		{"running to stopping", st("STARTED", sec(1), sec(1)), up("b", sec(0), "STOPPING", sec(9)),
			st("STOPPING", sec(9), sec(1)), true, "newer"},
		{"older event", st("STOPPING", sec(9), sec(1)), up("b", sec(0), "STARTED", sec(1)),
			st("STOPPING", sec(9), sec(1)), false, "older event"},
		{"older final event", st("STARTED", sec(9), sec(9)), up("b", sec(0), "FAILED", sec(5)),
			st("STARTED", sec(9), sec(9)), false, "older event"},
		{"duplicate", st("STARTED", sec(1), sec(1)), up("b", sec(0), "STARTED", sec(1)),
			st("STARTED", sec(1), sec(1)), false, "duplicate"},
		{"duplicate later", st("STARTED", sec(1), sec(1)), up("b", sec(0), "InProgress", sec(7)),
			st("STARTED", sec(1), sec(1)), false, "duplicate"},
		{"final duplicate later", st("FAILED", sec(5), sec(1)), up("b", sec(0), "Failed", sec(7)),
			st("FAILED", sec(5), sec(1)), false, "duplicate"},
		{"final kept", st("SUCCEEDED", sec(5), sec(1)), up("b", sec(0), "RESUMED", sec(7)),
			st("SUCCEEDED", sec(5), sec(1)), false, "final state kept"},
		{"same second: final beats running", st("STARTED", sec(5), sec(5)), up("b", sec(0), "SUCCEEDED", sec(5)),
			st("SUCCEEDED", sec(5), sec(5)), true, "newer"},
		{"same second: running after final", st("SUCCEEDED", sec(5), sec(5)), up("b", sec(0), "STARTED", sec(5)),
			st("SUCCEEDED", sec(5), sec(5)), false, "final state kept"},
		{"same second: stopping after started", st("STARTED", sec(5), sec(5)), up("b", sec(0), "STOPPING", sec(5)),
			st("STOPPING", sec(5), sec(5)), true, "newer"},
		{"same second: started before stopping", st("STOPPING", sec(5), sec(5)), up("b", sec(0), "STARTED", sec(5)),
			st("STOPPING", sec(5), sec(5)), false, "older event"},
		{"same second: succeeded after failed", st("FAILED", sec(5), sec(1)), up("b", sec(0), "SUCCEEDED", sec(5)),
			st("SUCCEEDED", sec(5), sec(1)), true, "newer"},
		{"same second: failed before succeeded", st("SUCCEEDED", sec(5), sec(1)), up("b", sec(0), "FAILED", sec(5)),
			st("SUCCEEDED", sec(5), sec(1)), false, "final state kept"},
		{"retried: later success replaces failure", st("FAILED", sec(5), sec(1)), up("b", sec(0), "SUCCEEDED", sec(30)),
			st("SUCCEEDED", sec(30), sec(1)), true, "newer"},
		{"retried: later failure replaces success", st("SUCCEEDED", sec(5), sec(1)), up("b", sec(0), "FAILED", sec(30)),
			st("FAILED", sec(30), sec(1)), true, "newer"},
		{"start learnt later", progress.Status{ExecutionID: "b", State: "STARTED", At: sec(1), Began: sec(1)},
			up("b", sec(0), "SUCCEEDED", sec(9)), st("SUCCEEDED", sec(9), sec(1)), true, "newer"},
		{"earliest start kept", st("STARTED", sec(1), sec(1)), up("b", sec(1), "SUCCEEDED", sec(9)),
			st("SUCCEEDED", sec(9), sec(1)), true, "newer"},
		{"unknown start keeps known", st("STARTED", sec(1), sec(1)), up("b", zero, "SUCCEEDED", sec(9)),
			st("SUCCEEDED", sec(9), sec(1)), true, "newer"},

		// CodePipeline's own start (Update.Began): the earliest known wins.
		{"first final with CodePipeline's start", progress.Status{}, upBegan("b", sec(0), "SUCCEEDED", sec(9), sec(2)),
			st("SUCCEEDED", sec(9), sec(2)), true, "first"},
		{"first running with an earlier start", progress.Status{}, upBegan("b", sec(0), "InProgress", sec(7), sec(0)),
			st("STARTED", sec(7), sec(0)), true, "first"},
		{"a start after the event is ignored", progress.Status{}, upBegan("b", sec(0), "SUCCEEDED", sec(5), sec(9)),
			st("SUCCEEDED", sec(5), zero), true, "first"},
		{"seen start earlier than CodePipeline's", st("STARTED", sec(1), sec(1)), upBegan("b", sec(0), "SUCCEEDED", sec(9), sec(2)),
			st("SUCCEEDED", sec(9), sec(1)), true, "newer"},
		{"CodePipeline's start earlier than seen", st("STARTED", sec(3), sec(3)), upBegan("b", sec(0), "SUCCEEDED", sec(9), sec(1)),
			st("SUCCEEDED", sec(9), sec(1)), true, "newer"},
		{"unchanged final keeps its unknown start", st("SUCCEEDED", sec(9), zero), upBegan("b", sec(0), "SUCCEEDED", sec(9), sec(1)),
			st("SUCCEEDED", sec(9), zero), false, "duplicate"},
		{"newer execution final with its start", st("STARTED", sec(9), sec(1)), upBegan("c", sec(5), "SUCCEEDED", sec(60), sec(5)),
			progress.Status{ExecutionID: "c", ExecutionStart: sec(5), State: "SUCCEEDED", At: sec(60), Began: sec(5)}, true, "newer execution"},

		// Another execution.
		{"newer execution running", st("SUCCEEDED", sec(9), sec(1)), up("c", sec(5), "STARTED", sec(6)),
			progress.Status{ExecutionID: "c", ExecutionStart: sec(5), State: "STARTED", At: sec(6), Began: sec(6)}, true, "newer execution"},
		{"newer execution final", st("STARTED", sec(9), sec(1)), up("c", sec(5), "Cancelled", sec(6)),
			progress.Status{ExecutionID: "c", ExecutionStart: sec(5), State: "CANCELED", At: sec(6)}, true, "newer execution"},
		{"older execution, later event", st("STARTED", sec(9), sec(9)), up("a", t0.Add(-time.Second), "SUPERSEDED", sec(20)),
			st("STARTED", sec(9), sec(9)), false, "older execution"},
		{"same start: greater id wins", st("STARTED", sec(9), sec(9)), up("c", sec(0), "STARTED", sec(2)),
			progress.Status{ExecutionID: "c", ExecutionStart: sec(0), State: "STARTED", At: sec(2), Began: sec(2)}, true, "newer execution"},
		{"same start: smaller id loses", st("STARTED", sec(9), sec(9)), up("a", sec(0), "SUCCEEDED", sec(20)),
			st("STARTED", sec(9), sec(9)), false, "older execution"},
		{"unknown start is not later", st("STARTED", sec(9), sec(9)), up("c", zero, "STARTED", sec(20)),
			st("STARTED", sec(9), sec(9)), false, "older execution"},
		{"known start is later than unknown", progress.Status{ExecutionID: "b", State: "STARTED", At: sec(9), Began: sec(9)},
			up("a", sec(0), "STARTED", sec(2)),
			progress.Status{ExecutionID: "a", ExecutionStart: sec(0), State: "STARTED", At: sec(2), Began: sec(2)}, true, "newer execution"},
		{"both unknown: greater id wins", progress.Status{ExecutionID: "b", State: "STARTED", At: sec(9), Began: sec(9)},
			up("c", zero, "FAILED", sec(2)),
			progress.Status{ExecutionID: "c", State: "FAILED", At: sec(2)}, true, "newer execution"},
	}
	for _, tt := range tests {
		got, changed, why := progress.Next(tt.cur, tt.u)
		if !sameStatus(got, tt.want) || changed != tt.changed || why != tt.why {
			t.Errorf("%s:\n got %v %q %s\nwant %v %q %s", tt.name, changed, why, show(got), tt.changed, tt.why, show(tt.want))
		}
	}
}

func sameStatus(a, b progress.Status) bool {
	return a.ExecutionID == b.ExecutionID && a.State == b.State && a.ExecutionStart.Equal(b.ExecutionStart) &&
		a.At.Equal(b.At) && a.Began.Equal(b.Began)
}

func show(s progress.Status) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.TimeOnly)
	}
	return s.ExecutionID + " start " + f(s.ExecutionStart) + " " + s.State + " at " + f(s.At) + " began " + f(s.Began)
}

// Recent events carry the execution's start time, which orders executions better
// than the time pipegate first saw one; a missing or odd value is not an error.
func TestFromEventBridgeStartTime(t *testing.T) {
	for _, c := range []struct {
		field string
		want  time.Time
	}{
		{`"start-time": "2025-11-27T11:02:48.311Z",`, time.Date(2025, 11, 27, 11, 2, 48, 311e6, time.UTC)},
		{``, time.Time{}},
		{`"start-time": "yesterday",`, time.Time{}},
	} {
		raw := `{"version":"0","id":"e1","detail-type":"CodePipeline Stage Execution State Change","source":"aws.codepipeline",
			"time":"2025-11-27T11:06:31Z","detail":{` + c.field + `"pipeline":"core-pipeline","execution-id":"x1","stage":"Build","state":"SUCCEEDED","version":3.0}}`
		var env events.CloudWatchEvent
		if err := json.Unmarshal([]byte(raw), &env); err != nil {
			t.Fatal(err)
		}
		ev, ok, err := progress.FromEventBridge(env)
		if !ok || err != nil || !ev.Started.Equal(c.want) {
			t.Errorf("%s: Started %v ok %v err %v, want %v", c.field, ev.Started, ok, err, c.want)
		}
	}
}
