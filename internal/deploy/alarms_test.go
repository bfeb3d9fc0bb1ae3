package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/app"
	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/metrics"
)

// Issue 13: operators see trouble. The template alarms on every message in
// either dead-letter queue, on every function error, and on GitLab disabling
// pipegate's webhook (the reconciler's DisabledHooks metric); each alarm
// notifies AlarmTopicArn when it is set, and has no actions when it is not.

// pipelineEventsEnv is the pipeline-events function's environment: the
// Globals, and pipegate's webhook URL, by which the reconciler tells
// pipegate's GitLab webhooks from others (internal/wire, WEBHOOK_URL).
func pipelineEventsEnv(common map[string]string) map[string]string {
	env := maps.Clone(common)
	env["WEBHOOK_URL"] = "https://{Ref:HttpApi}.execute-api.eu-west-1.amazonaws.com/webhook"
	return env
}

// metricNamespaceOnly is the one Condition a PutMetricData grant may have:
// PutMetricData has no resource type (Resource "*"), and cloudwatch:namespace
// holds it to pipegate's namespace.
var metricNamespaceOnly = map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": metrics.Namespace}}

// metricResource stands for what a PutMetricData grant held to pipegate's
// namespace grants, in the grants compared.
const metricResource = "namespace " + metrics.Namespace

// metricGrants is what the pipeline-events function needs besides the others:
// the reconciler publishes DisabledHooks. No other function publishes.
var metricGrants = map[string][]string{"cloudwatch:putmetricdata": {metricResource}}

// metricStatement reads a statement that grants cloudwatch:PutMetricData:
// alone, on "*", under metricNamespaceOnly; ok false when the statement grants
// no PutMetricData, for the other checks to read.
func metricStatement(fn string, actions, resources []string, cond any, ev *cfn.Evaluator, got grant) (ok bool, problems []string) {
	if !slices.ContainsFunc(actions, func(a string) bool { return strings.EqualFold(a, "cloudwatch:PutMetricData") }) {
		return false, nil
	}
	if len(actions) != 1 {
		problems = append(problems, fmt.Sprintf("%s: cloudwatch:PutMetricData shares a statement with %v", fn, actions))
	}
	if !slices.Equal(resources, []string{"*"}) {
		problems = append(problems, fmt.Sprintf("%s: cloudwatch:PutMetricData on %v: it has no resource type, want \"*\" under cloudwatch:namespace", fn, resources))
	}
	c, err := ev.Eval(cond)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("%s: Condition of cloudwatch:PutMetricData: %v", fn, err))
	case !reflect.DeepEqual(c, metricNamespaceOnly):
		problems = append(problems, fmt.Sprintf("%s: cloudwatch:PutMetricData under the Condition %v, want exactly %v: any namespace, AWS/ ones aside, could be written", fn, c, metricNamespaceOnly))
	default:
		if got["cloudwatch:putmetricdata"] == nil {
			got["cloudwatch:putmetricdata"] = map[string]bool{}
		}
		got["cloudwatch:putmetricdata"][metricResource] = true
	}
	return true, problems
}

// wantAlarm is one alarm the template must have.
type wantAlarm struct {
	namespace, metric, statistic string
	dimensions                   map[string]any // as the evaluator prints them
}

var wantAlarms = map[string]wantAlarm{
	"DisabledHooksAlarm": {metrics.Namespace, app.MetricDisabledHooks, "Maximum",
		map[string]any{metrics.DimensionFunction: "{Ref:PipelineEventsFunction}"}},
	"RetryDeadLetterAlarm": {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
		map[string]any{"QueueName": "{GetAtt:RetryDeadLetterQueue.QueueName}"}},
	"PipelineEventsDeadLetterAlarm": {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
		map[string]any{"QueueName": "{GetAtt:PipelineEventsDeadLetterQueue.QueueName}"}},
	"WebhookErrorsAlarm":        {"AWS/Lambda", "Errors", "Sum", map[string]any{"FunctionName": "{Ref:WebhookFunction}"}},
	"RetryErrorsAlarm":          {"AWS/Lambda", "Errors", "Sum", map[string]any{"FunctionName": "{Ref:RetryFunction}"}},
	"PipelineEventsErrorsAlarm": {"AWS/Lambda", "Errors", "Sum", map[string]any{"FunctionName": "{Ref:PipelineEventsFunction}"}},
}

const testTopic = "arn:aws:sns:eu-west-1:123456789012:pipegate-alarms"

func (c *checker) checkAlarms() {
	if p := cfn.Lookup(c.raw, "Parameters", "AlarmTopicArn"); p == nil {
		c.errorf("no parameter AlarmTopicArn")
	} else if d := cfn.Lookup(p, "Default"); d != "" {
		c.errorf("AlarmTopicArn: Default %v, want \"\" (alarms without actions)", d)
	}
	values := c.values.Map()
	values["AlarmTopicArn"] = testTopic
	withTopic, err := cfn.NewEvaluator(c.decoded, values)
	if err != nil {
		c.errorf("evaluate the template with AlarmTopicArn: %v", err)
		return
	}
	resources, _ := cfn.Lookup(c.raw, "Resources").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(resources)) {
		if cfn.Lookup(resources[name], "Type") == "AWS::CloudWatch::Alarm" {
			if _, ok := wantAlarms[name]; !ok {
				c.errorf("%s: an alarm the checks do not know", name)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(wantAlarms)) {
		w := wantAlarms[name]
		if typ := cfn.Lookup(resources[name], "Type"); typ != "AWS::CloudWatch::Alarm" {
			c.errorf("%s: type %v, want AWS::CloudWatch::Alarm", name, typ)
			continue
		}
		if cfn.Lookup(resources[name], "Condition") != nil {
			c.errorf("%s: has a Condition; every stack needs it", name)
		}
		raw := cfn.Lookup(resources[name], "Properties")
		v, err := c.ev.Eval(raw)
		if err != nil {
			c.errorf("%s: %v", name, err)
			continue
		}
		p, _ := v.(map[string]any)
		if p["Namespace"] != w.namespace || p["MetricName"] != w.metric {
			c.errorf("%s: metric %v/%v, want %s/%s", name, p["Namespace"], p["MetricName"], w.namespace, w.metric)
		}
		if p["Statistic"] != w.statistic {
			c.errorf("%s: Statistic %v, want %s", name, p["Statistic"], w.statistic)
		}
		dims := map[string]any{}
		list, _ := p["Dimensions"].([]any)
		for _, d := range list {
			dims[fmt.Sprint(cfn.Lookup(d, "Name"))] = cfn.Lookup(d, "Value")
		}
		if !reflect.DeepEqual(dims, w.dimensions) || len(list) != len(w.dimensions) {
			c.errorf("%s: Dimensions %v, want %v", name, dims, w.dimensions)
		}
		// One message, one error, one disabled hook is trouble.
		if th, _ := toInt(p["Threshold"]); th != 1 || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
			c.errorf("%s: %v %v, want GreaterThanOrEqualToThreshold 1", name, p["ComparisonOperator"], p["Threshold"])
		}
		if n, _ := toInt(p["EvaluationPeriods"]); n != 1 {
			c.errorf("%s: EvaluationPeriods %v, want 1", name, p["EvaluationPeriods"])
		}
		if p["MetricName"] != app.MetricDisabledHooks && p["TreatMissingData"] != "notBreaching" {
			// No message, no invocation: no data, and no trouble.
			c.errorf("%s: TreatMissingData %v, want notBreaching", name, p["TreatMissingData"])
		}
		for _, k := range []string{"AlarmActions", "OKActions"} {
			if p[k] != nil {
				c.errorf("%s: %s %v without AlarmTopicArn, want none", name, k, p[k])
			}
			got, err := withTopic.Eval(cfn.Lookup(raw, k))
			if err != nil || !reflect.DeepEqual(got, []any{testTopic}) {
				c.errorf("%s: %s %v (%v) with AlarmTopicArn=%s, want that topic", name, k, got, err, testTopic)
			}
		}
	}
}

// TestAlarmChecksCatch breaks copies of the template in each way the alarm and
// metric checks must notice.
func TestAlarmChecksCatch(t *testing.T) {
	in := readInputs(t)
	base, err := os.ReadFile(in.template)
	if err != nil {
		t.Fatal(err)
	}
	if got := check(in); len(got) != 0 {
		t.Fatalf("the unbroken inputs have problems: %q", got)
	}
	// after replaces the first old after anchor.
	after := func(anchor, old, new string) func(string) string {
		return func(s string) string {
			i := strings.Index(s, anchor)
			j := strings.Index(s[max(i, 0):], old)
			if i < 0 || j < 0 {
				t.Fatalf("%q after %q is not there", old, anchor)
			}
			j += i
			return s[:j] + new + s[j+len(old):]
		}
	}
	for _, tc := range []struct {
		name, want string
		edit       func(string) string
	}{
		{"dead-letter alarm on the retry queue", "RetryDeadLetterAlarm: Dimensions map[QueueName:{GetAtt:RetryQueue.QueueName}]",
			after("  RetryDeadLetterAlarm:", "!GetAtt RetryDeadLetterQueue.QueueName", "!GetAtt RetryQueue.QueueName")},
		{"dead-letter alarm on messages sent", "PipelineEventsDeadLetterAlarm: metric AWS/SQS/NumberOfMessagesSent",
			after("  PipelineEventsDeadLetterAlarm:", "MetricName: ApproximateNumberOfMessagesVisible", "MetricName: NumberOfMessagesSent")},
		{"errors alarm of another function", "RetryErrorsAlarm: Dimensions map[FunctionName:{Ref:WebhookFunction}]",
			after("  RetryErrorsAlarm:", "!Ref RetryFunction", "!Ref WebhookFunction")},
		{"errors alarm averaged", "WebhookErrorsAlarm: Statistic Average",
			after("  WebhookErrorsAlarm:", "Statistic: Sum", "Statistic: Average")},
		{"errors alarm from five errors", "PipelineEventsErrorsAlarm: GreaterThanOrEqualToThreshold 5",
			after("  PipelineEventsErrorsAlarm:", "Threshold: 1", "Threshold: 5")},
		{"errors alarm without a dimension: every function of the account", "WebhookErrorsAlarm: Dimensions map[]",
			after("  WebhookErrorsAlarm:", "      Dimensions:\n        - Name: FunctionName\n          Value: !Ref WebhookFunction\n", "")},
		{"an alarm gone", "RetryErrorsAlarm: type <nil>",
			after("  RetryErrorsAlarm:", "  RetryErrorsAlarm:", "  RetryErrorsAlarmGone:")},
		{"disabled hooks alarm in another namespace", "DisabledHooksAlarm: metric AWS/Lambda/DisabledHooks",
			after("  DisabledHooksAlarm:", "Namespace: pipegate", "Namespace: AWS/Lambda")},
		{"disabled hooks alarm of another dimension", "DisabledHooksAlarm: Dimensions map[Project:{Ref:PipelineEventsFunction}]",
			after("  DisabledHooksAlarm:", "- Name: FunctionName", "- Name: Project")},
		{"topic condition inverted", "with AlarmTopicArn=" + testTopic + ", want that topic",
			after("Conditions:", `HasAlarmTopic: !Not [!Equals [!Ref AlarmTopicArn, ""]]`, `HasAlarmTopic: !Equals [!Ref AlarmTopicArn, ""]`)},
		{"no OK notification", "DisabledHooksAlarm: OKActions <nil>",
			after("  DisabledHooksAlarm:", "      OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]\n", "")},
		{"actions always on", "RetryDeadLetterAlarm: AlarmActions [{Ref:WebhookSecret}] without AlarmTopicArn",
			after("  RetryDeadLetterAlarm:", "AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]", "AlarmActions: [!Ref WebhookSecret]")},
		{"topic parameter with a default", "AlarmTopicArn: Default arn:aws:sns:eu-west-1:123456789012:x",
			after("  AlarmTopicArn:", `Default: ""`, `Default: arn:aws:sns:eu-west-1:123456789012:x`)},
		{"metric in any namespace", `PipelineEventsFunction: cloudwatch:PutMetricData under the Condition <nil>`,
			after("  PublishMetricsPolicy:", "            Condition:\n              StringEquals:\n                cloudwatch:namespace: pipegate\n", "")},
		{"metric in another namespace", "cloudwatch:PutMetricData under the Condition map[StringEquals:map[cloudwatch:namespace:AWS/Lambda]]",
			after("  PublishMetricsPolicy:", "cloudwatch:namespace: pipegate", "cloudwatch:namespace: AWS/Lambda")},
		{"metric not granted", "PipelineEventsFunction cannot call cloudwatch:putmetricdata on namespace pipegate",
			after("  PipelineEventsFunction:", "        - !Ref PublishMetricsPolicy\n", "")},
		{"metric granted to the webhook", "WebhookFunction may call cloudwatch:putmetricdata",
			after("  WebhookFunction:", "        - !Ref StartPipelinePolicy\n", "        - !Ref StartPipelinePolicy\n        - !Ref PublishMetricsPolicy\n")},
		{"webhook URL of the badges", "PipelineEventsFunction: WEBHOOK_URL is https://{Ref:HttpApi}.execute-api.eu-west-1.amazonaws.com/badges/",
			after("  PipelineEventsFunction:", "execute-api.${AWS::Region}.${AWS::URLSuffix}/webhook", "execute-api.${AWS::Region}.${AWS::URLSuffix}/badges/")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := in
			broken.template = filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(broken.template, []byte(tc.edit(string(base))), 0o644); err != nil {
				t.Fatal(err)
			}
			problems := check(broken)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem mentions %q; got %q", tc.want, problems)
			}
		})
	}
}
