package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/params"
	"github.com/pipegate/pipegate/internal/routing"
	"github.com/pipegate/pipegate/internal/validate"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

// What docs/environment.md, the code and AWS fix, and the template must match.
const (
	webhookFunction = "WebhookFunction"
	retryFunction   = "RetryFunction"

	tableHashKey  = "pk"
	tableRangeKey = "sk"
	ttlAttribute  = "expires_at"

	// gitlabTimeout is how long GitLab waits for a delivery, in seconds.
	gitlabTimeout = 10

	// mergeCommit is the commit events/push.json pushes: the merge commit of
	// merge request !118, which the merge request events name.
	mergeCommit = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c"

	// badTokenEvent is the one event that must carry a wrong X-Gitlab-Token.
	badTokenEvent = "bad-token.json"
)

// function is what each function of the template must be.
type function struct {
	name    string
	codeURI string
	// env: every variable the code reads, with the value the template must give it
	// as the evaluator prints it ("" for the ones sam local fills in).
	env map[string]string
}

func functions() []function {
	common := map[string]string{
		"GITLAB_URL":   "https://gitlab.com",
		"GITLAB_TOKEN": "",
		// Empty means the routing file bundled into the binary; declared so that
		// sam local --env-vars can point it at another file.
		"PIPEGATE_CONFIG":        "",
		"GITLAB_TOKEN_SECRET_ID": "{Ref:GitLabTokenSecret}",
		"TABLE_NAME":             "{Ref:Table}",
		"LOG_LEVEL":              "info",
		"AWS_XRAY_SDK_DISABLED":  "false",
	}
	webhook := maps.Clone(common)
	webhook["WEBHOOK_SECRET"] = ""
	webhook["WEBHOOK_SECRET_ID"] = "{Ref:WebhookSecret}"
	// The signing secret is the SigningSecretArn parameter: empty by default
	// (checkEnvironment and checkPermissions want its value when a run sets it).
	webhook["WEBHOOK_SIGNING_SECRET"] = ""
	webhook["WEBHOOK_SIGNING_SECRET_ID"] = ""
	webhook["RETRY_QUEUE_URL"] = "{Ref:RetryQueue}"
	return []function{
		{name: webhookFunction, codeURI: "functions/webhook", env: webhook},
		{name: retryFunction, codeURI: "functions/retry", env: common},
		// No webhook secret and no retry queue: Lambda retries its invocations.
		{name: pipelineEventsFunction, codeURI: "functions/pipeline-events", env: pipelineEventsEnv(common)},
	}
}

// wantGrants lists, per IAM action, the resources a function needs: exactly
// what its code calls. On the pipelines, that is validate.Needs, the table the
// validate command checks with. approvals are each pipeline's production
// <pipeline>/<stage>/<action> (ProductionApprovals).
func wantGrants(fn string, pipelines, productionApprovals []string) map[string][]string {
	var arns, approvals []string
	for _, p := range pipelines {
		arns = append(arns, validate.PipelineARN(p))
	}
	for _, a := range productionApprovals {
		approvals = append(approvals, validate.PipelineARN(a))
	}
	table := []string{"{GetAtt:Table.Arn}"}
	want := map[string][]string{
		"dynamodb:getitem":              table,
		"dynamodb:putitem":              table,
		"dynamodb:updateitem":           table,
		"dynamodb:deleteitem":           table, // pending records go once the work is done
		"secretsmanager:getsecretvalue": {"{Ref:GitLabTokenSecret}"},
	}
	for _, action := range validate.Needs[fn] {
		resources := arns
		if action == "PutApprovalResult" {
			resources = approvals
		}
		want["codepipeline:"+strings.ToLower(action)] = resources
	}
	switch fn {
	case webhookFunction:
		want["secretsmanager:getsecretvalue"] = append(want["secretsmanager:getsecretvalue"], "{Ref:WebhookSecret}")
		want["sqs:sendmessage"] = []string{"{GetAtt:RetryQueue.Arn}"}
	case pipelineEventsFunction:
		// The reconciler resumes deliveries no invocation finished: it reads the
		// pending records. sqs:SendMessage to its dead-letter queue is not listed:
		// SAM adds it to the role for the EventInvokeConfig OnFailure destination.
		want["dynamodb:query"] = table
		maps.Copy(want, metricGrants) // alarms_test.go
	}
	return want
}

// inputs are the files the checks read; the tests break copies of them.
type inputs struct {
	root     string            // repository root: functions/ lives here
	template string            // path of template.yaml
	envJSON  []byte            // events/env.json
	events   map[string][]byte // events/*.json but env.json, by base name
	routing  []byte            // this package's routing file, testdata/routing.yaml
	// params are template parameters set besides the routing file's (the
	// others stay at their defaults).
	params map[string]string
}

// signingSecretArn is the parameter that turns signed deliveries on.
const signingSecretArn = "SigningSecretArn"

func readInputs(t *testing.T) inputs {
	t.Helper()
	in := inputs{root: root, template: filepath.Join(root, "template.yaml"), events: map[string][]byte{}}
	var err error
	if in.envJSON, err = os.ReadFile(filepath.Join(root, "events", "env.json")); err != nil {
		t.Fatal(err)
	}
	if in.routing, err = os.ReadFile(fixtureRouting); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if filepath.Base(f) == "env.json" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in.events[filepath.Base(f)] = data
	}
	return in
}

// checker collects every problem rather than stopping at the first, so one run
// shows all that is wrong with a template.
type checker struct {
	in       inputs
	routes   *routing.Config          // the routing file
	values   params.Values            // the parameters it makes, as pipegate params computes them
	cf       *cloudformation.Template // goformation's typed view
	raw      map[string]any           // the template as CloudFormation processes it (loops expanded), references kept
	decoded  map[string]any           // the template as written
	ev       *cfn.Evaluator           // parameters: the routing file's, the others at their defaults
	route    string                   // "POST /webhook", as the template routes it
	pattern  any                      // the StateChanges rule's Pattern, parameters at their defaults
	secret   string                   // WEBHOOK_SECRET that env.json gives WebhookFunction
	problems []string
}

func check(in inputs) []string {
	c := &checker{in: in}
	c.run()
	return c.problems
}

func (c *checker) errorf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) run() {
	data, err := os.ReadFile(c.in.template)
	if err != nil {
		c.errorf("%v", err)
		return
	}
	if c.routes, c.values, err = routeParams(c.in.routing); err != nil {
		c.errorf("%v", err)
		return
	}
	if c.decoded, err = cfn.Decode(data); err != nil {
		c.errorf("%v", err)
		return
	}
	values := c.values.Map()
	maps.Copy(values, c.in.params)
	if c.raw, c.ev, err = expand(c.decoded, values); err != nil {
		c.errorf("%v", err)
		return
	}
	if c.cf, err = goformationOf(c.raw); err != nil {
		c.errorf("goformation cannot parse the template: %v", err)
		return
	}
	c.checkFunctions()
	c.checkWebhookRoute()
	c.checkBadgeRoute()
	c.checkRetryEvent()
	c.checkPipelineEventsFunction()
	c.checkQueues()
	c.checkTable()
	c.checkSecrets()
	c.checkEnvironment()
	c.checkPermissions()
	c.checkSizes()
	c.checkLogGroups()
	c.checkOutputs()
	c.checkLocalEnv()
	c.checkEvents()
	c.checkAlarms() // alarms_test.go
}

func str[T any](p *T) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

// globalFunction is the template's Globals: Function section, or an empty one.
func (c *checker) globalFunction() *global.Function {
	if g, ok := c.cf.Globals["Function"].(*global.Function); ok {
		return g
	}
	return &global.Function{}
}

// timeout is a function's Timeout in seconds, its own or the global one (SAM's
// default is 3).
func (c *checker) timeout(fn string) int {
	f, err := c.cf.GetServerlessFunctionWithName(fn)
	switch {
	case err == nil && f.Timeout != nil:
		return *f.Timeout
	case c.globalFunction().Timeout != nil:
		return *c.globalFunction().Timeout
	}
	return 3
}

func (c *checker) checkFunctions() {
	g := c.globalFunction()
	for _, spec := range functions() {
		f, err := c.cf.GetServerlessFunctionWithName(spec.name)
		if err != nil {
			c.errorf("%s: no AWS::Serverless::Function of that name", spec.name)
			continue
		}
		pick := func(own, global *string) string {
			if own != nil {
				return *own
			}
			return str(global)
		}
		if got := pick(f.Runtime, g.Runtime); got != "provided.al2023" {
			c.errorf("%s: Runtime %q, want provided.al2023", spec.name, got)
		}
		if got := pick(f.Handler, g.Handler); got != "bootstrap" {
			c.errorf("%s: Handler %q, want bootstrap (the executable provided.al2023 runs)", spec.name, got)
		}
		if got := pick(f.Tracing, g.Tracing); got != "Active" {
			c.errorf("%s: Tracing %q, want Active", spec.name, got)
		}
		arch := f.Architectures
		if arch == nil && g.Architectures != nil {
			arch = *g.Architectures
		}
		if !slices.Equal(arch, []string{"arm64"}) {
			c.errorf("%s: Architectures %v, want [arm64]", spec.name, arch)
		}
		if got := f.AWSCloudFormationMetadata["BuildMethod"]; got != "go1.x" {
			c.errorf("%s: Metadata BuildMethod %v, want go1.x", spec.name, got)
		}
		codeURI := ""
		if f.CodeUri != nil {
			codeURI = str(f.CodeUri.String)
		}
		if codeURI != spec.codeURI {
			c.errorf("%s: CodeUri %q, want %s", spec.name, codeURI, spec.codeURI)
		} else if gofiles, _ := filepath.Glob(filepath.Join(c.in.root, codeURI, "*.go")); len(gofiles) == 0 {
			c.errorf("%s: CodeUri %s holds no Go files", spec.name, codeURI)
		}
	}
	if t := c.timeout(webhookFunction); t > gitlabTimeout {
		c.errorf("%s: Timeout %d s, but GitLab waits only %d s for a delivery", webhookFunction, t, gitlabTimeout)
	}
}

// events returns a function's Events in the raw template.
func (c *checker) events(fn string) map[string]any {
	m, _ := cfn.Lookup(c.raw, "Resources", fn, "Properties", "Events").(map[string]any)
	return m
}

func (c *checker) checkWebhookRoute() {
	f, err := c.cf.GetServerlessFunctionWithName(webhookFunction)
	if err != nil {
		return // reported by checkFunctions
	}
	for _, name := range slices.Sorted(maps.Keys(f.Events)) {
		e := f.Events[name]
		if e.Type != "HttpApi" || e.Properties == nil || e.Properties.HttpApiEvent == nil {
			continue
		}
		h := e.Properties.HttpApiEvent
		if !strings.EqualFold(str(h.Method), "POST") || str(h.Path) != "/webhook" {
			continue
		}
		c.route = "POST /webhook"
		if v := str(h.PayloadFormatVersion); v != "" && v != "2.0" {
			c.errorf("%s event %s: PayloadFormatVersion %s, want 2.0 (events.APIGatewayV2HTTPRequest)", webhookFunction, name, v)
		}
		// goformation resolves ApiId's !Ref to nothing: read it from the YAML.
		api, err := c.ev.Eval(cfn.Lookup(c.events(webhookFunction)[name], "Properties", "ApiId"))
		if err != nil {
			c.errorf("%s event %s: ApiId: %v", webhookFunction, name, err)
		} else if api != "{Ref:HttpApi}" {
			c.errorf("%s event %s: ApiId %v, want !Ref HttpApi (the API WebhookUrl names)", webhookFunction, name, api)
		}
	}
	if c.route == "" {
		c.errorf("%s: no HttpApi event for POST /webhook", webhookFunction)
	}
	if _, err := c.cf.GetServerlessHttpApiWithName("HttpApi"); err != nil {
		c.errorf("HttpApi: no AWS::Serverless::HttpApi of that name")
	}
}

func (c *checker) checkRetryEvent() {
	found := false
	evs := c.events(retryFunction)
	for _, name := range slices.Sorted(maps.Keys(evs)) {
		e := evs[name]
		if cfn.Lookup(e, "Type") != "SQS" {
			continue
		}
		found = true
		props := cfn.Lookup(e, "Properties")
		if q, err := c.ev.Eval(cfn.Lookup(props, "Queue")); err != nil || q != "{GetAtt:RetryQueue.Arn}" {
			c.errorf("%s event %s: Queue %v %v, want !GetAtt RetryQueue.Arn", retryFunction, name, q, err)
		}
		types, _ := strings1(cfn.Lookup(props, "FunctionResponseTypes"))
		if !slices.Contains(types, "ReportBatchItemFailures") {
			c.errorf("%s event %s: FunctionResponseTypes %v lacks ReportBatchItemFailures: one failed job would redeliver the whole batch", retryFunction, name, types)
		}
		if n, ok := toInt(cfn.Lookup(props, "BatchSize")); !ok || n < 1 || n > 10 {
			c.errorf("%s event %s: BatchSize %v, want a small number (1-10) so that a batch finishes within the timeout", retryFunction, name, cfn.Lookup(props, "BatchSize"))
		}
	}
	if !found {
		c.errorf("%s: no SQS event", retryFunction)
	}
}

func toInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case float64:
		return int(v), v == float64(int(v))
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func (c *checker) checkQueues() {
	q, err := c.cf.GetSQSQueueWithName("RetryQueue")
	if err != nil {
		c.errorf("RetryQueue: no AWS::SQS::Queue of that name")
		return
	}
	dlq, err := c.cf.GetSQSQueueWithName("RetryDeadLetterQueue")
	if err != nil {
		c.errorf("RetryDeadLetterQueue: no AWS::SQS::Queue of that name")
		return
	}
	consumer := c.timeout(retryFunction)
	visibility := 30 // SQS's default
	if q.VisibilityTimeout != nil {
		visibility = *q.VisibilityTimeout
	}
	if visibility < 6*consumer {
		c.errorf("RetryQueue: VisibilityTimeout %d s is under 6 x %s's Timeout (%d s), as AWS advises for an SQS event source", visibility, retryFunction, consumer)
	}
	if q.SqsManagedSseEnabled == nil || !*q.SqsManagedSseEnabled {
		c.errorf("RetryQueue: SqsManagedSseEnabled is not true")
	}
	if dlq.SqsManagedSseEnabled == nil || !*dlq.SqsManagedSseEnabled {
		c.errorf("RetryDeadLetterQueue: SqsManagedSseEnabled is not true")
	}
	redrive, err := c.ev.Eval(cfn.Lookup(c.raw, "Resources", "RetryQueue", "Properties", "RedrivePolicy"))
	if err != nil {
		c.errorf("RetryQueue RedrivePolicy: %v", err)
	}
	if target := cfn.Lookup(redrive, "deadLetterTargetArn"); target != "{GetAtt:RetryDeadLetterQueue.Arn}" {
		c.errorf("RetryQueue RedrivePolicy: deadLetterTargetArn %v, want !GetAtt RetryDeadLetterQueue.Arn", target)
	}
	if n, ok := toInt(cfn.Lookup(redrive, "maxReceiveCount")); !ok || n < 3 {
		c.errorf("RetryQueue RedrivePolicy: maxReceiveCount %v, want at least 3 attempts before the dead-letter queue", cfn.Lookup(redrive, "maxReceiveCount"))
	}
	// A message keeps its first enqueue time when it moves to the dead-letter
	// queue, so that queue must keep messages longer than the source does.
	retention := func(p *int) int {
		if p == nil {
			return 345600 // SQS's default, 4 days
		}
		return *p
	}
	if retention(dlq.MessageRetentionPeriod) <= retention(q.MessageRetentionPeriod) {
		c.errorf("RetryDeadLetterQueue: MessageRetentionPeriod %d s is not longer than RetryQueue's %d s", retention(dlq.MessageRetentionPeriod), retention(q.MessageRetentionPeriod))
	}
}

func (c *checker) checkTable() {
	tbl, err := c.cf.GetDynamoDBTableWithName("Table")
	if err != nil {
		c.errorf("Table: no AWS::DynamoDB::Table of that name")
		return
	}
	if got := str(tbl.BillingMode); got != "PAY_PER_REQUEST" {
		c.errorf("Table: BillingMode %q, want PAY_PER_REQUEST", got)
	}
	var keys []string
	for _, k := range tbl.KeySchema {
		keys = append(keys, k.AttributeName+" "+k.KeyType)
	}
	if want := []string{tableHashKey + " HASH", tableRangeKey + " RANGE"}; !slices.Equal(keys, want) {
		c.errorf("Table: KeySchema %v, want %v (docs/environment.md)", keys, want)
	}
	var attrs []string
	for _, a := range tbl.AttributeDefinitions {
		attrs = append(attrs, a.AttributeName+" "+a.AttributeType)
	}
	slices.Sort(attrs)
	if want := []string{tableHashKey + " S", tableRangeKey + " S"}; !slices.Equal(attrs, want) {
		c.errorf("Table: AttributeDefinitions %v, want %v (docs/environment.md)", attrs, want)
	}
	switch ttl := tbl.TimeToLiveSpecification; {
	case ttl == nil:
		c.errorf("Table: no TimeToLiveSpecification, want TTL on %s (docs/environment.md): nothing else deletes old items", ttlAttribute)
	case !ttl.Enabled || str(ttl.AttributeName) != ttlAttribute:
		c.errorf("Table: TimeToLiveSpecification on %q, enabled %v; want enabled on %s (docs/environment.md)", str(ttl.AttributeName), ttl.Enabled, ttlAttribute)
	}
	// The table holds the production gate's decisions (the audit trail) and the
	// badges' results: neither deleting the stack nor replacing the table may
	// delete them.
	for _, policy := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if v := cfn.Lookup(c.raw, "Resources", "Table", policy); v != "Retain" {
			c.errorf("Table: %s %v, want Retain: the audit trail and the badges' results would go with the stack", policy, v)
		}
	}
}

func (c *checker) checkSecrets() {
	for _, name := range []string{"WebhookSecret", "GitLabTokenSecret"} {
		s, err := c.cf.GetSecretsManagerSecretWithName(name)
		if err != nil {
			c.errorf("%s: no AWS::SecretsManager::Secret of that name", name)
			continue
		}
		if s.SecretString != nil {
			c.errorf("%s: SecretString is set: a secret's value does not belong in the template", name)
		}
		if name == "WebhookSecret" && s.GenerateSecretString == nil {
			c.errorf("%s: no GenerateSecretString: the webhook secret should be random", name)
		}
	}
	// SigningSecretArn is granted as written: only a full secret ARN (with its
	// random suffix) names one secret; a name or a wildcard would grant another
	// or none. Empty, the default, leaves deliveries unsigned.
	re, ok := c.parameterPattern(signingSecretArn)
	if !ok {
		c.errorf("%s: no AllowedPattern", signingSecretArn)
		return
	}
	for _, good := range []string{"", testSigningArn, "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:team/whsec-Ab12Cd"} {
		if !re.MatchString(good) {
			c.errorf("%s: AllowedPattern refuses %q", signingSecretArn, good)
		}
	}
	for _, bad := range []string{
		"pipegate/signing", // a name, not the ARN the grant needs
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:*",
		"arn:aws:secretsmanager:*:*:secret:pipegate/signing-a1B2c3",
		"arn:aws:s3:::bucket/secret",
		testSigningArn + " ",
	} {
		if re.MatchString(bad) {
			c.errorf("%s: AllowedPattern accepts %q", signingSecretArn, bad)
		}
	}
}

// envKeys are the variables a function declares, its own and the global ones.
func (c *checker) envKeys(fn string) map[string]bool {
	keys := map[string]bool{}
	if g := c.globalFunction(); g.Environment != nil {
		for k := range g.Environment.Variables {
			keys[k] = true
		}
	}
	if f, err := c.cf.GetServerlessFunctionWithName(fn); err == nil && f.Environment != nil {
		for k := range f.Environment.Variables {
			keys[k] = true
		}
	}
	return keys
}

// envValue is a variable's value as the function would see it, with references
// kept (goformation drops them).
func (c *checker) envValue(fn, name string) (any, error) {
	v := cfn.Lookup(c.raw, "Resources", fn, "Properties", "Environment", "Variables", name)
	if v == nil {
		v = cfn.Lookup(c.raw, "Globals", "Function", "Environment", "Variables", name)
	}
	return c.ev.Eval(v)
}

func (c *checker) checkEnvironment() {
	for _, spec := range functions() {
		declared := c.envKeys(spec.name)
		for _, name := range slices.Sorted(maps.Keys(declared)) {
			if _, ok := spec.env[name]; !ok {
				c.errorf("%s declares %s, which its code does not read", spec.name, name)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(spec.env)) {
			if !declared[name] {
				c.errorf("%s: environment variable %s is not declared", spec.name, name)
				continue
			}
			want := spec.env[name]
			if spec.name == webhookFunction && name == "WEBHOOK_SIGNING_SECRET_ID" {
				want = c.in.params[signingSecretArn]
			}
			got, err := c.envValue(spec.name, name)
			if err != nil {
				c.errorf("%s: %s: %v", spec.name, name, err)
			} else if got != want {
				c.errorf("%s: %s is %v, want %q", spec.name, name, got, want)
			}
		}
	}
}

// grant is what one function may do: action (lower case) -> resource -> true.
type grant map[string]map[string]bool

// grants reads a function's Policies: inline statements and managed policies of
// this template. Anything else (an AWS managed policy, a SAM policy template)
// grants more than pipegate calls and is a problem.
func (c *checker) grants(fn string, ev *cfn.Evaluator) (grant, []string) {
	var problems []string
	got := grant{}
	props := cfn.Lookup(c.raw, "Resources", fn, "Properties")
	if cfn.Lookup(props, "Role") != nil {
		problems = append(problems, fn+": has its own Role; the checks expect the role SAM builds from Policies")
	}
	list, ok := cfn.Lookup(props, "Policies").([]any)
	if !ok && cfn.Lookup(props, "Policies") != nil {
		list = []any{cfn.Lookup(props, "Policies")}
	}
	for _, p := range list {
		doc := p
		if name, ok := cfn.Lookup(p, "Ref").(string); ok {
			if cfn.Lookup(c.raw, "Resources", name, "Type") != "AWS::IAM::ManagedPolicy" {
				problems = append(problems, fmt.Sprintf("%s: policy !Ref %s is not a managed policy of this template", fn, name))
				continue
			}
			doc = cfn.Lookup(c.raw, "Resources", name, "Properties", "PolicyDocument")
		}
		stmts := cfn.Lookup(doc, "Statement")
		if stmts == nil {
			problems = append(problems, fmt.Sprintf("%s: policy %v is not a policy document of this template (AWS managed policies and SAM policy templates grant more than pipegate calls)", fn, p))
			continue
		}
		if _, ok := stmts.([]any); !ok {
			stmts = []any{stmts}
		}
		for _, s := range stmts.([]any) {
			problems = append(problems, statement(fn, s, ev, got)...)
		}
	}
	return got, problems
}

// inStack is the one Condition a statement may have: it narrows the
// wildcard region and account of the pipelines' ARNs to the stack's.
var inStack = map[string]any{"StringEquals": map[string]any{
	"aws:RequestedRegion": cfn.Region,
	"aws:ResourceAccount": cfn.AccountID,
}}

func statement(fn string, s any, ev *cfn.Evaluator, got grant) []string {
	var problems []string
	for _, k := range []string{"NotAction", "NotResource", "Principal", "NotPrincipal"} {
		if cfn.Lookup(s, k) != nil {
			problems = append(problems, fmt.Sprintf("%s: a statement uses %s", fn, k))
		}
	}
	if cfn.Lookup(s, "Effect") != "Allow" {
		problems = append(problems, fmt.Sprintf("%s: a statement's Effect is %v, want Allow", fn, cfn.Lookup(s, "Effect")))
	}
	actions, err := strings1(cfn.Lookup(s, "Action"))
	if err != nil {
		return append(problems, fmt.Sprintf("%s: Action: %v", fn, err))
	}
	v, err := ev.Eval(cfn.Lookup(s, "Resource"))
	if err != nil {
		return append(problems, fmt.Sprintf("%s: Resource of %v: %v", fn, actions, err))
	}
	resources, err := strings1(v)
	if err != nil {
		return append(problems, fmt.Sprintf("%s: Resource of %v: %v", fn, actions, err))
	}
	// A Condition is only ever the stack's region and account, which narrow
	// the wildcards of the ARNs the template cannot write out (validate.Narrow
	// reads it as IAM does); any other would grant something other than the
	// calls compared below.
	cond := cfn.Lookup(s, "Condition")
	if ok, ps := metricStatement(fn, actions, resources, cond, ev, got); ok { // alarms_test.go
		return append(problems, ps...)
	}
	if cond != nil {
		got, err := ev.Eval(cond)
		if err != nil {
			return append(problems, fmt.Sprintf("%s: Condition of %v: %v", fn, actions, err))
		}
		if !reflect.DeepEqual(got, inStack) {
			problems = append(problems, fmt.Sprintf("%s: %v under the Condition %v, want exactly %v", fn, actions, got, inStack))
		}
		cond = got
	}
	resources = validate.Narrow(resources, cond)
	for _, r := range resources {
		if strings.Contains(r, "*") {
			problems = append(problems, fmt.Sprintf("%s: %v on a wildcard resource %q", fn, actions, r))
		}
	}
	for _, a := range actions {
		a = strings.ToLower(a)
		if got[a] == nil {
			got[a] = map[string]bool{}
		}
		for _, r := range resources {
			got[a][r] = true
		}
	}
	return problems
}

// compare reports the differences between what a function may do and what it
// needs; only, when set, limits the comparison to the actions it prefixes.
func (c *checker) compare(fn string, got grant, want map[string][]string, only string) {
	for _, a := range slices.Sorted(maps.Keys(want)) {
		if !strings.HasPrefix(a, only) {
			continue
		}
		for _, r := range want[a] {
			if !got[a][r] {
				c.errorf("%s cannot call %s on %s", fn, a, r)
			}
		}
	}
	for _, a := range slices.Sorted(maps.Keys(got)) {
		if !strings.HasPrefix(a, only) {
			continue
		}
		if want[a] == nil {
			c.errorf("%s may call %s, which pipegate does not call", fn, a)
			continue
		}
		for _, r := range slices.Sorted(maps.Keys(got[a])) {
			if !slices.Contains(want[a], r) {
				c.errorf("%s may call %s on %s, which it does not need", fn, a, r)
			}
		}
	}
}

func (c *checker) checkPermissions() {
	used := map[string]bool{}
	for _, spec := range functions() {
		got, problems := c.grants(spec.name, c.ev)
		c.problems = append(c.problems, problems...)
		want := wantGrants(spec.name, c.values.PipelineNames, c.values.ProductionApprovals)
		if arn := c.in.params[signingSecretArn]; arn != "" && spec.name == webhookFunction {
			// Signed deliveries: the webhook reads the team's signing secret too.
			want["secretsmanager:getsecretvalue"] = append(want["secretsmanager:getsecretvalue"], arn)
		}
		c.compare(spec.name, got, want, "")
		for _, p := range c.policyRefs(spec.name) {
			used[p] = true
		}
	}
	// Every IAM resource of the template is one of the functions' policies and is
	// attached only through them.
	resources, _ := cfn.Lookup(c.raw, "Resources").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(resources)) {
		typ, _ := cfn.Lookup(resources[name], "Type").(string)
		if !strings.HasPrefix(typ, "AWS::IAM::") {
			continue
		}
		if !used[name] {
			c.errorf("%s: %s that no function's Policies names", name, typ)
		}
		for _, k := range []string{"Roles", "Users", "Groups"} {
			if cfn.Lookup(resources[name], "Properties", k) != nil {
				c.errorf("%s: attached to %s besides the functions", name, k)
			}
		}
	}
	c.checkPipelineNames()
	c.checkApprovals()
	c.checkSources()
}

// checkSources checks that PipelineSources' AllowedPattern takes the entries
// pipegate params makes, and none (the default, CreatePipelines=false), and
// refuses an entry the pipeline template would refuse only while its stack is
// created.
func (c *checker) checkSources() {
	re, ok := c.parameterPattern(params.PipelineSources)
	if !ok {
		c.errorf("%s: no AllowedPattern", params.PipelineSources)
		return
	}
	for _, e := range append([]string{""}, c.values.PipelineSources...) {
		if !re.MatchString(e) {
			c.errorf("%s: AllowedPattern refuses %q, which the routing file makes", params.PipelineSources, e)
		}
	}
	for _, bad := range []string{
		"p|s|acme/x|main|Source|Staging|Production",               // a field short
		"p|s|acme/x|main|Source|Staging|Production|Approve|Extra", // one too many
		"p|Web_App|acme/x|main|Source|Staging|Production|Approve", // a service name ECR and ECS refuse
		"p|s|x|main|Source|Staging|Production|Approve",            // a project that is no path
		"p|s|acme/x|ma in|Source|Staging|Production|Approve",      // a branch with a space
		"p|s|acme/x|main|Source|Staging|Production|Approve*",      // a wildcard
		"a b|s|acme/x|main|Source|Staging|Production|Approve",     // no pipeline name
	} {
		if re.MatchString(bad) {
			c.errorf("%s: AllowedPattern accepts %q", params.PipelineSources, bad)
		}
	}
}

func (c *checker) policyRefs(fn string) []string {
	var refs []string
	list, _ := cfn.Lookup(c.raw, "Resources", fn, "Properties", "Policies").([]any)
	for _, p := range list {
		if name, ok := cfn.Lookup(p, "Ref").(string); ok {
			refs = append(refs, name)
		}
	}
	return refs
}

// pipelines makes n routing file services with pipeline names of length
// nameLen (at least 3) and their parameters.
func pipelines(n, nameLen int) params.Values {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		name := fmt.Sprintf("%03d", i)
		name = strings.Repeat("p", max(nameLen-len(name), 0)) + name
		fmt.Fprintf(&b, "  - name: s%03d\n    project: acme/s%03d\n    pipeline: %s\n", i, i, name)
	}
	_, v, err := routeParams([]byte(b.String()))
	if err != nil {
		panic(err)
	}
	return v
}

// checkPipelineNames checks that the pipeline policies grant, and the
// StateChanges rule matches, exactly the pipelines PipelineNames names, each
// once, for lists of any length (no list padded to a fixed number of
// positions), and that its AllowedPattern takes each CodePipeline name and
// nothing else.
func (c *checker) checkPipelineNames() {
	lists := map[string]params.Values{
		"one pipeline":        pipelines(1, 12),
		"the routing file's":  c.values,
		"forty-one pipelines": pipelines(41, 20),
	}
	for _, label := range slices.Sorted(maps.Keys(lists)) {
		v := lists[label]
		_, ev, err := expand(c.decoded, v.Map())
		if err != nil {
			c.errorf("%s: %v", label, err)
			continue
		}
		suffix := fmt.Sprintf(" (PipelineNames: %s, %d)", label, len(v.PipelineNames))
		for _, spec := range functions() {
			got, problems := c.grants(spec.name, ev)
			if len(problems) > 0 {
				continue // reported with the routing file's
			}
			c.compare(spec.name+suffix, got, wantGrants(spec.name, v.PipelineNames, v.ProductionApprovals), "codepipeline:")
		}
		c.checkRulePattern(ev, v.PipelineNames, suffix)
	}
	re, ok := c.parameterPattern(params.PipelineNames)
	if !ok {
		c.errorf("%s: no AllowedPattern: CloudFormation would take any name, and the grants would name what CodePipeline does not", params.PipelineNames)
		return
	}
	for _, good := range []string{"a", "core-pipeline", "billing.pipeline", "x@y_z", strings.Repeat("p", 100)} {
		if !re.MatchString(good) {
			c.errorf("%s: AllowedPattern refuses %q, a CodePipeline name", params.PipelineNames, good)
		}
	}
	for _, bad := range []string{"", "*", "core*", "a b", "a/b", "a:b", strings.Repeat("p", 101)} {
		if re.MatchString(bad) {
			c.errorf("%s: AllowedPattern accepts %q, which is no CodePipeline name (or would widen the grants)", params.PipelineNames, bad)
		}
	}
}

// checkApprovals checks that ProductionApprovals' AllowedPattern takes one
// <pipeline>/<stage>/<action> and no wildcard, so that the approve grant is
// each pipeline's one production approval action and no other.
func (c *checker) checkApprovals() {
	re, ok := c.parameterPattern(params.ProductionApprovals)
	if !ok {
		c.errorf("%s: no AllowedPattern: it must take one <pipeline>/<stage>/<action> and no wildcard", params.ProductionApprovals)
		return
	}
	for _, a := range c.values.ProductionApprovals {
		if !re.MatchString(a) {
			c.errorf("%s: AllowedPattern refuses %q, which the routing file makes", params.ProductionApprovals, a)
		}
	}
	for _, bad := range []string{"*", "p/Production/*", "p/*/ApproveProduction", "*/Production/ApproveProduction", "p/Production/Approve*",
		"p/Production", "p/Production/ApproveProduction/Deploy", "p/Production/Approve Production", "/Production/ApproveProduction", "p//ApproveProduction", "p/Production/"} {
		if re.MatchString(bad) {
			c.errorf("%s: AllowedPattern accepts %q: the grant would cover other actions than the production approval, or none", params.ProductionApprovals, bad)
		}
	}
}

func (c *checker) checkOutputs() {
	want := map[string]string{
		"WebhookUrl":         "https://{Ref:HttpApi}.execute-api." + cfn.Region + ".amazonaws.com/webhook",
		"WebhookSecretArn":   "{Ref:WebhookSecret}",
		"RetryQueueUrl":      "{Ref:RetryQueue}",
		"DeadLetterQueueUrl": "{Ref:RetryDeadLetterQueue}",
		// Where to look when statuses stop moving.
		"PipelineEventsDeadLetterQueueUrl": "{Ref:" + pipelineEventsDLQ + "}",
		"TableName":                        "{Ref:Table}",
		// A GitLab project badge's image URL is this with <service>.svg appended.
		"BadgeUrl": "https://{Ref:HttpApi}.execute-api." + cfn.Region + ".amazonaws.com/badges/",
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, err := c.ev.Eval(cfn.Lookup(c.raw, "Outputs", name, "Value"))
		if err != nil || got != want[name] {
			c.errorf("output %s: %v %v, want %s", name, got, err, want[name])
		}
	}
}

// checkLocalEnv checks events/env.json: `sam local invoke --env-vars` sets only
// the variables the template declares on that function, silently.
func (c *checker) checkLocalEnv() {
	var env map[string]map[string]string
	if err := json.Unmarshal(c.in.envJSON, &env); err != nil {
		c.errorf("events/env.json: %v", err)
		return
	}
	for _, fn := range slices.Sorted(maps.Keys(env)) {
		if _, err := c.cf.GetServerlessFunctionWithName(fn); err != nil {
			c.errorf("events/env.json configures %s, which is not a function of the template", fn)
			continue
		}
		declared := c.envKeys(fn)
		for _, name := range slices.Sorted(maps.Keys(env[fn])) {
			if !declared[name] {
				c.errorf("events/env.json sets %s on %s, which the template does not declare there, so sam local ignores it", name, fn)
			}
		}
	}
	for _, spec := range functions() {
		if env[spec.name] == nil {
			c.errorf("events/env.json has no entry for %s: sam local invoke would run it with the template's references and no GitLab token", spec.name)
		}
	}
	if c.secret = env[webhookFunction]["WEBHOOK_SECRET"]; c.secret == "" {
		c.errorf("events/env.json gives %s no WEBHOOK_SECRET", webhookFunction)
	}
	// sam local runs each function in a container, where the loopback address is
	// the container's own: a GitLab on the developer's machine is the Docker host.
	for _, fn := range slices.Sorted(maps.Keys(env)) {
		raw, ok := env[fn]["GITLAB_URL"]
		if !ok {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			c.errorf("events/env.json: %s GITLAB_URL %q: %v", fn, raw, err)
			continue
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			c.errorf("events/env.json: %s GITLAB_URL %s is the container's own loopback under sam local; use host.docker.internal for a GitLab on this machine", fn, raw)
		}
	}
}

// project is a GitLab project as the sample events name it.
type project struct {
	id   int64
	path string
}

// eventBodies says what each event's GitLab payload must be, beyond its
// envelope: all of the one project push.json pushes to (whichever it is: the
// events are the sample of `sam local invoke`, not of this package's routing
// file).
func eventBodies(proj project) map[string]func(ev any) error {
	ofProject := func(p *gitlab.PushEvent) error { return pushed(p, proj) }
	return map[string]func(ev any) error{
		"push.json": func(ev any) error {
			p, ok := ev.(*gitlab.PushEvent)
			if !ok || p.Ref != "refs/heads/main" {
				return fmt.Errorf("want a push to main, got %T", ev)
			}
			if p.After != mergeCommit {
				return fmt.Errorf("after %s, want %s: the merge commit of !118 that the merge request events name", p.After, mergeCommit)
			}
			return ofProject(p)
		},
		// The merge request of push.json's commit: merged, then approved after
		// the merge, which opens the production gate that waits for it.
		"merge-request-merged.json":   mergeRequestOfPush("merge", proj),
		"merge-request-approved.json": mergeRequestOfPush("approved", proj),
		badTokenEvent: func(ev any) error {
			p, ok := ev.(*gitlab.PushEvent)
			if !ok || p.Ref != "refs/heads/main" {
				return fmt.Errorf("want a push to main (so that only the token is wrong), got %T", ev)
			}
			return ofProject(p)
		},
		"push-unrouted.json": func(ev any) error {
			p, ok := ev.(*gitlab.PushEvent)
			if !ok || !strings.HasPrefix(p.Ref, "refs/heads/") || p.Ref == "refs/heads/main" {
				return fmt.Errorf("want a push to a branch other than main, got %T", ev)
			}
			return ofProject(p)
		},
		"tag-push.json": func(ev any) error {
			p, ok := ev.(*gitlab.TagEvent)
			if !ok || p.Ref != "refs/tags/v1.4.0" {
				return fmt.Errorf("want the tag push of v1.4.0, got %T", ev)
			}
			if p.After == p.CheckoutSHA || len(p.CheckoutSHA) != 40 {
				return fmt.Errorf("after %s, checkout_sha %s: an annotated tag's after is the tag object, not the commit", p.After, p.CheckoutSHA)
			}
			if p.ProjectID != proj.id || p.Project.PathWithNamespace != proj.path {
				return fmt.Errorf("project %d %s, want push.json's %d %s", p.ProjectID, p.Project.PathWithNamespace, proj.id, proj.path)
			}
			return nil
		},
	}
}

// mergeRequestOfPush checks a merge request hook of !118, the merge request that
// push.json's commit merged.
func mergeRequestOfPush(action string, proj project) func(ev any) error {
	return func(ev any) error {
		m, ok := ev.(*gitlab.MergeEvent)
		if !ok {
			return fmt.Errorf("want a merge request event, got %T", ev)
		}
		if m.Project.ID != proj.id || m.Project.PathWithNamespace != proj.path {
			return fmt.Errorf("project %d %s, want push.json's %d %s", m.Project.ID, m.Project.PathWithNamespace, proj.id, proj.path)
		}
		a := m.ObjectAttributes
		if a.IID != 118 || a.TargetProjectID != proj.id || a.TargetBranch != "main" {
			return fmt.Errorf("merge request !%d of project %d into %s, want !118 of %d into main", a.IID, a.TargetProjectID, a.TargetBranch, proj.id)
		}
		if a.Action != action {
			return fmt.Errorf("action %q, want %q", a.Action, action)
		}
		// merge_commit_sha is set only once the merge request is merged.
		if a.State != "merged" || a.StateID != gitlab.StateIDMerged || a.MergeCommitSHA != mergeCommit {
			return fmt.Errorf("state %q (%d), merge_commit_sha %q; want merged with push.json's commit %s", a.State, a.StateID, a.MergeCommitSHA, mergeCommit)
		}
		if m.User == nil || m.User.Username == "" {
			return fmt.Errorf("no user: GitLab names who %s", action)
		}
		return nil
	}
}

// pushed checks a push of the project, whose payload lists every commit and
// the files they change.
func pushed(p *gitlab.PushEvent, proj project) error {
	if p.ProjectID != proj.id || p.Project.PathWithNamespace != proj.path {
		return fmt.Errorf("project %d %s, want push.json's %d %s", p.ProjectID, p.Project.PathWithNamespace, proj.id, proj.path)
	}
	if len(p.Commits) == 0 || int64(len(p.Commits)) != p.TotalCommitsCount {
		return fmt.Errorf("%d commits listed of %d", len(p.Commits), p.TotalCommitsCount)
	}
	for _, cm := range p.Commits {
		if len(slices.Concat(cm.Added, cm.Modified, cm.Removed)) > 0 {
			return nil
		}
	}
	return fmt.Errorf("no commit lists a changed file")
}

// pushedProject is the project push.json pushes to, as far as it can be read
// (what is wrong with it is checkEvents' to say).
func (c *checker) pushedProject() project {
	var req events.APIGatewayV2HTTPRequest
	if json.Unmarshal(c.in.events["push.json"], &req) != nil {
		return project{}
	}
	var p gitlab.PushEvent
	if json.Unmarshal([]byte(req.Body), &p) != nil {
		return project{}
	}
	return project{p.ProjectID, p.Project.PathWithNamespace}
}

func (c *checker) checkEvents() {
	seen := map[string]string{} // idempotency key -> event
	bodies := eventBodies(c.pushedProject())
	for _, name := range slices.Sorted(maps.Keys(bodies)) {
		if c.in.events[name] == nil {
			c.errorf("events/%s is missing", name)
		}
	}
	c.checkPipelineEvents()
	if c.route == "" {
		return // reported by checkWebhookRoute; there is nothing to compare the events with
	}
	for _, name := range slices.Sorted(maps.Keys(c.in.events)) {
		if isEventBridge(c.in.events[name]) {
			continue // PipelineEventsFunction's, checked by checkPipelineEvents
		}
		var req events.APIGatewayV2HTTPRequest
		dec := json.NewDecoder(bytes.NewReader(c.in.events[name]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			c.errorf("events/%s: not an API Gateway HTTP API (2.0) event: %v", name, err)
			continue
		}
		if req.Version != "2.0" || req.RouteKey != c.route || req.RequestContext.RouteKey != c.route {
			c.errorf("events/%s: version %q routeKey %q/%q, want 2.0 and the template's route %q", name, req.Version, req.RouteKey, req.RequestContext.RouteKey, c.route)
		}
		method, path, _ := strings.Cut(c.route, " ")
		if req.RawPath != path || req.RequestContext.HTTP.Path != path || req.RequestContext.HTTP.Method != method {
			c.errorf("events/%s: %s %s (rawPath %s), want %s", name, req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path, req.RawPath, c.route)
		}
		for k := range req.Headers {
			if k != strings.ToLower(k) {
				c.errorf("events/%s: header %q: API Gateway gives header names in lower case", name, k)
			}
		}
		h := req.Headers
		if n := h["content-length"]; n != "" && n != strconv.Itoa(len(req.Body)) {
			c.errorf("events/%s: content-length %s, but the body has %d bytes", name, n, len(req.Body))
		}
		if req.IsBase64Encoded {
			c.errorf("events/%s: isBase64Encoded: keep the body readable", name)
		}
		key := h["idempotency-key"]
		if key == "" || h["x-gitlab-event-uuid"] == "" || !strings.HasPrefix(h["user-agent"], "GitLab/") {
			c.errorf("events/%s: want the idempotency-key, x-gitlab-event-uuid and user-agent GitLab/... headers GitLab sends", name)
		} else if other, dup := seen[key]; dup {
			c.errorf("events/%s: idempotency-key %s is also %s's: one would be a duplicate of the other", name, key, other)
		}
		seen[key] = name
		token := h["x-gitlab-token"]
		switch {
		case name == badTokenEvent && (token == "" || token == c.secret):
			c.errorf("events/%s: x-gitlab-token must be present and differ from WEBHOOK_SECRET in events/env.json", name)
		case name != badTokenEvent && token != c.secret:
			c.errorf("events/%s: x-gitlab-token %q is not the WEBHOOK_SECRET events/env.json gives %s", name, token, webhookFunction)
		}
		ev, err := gitlab.ParseWebhook(gitlab.EventType(h["x-gitlab-event"]), []byte(req.Body))
		if err != nil {
			c.errorf("events/%s: body is not the %q event its x-gitlab-event names: %v", name, h["x-gitlab-event"], err)
			continue
		}
		if want := bodies[name]; want != nil {
			if err := want(ev); err != nil {
				c.errorf("events/%s: %v", name, err)
			}
		}
	}
}

func TestTemplate(t *testing.T) {
	for _, p := range check(readInputs(t)) {
		t.Error(p)
	}
}

// testSigningArn is a team's signing secret, as SigningSecretArn takes it.
const testSigningArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pipegate/signing-a1B2c3"

// TestTemplateSigned checks the template with signed deliveries on: the webhook
// reads SigningSecretArn's secret and may read exactly it besides its own two.
func TestTemplateSigned(t *testing.T) {
	in := readInputs(t)
	in.params = map[string]string{signingSecretArn: testSigningArn}
	for _, p := range check(in) {
		t.Error(p)
	}
}

// TestChecksCatch breaks a copy of the inputs in one way each and expects a
// problem that names what broke, so that no check above passes vacuously.
func TestChecksCatch(t *testing.T) {
	in := readInputs(t)
	signed := map[string]string{signingSecretArn: testSigningArn}
	base, err := os.ReadFile(in.template)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("the text to replace is not there: %q", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	replaceAll := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("the text to replace is not there: %q", old)
			}
			return strings.ReplaceAll(s, old, new)
		}
	}
	dropLine := func(containing string) func(string) string {
		return func(s string) string {
			lines := strings.SplitAfter(s, "\n")
			i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, containing) })
			if i < 0 {
				t.Fatalf("no line contains %q", containing)
			}
			return strings.Join(slices.Delete(lines, i, i+1), "")
		}
	}
	// dropLineAfter removes the first line containing containing after the
	// first line containing anchor.
	dropLineAfter := func(anchor, containing string) func(string) string {
		return func(s string) string {
			lines := strings.SplitAfter(s, "\n")
			i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, anchor) })
			if i < 0 {
				t.Fatalf("no line contains %q", anchor)
			}
			j := slices.IndexFunc(lines[i:], func(l string) bool { return strings.Contains(l, containing) })
			if j < 0 {
				t.Fatalf("no line after %q contains %q", anchor, containing)
			}
			return strings.Join(slices.Delete(lines, i+j, i+j+1), "")
		}
	}
	// replaceAfter replaces old once, its first occurrence after anchor.
	replaceAfter := func(anchor, old, new string) func(string) string {
		return func(s string) string {
			i := strings.Index(s, anchor)
			if i < 0 || !strings.Contains(s[i:], old) {
				t.Fatalf("no %q after %q", old, anchor)
			}
			return s[:i] + strings.Replace(s[i:], old, new, 1)
		}
	}
	// cutAfter is cut, from the first line containing from after anchor.
	cutAfter := func(anchor, from, to string) func(string) string {
		return func(s string) string {
			i := strings.Index(s, anchor)
			if i < 0 {
				t.Fatalf("no line contains %q", anchor)
			}
			lines := strings.SplitAfter(s[i:], "\n")
			j := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, from) })
			if j < 0 {
				t.Fatalf("no line after %q contains %q", anchor, from)
			}
			k := slices.IndexFunc(lines[j:], func(l string) bool { return strings.Contains(l, to) })
			if k < 0 {
				t.Fatalf("no line after %q contains %q", from, to)
			}
			return s[:i] + strings.Join(slices.Delete(lines, j, j+k+1), "")
		}
	}
	// cut removes the lines from the first one containing from through the next
	// one containing to.
	cut := func(from, to string) func(string) string {
		return func(s string) string {
			lines := strings.SplitAfter(s, "\n")
			i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, from) })
			if i < 0 {
				t.Fatalf("no line contains %q", from)
			}
			j := slices.IndexFunc(lines[i:], func(l string) bool { return strings.Contains(l, to) })
			if j < 0 {
				t.Fatalf("no line after %q contains %q", from, to)
			}
			return strings.Join(slices.Delete(lines, i, i+j+1), "")
		}
	}
	dropEnv := func(fn string) func(string) string {
		return func(s string) string {
			var env map[string]any
			if err := json.Unmarshal([]byte(s), &env); err != nil || env[fn] == nil {
				t.Fatalf("events/env.json has no entry %s to drop: %v", fn, err)
			}
			delete(env, fn)
			out, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
	}
	tests := []struct {
		name     string
		template func(string) string
		env      func(string) string
		routing  func(string) string // edits pipegate.yaml
		event    string              // file the edit applies to
		edit     func(string) string
		params   map[string]string // template parameters besides the routing file's
		want     string
	}{
		{name: "TTL removed", template: replace("      TimeToLiveSpecification:\n        AttributeName: expires_at\n        Enabled: true\n", ""), want: "no TimeToLiveSpecification"},
		{name: "TTL on another attribute", template: replace("AttributeName: expires_at", "AttributeName: ttl"), want: `on "ttl"`},
		{name: "range key missing", template: replace("          KeyType: RANGE", "          KeyType: HASH"), want: "KeySchema"},
		{name: "wildcard resource", template: replace("Resource: !GetAtt RetryQueue.Arn", `Resource: "*"`), want: "wildcard"},
		{name: "wildcard pipeline", template: replace("Action: codepipeline:StartPipelineExecution\n            Resource: !Split [\",\", !Join [\"\", [\"arn:*:codepipeline:*:*:\", !Join [\",arn:*:codepipeline:*:*:\", !Ref PipelineNames]]]]", "Action: codepipeline:StartPipelineExecution\n            Resource: \"arn:*:codepipeline:*:*:*\""), want: `wildcard resource "arn:aws:codepipeline:eu-west-1:123456789012:*"`},
		{name: "extra action", template: replace("- dynamodb:UpdateItem\n", "- dynamodb:UpdateItem\n                - dynamodb:Scan\n"), want: "dynamodb:scan"},
		{name: "missing secret", template: dropLine("- !Ref WebhookSecret"), want: "{Ref:WebhookSecret}"},
		{name: "AWS managed policy", template: replace("        - !Ref StartPipelinePolicy\n", "        - !Ref StartPipelinePolicy\n        - AmazonSQSFullAccess\n"), want: "AmazonSQSFullAccess"},
		{name: "SAM policy template", template: replace("        - !Ref StartPipelinePolicy\n", "        - !Ref StartPipelinePolicy\n        - DynamoDBCrudPolicy:\n            TableName: !Ref Table\n"), want: "DynamoDBCrudPolicy"},
		{name: "webhook env var dropped", template: dropLine("RETRY_QUEUE_URL: !Ref RetryQueue"), want: "RETRY_QUEUE_URL"},
		{name: "global env var dropped", template: dropLine(`GITLAB_TOKEN: ""`), want: "GITLAB_TOKEN"},
		{name: "token in the template", template: replace(`GITLAB_TOKEN: ""`, `GITLAB_TOKEN: glpat-0123456789`), want: "GITLAB_TOKEN"},
		{name: "env.json var not declared", template: dropLine("AWS_XRAY_SDK_DISABLED"), want: "AWS_XRAY_SDK_DISABLED"},
		{name: "partial batch failures off", template: replace("            FunctionResponseTypes:\n              - ReportBatchItemFailures\n", ""), want: "ReportBatchItemFailures"},
		{name: "SQS event on another queue", template: replace("Queue: !GetAtt RetryQueue.Arn", "Queue: !GetAtt RetryDeadLetterQueue.Arn"), want: "RetryQueue.Arn"},
		{name: "visibility timeout too short", template: replace("VisibilityTimeout: 360", "VisibilityTimeout: 60"), want: "VisibilityTimeout"},
		{name: "redrive to itself", template: replace("deadLetterTargetArn: !GetAtt RetryDeadLetterQueue.Arn", "deadLetterTargetArn: !GetAtt RetryQueue.Arn"), want: "deadLetterTargetArn"},
		{name: "queue unencrypted", template: replace("      SqsManagedSseEnabled: true\n", ""), want: "SqsManagedSseEnabled"},
		{name: "webhook slower than GitLab", template: replace("Timeout: 10", "Timeout: 30"), want: "waits only"},
		{name: "x86_64", template: replace("Architectures: [arm64]", "Architectures: [x86_64]"), want: "arm64"},
		{name: "runtime", template: replace("Runtime: provided.al2023", "Runtime: go1.x"), want: "provided.al2023"},
		{name: "tracing off", template: dropLine("Tracing: Active"), want: "Tracing"},
		{name: "build method", template: replace("      BuildMethod: go1.x\n", "      BuildMethod: makefile\n"), want: "BuildMethod"},
		{name: "code in the wrong place", template: replace("CodeUri: functions/retry", "CodeUri: functions/retry-consumer"), want: "CodeUri"},
		{name: "route", template: replace("Path: /webhook", "Path: /hooks/gitlab"), want: "POST /webhook"},
		{name: "payload format 1.0", template: replace(`PayloadFormatVersion: "2.0"`, `PayloadFormatVersion: "1.0"`), want: "PayloadFormatVersion"},
		{name: "badge route missing", template: cut("        Badge:", `PayloadFormatVersion: "2.0"`), want: "no HttpApi event for GET /badges/{service}"},
		{name: "badge route on POST", template: replace("            Method: GET\n            Path: /badges/{service}", "            Method: POST\n            Path: /badges/{service}"), want: "no HttpApi event for GET /badges/{service}"},
		{name: "badge path variable renamed", template: replace("Path: /badges/{service}", "Path: /badges/{name}"), want: "no HttpApi event for GET /badges/{service}"},
		{name: "badge on an implicit API", template: dropLineAfter("        Badge:", "ApiId: !Ref HttpApi"), want: "ApiId <nil>, want !Ref HttpApi (the API BadgeUrl names)"},
		{name: "badge payload format 1.0", template: replace("Path: /badges/{service}\n            PayloadFormatVersion: \"2.0\"", "Path: /badges/{service}\n            PayloadFormatVersion: \"1.0\""), want: "event Badge: PayloadFormatVersion 1.0"},
		{name: "badge output", template: replace("/badges/\n", "/badge/\n"), want: "output BadgeUrl"},
		{name: "routed pipeline not granted", template: replace("Action: codepipeline:StartPipelineExecution\n            Resource: !Split [\",\", !Join [\"\", [\"arn:*:codepipeline:*:*:\", !Join [\",arn:*:codepipeline:*:*:\", !Ref PipelineNames]]]]", "Action: codepipeline:StartPipelineExecution\n            Resource: [\"arn:*:codepipeline:*:*:core-pipeline\"]"), want: "cannot call codepipeline:startpipelineexecution on arn:aws:codepipeline:eu-west-1:123456789012:search-pipeline"},
		{name: "the first name not made an ARN", template: replace(`["arn:*:codepipeline:*:*:", !Join`, `["", !Join`), want: "cannot call codepipeline:startpipelineexecution on arn:aws:codepipeline:eu-west-1:123456789012:core-pipeline"},
		{name: "pattern takes a wildcard", template: replace("AllowedPattern: '^[A-Za-z0-9.@_-]{1,100}$'", "AllowedPattern: '^[A-Za-z0-9.@_*-]{1,100}$'"), want: `PipelineNames: AllowedPattern accepts "*"`},
		{name: "pipeline names longer than CodePipeline takes", template: replace("AllowedPattern: '^[A-Za-z0-9.@_-]{1,100}$'", "AllowedPattern: '^[A-Za-z0-9.@_-]{1,200}$'"), want: `PipelineNames: AllowedPattern accepts "ppppp`},
		{name: "function in a Split delimiter", template: replace(`!Split [",", !Join ["", ["arn:*:codepipeline:*:*:"`, `!Split [!Sub ",", !Join ["", ["arn:*:codepipeline:*:*:"`), want: "literal"},
		{name: "function in a Join delimiter", template: replace(`!Join [",arn:*:codepipeline:*:*:", !Ref PipelineNames]`, `!Join [!Sub ",arn:*:codepipeline:*:*:", !Ref PipelineNames]`), want: "literal"},
		{name: "a grant in any region and account", template: cut("            Condition:", "aws:ResourceAccount: !Ref AWS::AccountId"), want: `wildcard resource "arn:aws:codepipeline:*:*:core-pipeline"`},
		{name: "a grant in another region", template: replace("aws:RequestedRegion: !Ref AWS::Region", "aws:RequestedRegion: us-east-1"), want: "under the Condition map[StringEquals:map[aws:RequestedRegion:us-east-1"},
		{name: "a grant on a tag as well", template: replace("                aws:ResourceAccount: !Ref AWS::AccountId\n", "                aws:ResourceAccount: !Ref AWS::AccountId\n              StringLike:\n                aws:ResourceTag/team: \"*\"\n"), want: "under the Condition"},
		{name: "output", template: replace("/webhook\n  WebhookSecretArn", "/hook\n  WebhookSecretArn"), want: "WebhookUrl"},
		{name: "secret value in the template", template: replace("      GenerateSecretString:\n        PasswordLength: 48\n        ExcludePunctuation: true\n\n  GitLabTokenSecret", "      SecretString: hunter2\n\n  GitLabTokenSecret"), want: "SecretString"},
		{name: "env.json names a missing function", env: replace(`"RetryFunction": {`, `"NoSuchFunction": {}, "RetryFunction": {`), want: "NoSuchFunction"},
		{name: "good event with a wrong token", event: "push.json", edit: replace(`"x-gitlab-token": "pipegate-local-secret"`, `"x-gitlab-token": "other"`), want: "push.json"},
		{name: "bad event with the right token", event: badTokenEvent, edit: replace(`"x-gitlab-token": "not-the-webhook-secret"`, `"x-gitlab-token": "pipegate-local-secret"`), want: badTokenEvent},
		{name: "not an HTTP API event", event: "push.json", edit: replace(`"rawPath"`, `"path"`), want: "unknown field"},
		{name: "header not lower case", event: "push.json", edit: replace(`"x-gitlab-event"`, `"X-Gitlab-Event"`), want: "lower case"},
		{name: "event header names another event", event: "tag-push.json", edit: replace(`"Tag Push Hook"`, `"Push Hook"`), want: "tag-push.json"},
		{name: "tag push of another project", event: "tag-push.json", edit: replace(`\"project_id\":42`, `\"project_id\":43`), want: "tag-push.json: project 43"},
		{name: "annotated tag flattened", event: "tag-push.json", edit: replace(`checkout_sha\":\"9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c`, `checkout_sha\":\"f3a6d9c2e5b8a1f4d7c0e3b6a9f2d5c8e1b4a7d0`), want: "annotated"},

		// PipelineEventsFunction.
		{name: "pipeline events code in the wrong place", template: replace("CodeUri: functions/pipeline-events", "CodeUri: functions/pipeline_events"), want: "CodeUri"},
		{name: "rule without action events", template: dropLine("- CodePipeline Action Execution State Change"), want: "detail-type"},
		{name: "rule on another source", template: replace("- aws.codepipeline\n", "- aws.codebuild\n"), want: "source"},
		{name: "pattern pipelines not from PipelineNames", template: replace(`pipeline: !Ref PipelineNames`, `pipeline: [core-pipeline]`), want: "detail.pipeline [core-pipeline]"},
		{name: "pattern pipelines written out", template: replace(`pipeline: !Ref PipelineNames`, `pipeline: [core-pipeline, billing.pipeline, search-pipeline]`), want: "(PipelineNames: forty-one pipelines, 41): Pattern detail.pipeline"},
		{name: "pattern filters on state", template: replace(`pipeline: !Ref PipelineNames`+"\n", `pipeline: !Ref PipelineNames`+"\n                state: [SUCCEEDED, FAILED]\n"), want: "pipeline only"},
		{name: "rule reshapes the event", template: replace("          Type: EventBridgeRule\n          Properties:\n", "          Type: EventBridgeRule\n          Properties:\n            InputPath: $.detail\n"), want: "InputPath"},
		{name: "missing schedule", template: cut("        Reconcile:", "Schedule: rate(5 minutes)"), want: "no Schedule event"},
		{name: "schedule too slow", template: replace("Schedule: rate(5 minutes)", "Schedule: rate(1 hour)"), want: "rate(5 minutes)"},
		{name: "schedule disabled", template: replace("            Schedule: rate(5 minutes)\n", "            Schedule: rate(5 minutes)\n            Enabled: false\n"), want: "disabled"},
		{name: "missing GetPipelineExecution grant", template: dropLine("- codepipeline:GetPipelineExecution"), want: "PipelineEventsFunction cannot call codepipeline:getpipelineexecution"},
		{name: "pipeline events may scan the table", template: replace("                - dynamodb:Query\n              Resource: !GetAtt Table.Arn", "                - dynamodb:Query\n                - dynamodb:Scan\n              Resource: !GetAtt Table.Arn"), want: "PipelineEventsFunction may call dynamodb:scan"},
		{name: "pipeline events may not resume pushes", template: replace("        - !Ref StartPipelinePolicy\n        - !Ref ReadPipelinesPolicy\n        - !Ref ListExecutionsPolicy", "        - !Ref ReadPipelinesPolicy\n        - !Ref ListExecutionsPolicy"), want: "PipelineEventsFunction"},
		{name: "webhook secret granted to pipeline events", template: replace("delivery.\n            - Effect: Allow\n              Action: secretsmanager:GetSecretValue\n              Resource: !Ref GitLabTokenSecret\n", "delivery.\n            - Effect: Allow\n              Action: secretsmanager:GetSecretValue\n              Resource:\n                - !Ref GitLabTokenSecret\n                - !Ref WebhookSecret\n"), want: "PipelineEventsFunction may call secretsmanager:getsecretvalue on {Ref:WebhookSecret}"},
		{name: "reads granted on the approval actions", template: replaceAfter("  ReadPipelinesPolicy:", "!Ref PipelineNames]]]]", "!Ref ProductionApprovals]]]]"), want: "may call codepipeline:getpipelinestate on arn:aws:codepipeline:eu-west-1:123456789012:core-pipeline/Production/ApproveProduction, which it does not need"},
		{name: "webhook secret in the pipeline events env", template: replace("          WEBHOOK_URL: !Sub", "          WEBHOOK_SECRET_ID: !Ref WebhookSecret\n          WEBHOOK_URL: !Sub"), want: "PipelineEventsFunction declares WEBHOOK_SECRET_ID"},
		{name: "webhook secret back in the globals", template: replace("        GITLAB_TOKEN: \"\"\n", "        GITLAB_TOKEN: \"\"\n        WEBHOOK_SECRET: \"\"\n"), want: "RetryFunction declares WEBHOOK_SECRET"},
		{name: "missing on-failure destination", template: cut("        DestinationConfig:", "Destination: !GetAtt PipelineEventsDeadLetterQueue.Arn"), want: "OnFailure"},
		{name: "on-failure to the retry dead-letter queue", template: replace("Destination: !GetAtt PipelineEventsDeadLetterQueue.Arn", "Destination: !GetAtt RetryDeadLetterQueue.Arn"), want: "Destination {GetAtt:RetryDeadLetterQueue.Arn}"},
		{name: "no invoke config", template: cut("      EventInvokeConfig:", "Destination: !GetAtt PipelineEventsDeadLetterQueue.Arn"), want: "no EventInvokeConfig"},
		{name: "no retries", template: replace("MaximumRetryAttempts: 2", "MaximumRetryAttempts: 0"), want: "MaximumRetryAttempts"},
		{name: "event age beyond Lambda's", template: replace("MaximumEventAgeInSeconds: 3600", "MaximumEventAgeInSeconds: 86400"), want: "MaximumEventAgeInSeconds"},
		{name: "dead-letter queue keeps 4 days", template: replace("take no FIFO queue.\n      MessageRetentionPeriod: 1209600", "take no FIFO queue.\n      MessageRetentionPeriod: 345600"), want: "PipelineEventsDeadLetterQueue: MessageRetentionPeriod"},
		{name: "dead-letter queue unencrypted", template: replace("take no FIFO queue.\n      MessageRetentionPeriod: 1209600 # 14 days, the most SQS allows\n      SqsManagedSseEnabled: true\n", "take no FIFO queue.\n      MessageRetentionPeriod: 1209600 # 14 days, the most SQS allows\n"), want: "PipelineEventsDeadLetterQueue: SqsManagedSseEnabled"},
		{name: "dead-letter queue output", template: dropLine("Value: !Ref PipelineEventsDeadLetterQueue"), want: "PipelineEventsDeadLetterQueueUrl"},
		{name: "log group missing", template: cut("  PipelineEventsLogGroup:", "RetentionInDays: 30"), want: "/aws/lambda/${PipelineEventsFunction}"},
		{name: "env.json without pipeline events", env: dropEnv(pipelineEventsFunction), want: "no entry for PipelineEventsFunction"},
		{name: "event of an unrouted pipeline", event: "pipeline-started.json", edit: replace(`"pipeline": "core-pipeline"`, `"pipeline": "billing-pipeline"`), want: "pipeline-started.json: the StateChanges rule's pattern does not match it"},
		{name: "event of another execution", event: "pipeline-succeeded.json", edit: replace(`"execution-id": "00000001-0000-4000-800c-000000000001"`, `"execution-id": "00000002-0000-4000-800c-000000000002"`), want: "pipeline-succeeded.json: pipeline"},
		{name: "event from another region", event: "stage-build-succeeded.json", edit: replace(`"region": "eu-west-1"`, `"region": "us-east-1"`), want: "stage-build-succeeded.json: version"},
		{name: "stage event without its stage", event: "stage-build-succeeded.json", edit: replace(`"stage": "Build",`, ``), want: `stage "" action ""`},
		{name: "approval of another action", event: "action-approval-started.json", edit: replace(`"action": "ApproveProduction"`, `"action": "ApproveStaging"`), want: `want "Production" "ApproveProduction"`},
		{name: "action type version as a number", event: "action-approval-started.json", edit: replace(`"version": "1"`, `"version": 1`), want: "type.version"},
		{name: "pipeline version as a string", event: "pipeline-succeeded.json", edit: replace(`"version": 3.0`, `"version": "3"`), want: "detail.version"},
		{name: "state the level does not have", event: "stage-build-succeeded.json", edit: replace(`"state": "SUCCEEDED"`, `"state": "SUPERSEDED"`), want: "not one CodePipeline sends"},
		{name: "envelope with a field EventBridge does not send", event: "pipeline-started.json", edit: replace(`"source": "aws.codepipeline",`, `"source": "aws.codepipeline", "detailType": "x",`), want: "not an EventBridge envelope"},
		{name: "events out of order", event: "pipeline-succeeded.json", edit: replace(`"time": "2025-11-27T11:31:40Z"`, `"time": "2025-11-27T11:10:00Z"`), want: "is not after action-approval-started.json's"},
		{name: "two events with one id", event: "pipeline-succeeded.json", edit: replace(`"id": "e27b80ff-22a6-46ad-bbf5-ca434dad3de1"`, `"id": "95140aca-b521-4418-8fc5-7427b62f96e5"`), want: "is also"},
		{name: "scheduled event that looks like a state change", event: "scheduled.json", edit: replace(`"source": "aws.events"`, `"source": "aws.codepipeline"`), want: "scheduled.json: source"},
		{name: "scheduled event with detail", event: "scheduled.json", edit: replace(`"detail": {}`, `"detail": {"reconcile": true}`), want: "scheduled.json: detail"},

		// The production gate (ISSUE4): PutApprovalResult on each pipeline's
		// production approval action only, for every function that evaluates gates.
		{name: "approval granted on the pipeline", template: replace("!Ref ProductionApprovals]]]]", "!Ref PipelineNames]]]]"), want: "may call codepipeline:putapprovalresult on arn:aws:codepipeline:eu-west-1:123456789012:core-pipeline, which it does not need"},
		{name: "approval granted on every action", template: replace(`!Join [",arn:*:codepipeline:*:*:", !Ref ProductionApprovals]`, `!Join ["/*,arn:*:codepipeline:*:*:", !Ref PipelineNames]`), want: "[codepipeline:PutApprovalResult] on a wildcard resource"},
		{name: "approval granted on anything", template: replace("            Action: codepipeline:PutApprovalResult\n", "            Action: codepipeline:PutApprovalResult\n            Resource: \"*\"\n          - Effect: Allow\n            Action: codepipeline:PutApprovalResult\n"), want: `[codepipeline:PutApprovalResult] on a wildcard resource "*"`},
		{name: "approvals in any region and account", template: cutAfter("  ApprovePolicy:", "            Condition:", "aws:ResourceAccount: !Ref AWS::AccountId"), want: `wildcard resource "arn:aws:codepipeline:*:*:core-pipeline/Production/ApproveProduction"`},
		{name: "approval parameter takes wildcards", template: replace("'^[A-Za-z0-9.@_-]{1,100}/[A-Za-z0-9.@_-]{1,100}/[A-Za-z0-9.@_-]{1,100}$'", "'^[A-Za-z0-9.@_*-]{1,100}/[A-Za-z0-9.@_*-]{1,100}/[A-Za-z0-9.@_*-]{1,100}$'"), want: `ProductionApprovals: AllowedPattern accepts "p/Production/*"`},
		{name: "sources take any fields", template: replace(`AllowedPattern: '^([A-Za-z0-9.@_-]{1,100}\|[a-z0-9][a-z0-9-]{0,39}\|`, `AllowedPattern: '^([^|]+\|[^|]+\|`), want: `PipelineSources: AllowedPattern accepts "p|Web_App|`},
		{name: "approval parameter takes any stage path", template: replace("'^[A-Za-z0-9.@_-]{1,100}/[A-Za-z0-9.@_-]{1,100}/[A-Za-z0-9.@_-]{1,100}$'", "'^[A-Za-z0-9.@_/-]+$'"), want: `AllowedPattern accepts "p/Production/ApproveProduction/Deploy"`},
		{name: "webhook cannot approve", template: dropLineAfter("  WebhookFunction:", "- !Ref ApprovePolicy"), want: "WebhookFunction cannot call codepipeline:putapprovalresult on arn:aws:codepipeline:eu-west-1:123456789012:core-pipeline/Production/ApproveProduction"},
		{name: "webhook cannot read the gate", template: dropLineAfter("  WebhookFunction:", "- !Ref ReadPipelinesPolicy"), want: "WebhookFunction cannot call codepipeline:getpipelinestate on arn:aws:codepipeline:eu-west-1:123456789012:core-pipeline"},
		{name: "pipeline events cannot list action runs", template: dropLine("              - codepipeline:ListActionExecutions"), want: "PipelineEventsFunction cannot call codepipeline:listactionexecutions on arn:aws:codepipeline:eu-west-1:123456789012:core-pipeline"},
		{name: "webhook may list action runs", template: replace("        # A merge request hook evaluates the project's waiting production gates.\n", "        - !Ref ListExecutionsPolicy\n"), want: "WebhookFunction may call codepipeline:listactionexecutions"},
		{name: "webhook may list executions", template: replace("        # A merge request hook evaluates the project's waiting production gates.\n", "        - !Ref ListExecutionsPolicy\n"), want: "WebhookFunction may call codepipeline:listpipelineexecutions"},
		{name: "retry cannot approve", template: dropLineAfter("  RetryFunction:", "- !Ref ApprovePolicy"), want: "RetryFunction cannot call codepipeline:putapprovalresult"},
		{name: "pipeline events cannot approve", template: dropLineAfter("  PipelineEventsFunction:", "- !Ref ApprovePolicy"), want: "PipelineEventsFunction cannot call codepipeline:putapprovalresult"},
		{name: "approvals of the other services lost", template: replace("!Ref ProductionApprovals]]]]", "[core-pipeline/Production/ApproveProduction]]]]]"), want: "cannot call codepipeline:putapprovalresult on arn:aws:codepipeline:eu-west-1:123456789012:search-pipeline/Release/ApproveProduction"},
		{name: "one approval action for every pipeline", template: replace(`!Join [",arn:*:codepipeline:*:*:", !Ref ProductionApprovals]]]]`, `!Join ["/Production/ApproveProduction,arn:*:codepipeline:*:*:", !Ref PipelineNames], "/Production/ApproveProduction"]]]`), want: "cannot call codepipeline:putapprovalresult on arn:aws:codepipeline:eu-west-1:123456789012:billing.pipeline/Production/ApproveRelease"},
		// Review fixes: badge throttling, retained data, PIPEGATE_CONFIG, sam
		// local's GitLab address.
		{name: "badge route unthrottled", template: cut("            RouteSettings:", "ThrottlingRateLimit: 10"), want: "GET /badges/{service}: no ThrottlingBurstLimit"},
		{name: "badge route throttled loosely", template: replace("ThrottlingRateLimit: 10", "ThrottlingRateLimit: 500"), want: "GET /badges/{service}: ThrottlingBurstLimit 20 + ThrottlingRateLimit 500"},
		{name: "badge route without a burst limit", template: dropLine("ThrottlingBurstLimit: 20"), want: "no ThrottlingBurstLimit"},
		{name: "table deleted with the stack", template: dropLine("    DeletionPolicy: Retain"), want: "Table: DeletionPolicy <nil>, want Retain"},
		{name: "table replaced without keeping it", template: dropLine("    UpdateReplacePolicy: Retain"), want: "Table: UpdateReplacePolicy <nil>, want Retain"},
		{name: "PIPEGATE_CONFIG undeclared", template: dropLine(`PIPEGATE_CONFIG: ""`), want: "environment variable PIPEGATE_CONFIG is not declared"},
		{name: "PIPEGATE_CONFIG set in the template", template: replace(`PIPEGATE_CONFIG: ""`, `PIPEGATE_CONFIG: /var/task/pipegate.yaml`), want: "PIPEGATE_CONFIG is /var/task/pipegate.yaml"},
		{name: "env.json GitLab on the container's loopback", env: replace(`"http://host.docker.internal:8929"`, `"http://127.0.0.1:8929"`), want: "GITLAB_URL http://127.0.0.1:8929 is the container's own loopback"},
		{name: "env.json GitLab on localhost", env: replaceAll(`"http://host.docker.internal:8929"`, `"http://localhost:8929"`), want: "PipelineEventsFunction GITLAB_URL http://localhost:8929"},
		{name: "merge request of another commit", event: "merge-request-approved.json", edit: replace(`merge_commit_sha\":\"9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c`, `merge_commit_sha\":\"f3a6d9c2e5b8a1f4d7c0e3b6a9f2d5c8e1b4a7d0`), want: "merge-request-approved.json: state"},
		{name: "merge request not merged", event: "merge-request-approved.json", edit: replace(`\"state\":\"merged\"`, `\"state\":\"opened\"`), want: "merge-request-approved.json: state \"opened\""},
		{name: "merge request event of another action", event: "merge-request-merged.json", edit: replace(`\"action\":\"merge\"`, `\"action\":\"update\"`), want: `merge-request-merged.json: action "update"`},
		{name: "merge request event named a push", event: "merge-request-merged.json", edit: replace(`"x-gitlab-event": "Merge Request Hook"`, `"x-gitlab-event": "Push Hook"`), want: "merge-request-merged.json: want a merge request event"},
		// Signed deliveries (issue 13): the team's signing secret, to the webhook
		// only, only when SigningSecretArn is set.
		{name: "signing secret not granted", params: signed, template: dropLine("!If [SignedDeliveries, !Ref SigningSecretArn, !Ref AWS::NoValue]"), want: "WebhookFunction cannot call secretsmanager:getsecretvalue on " + testSigningArn},
		{name: "signing secret not read", params: signed, template: replace("WEBHOOK_SIGNING_SECRET_ID: !Ref SigningSecretArn", `WEBHOOK_SIGNING_SECRET_ID: ""`), want: "WEBHOOK_SIGNING_SECRET_ID is , want " + `"` + testSigningArn + `"`},
		{name: "signing secret granted to the retry consumer", params: signed, template: replace("              Action: secretsmanager:GetSecretValue\n              Resource: !Ref GitLabTokenSecret\n", "              Action: secretsmanager:GetSecretValue\n              Resource:\n                - !Ref GitLabTokenSecret\n                - !Ref SigningSecretArn\n"), want: "RetryFunction may call secretsmanager:getsecretvalue on " + testSigningArn},
		{name: "signing secret granted unconditionally", template: replace("!If [SignedDeliveries, !Ref SigningSecretArn, !Ref AWS::NoValue]", "!Ref SigningSecretArn"), want: "WebhookFunction may call secretsmanager:getsecretvalue on , which it does not need"},
		{name: "signing parameter takes any text", template: replace(`AllowedPattern: '^(arn:aws[a-z-]*:secretsmanager:`, `AllowedPattern: '^(.*|arn:aws[a-z-]*:secretsmanager:`), want: signingSecretArn},
		{name: "two merge request deliveries with one key", event: "merge-request-merged.json", edit: replace(`"idempotency-key": "4c8e2a6f-1b3d-4f5a-9c7e-0d2b4f6a8c13"`, `"idempotency-key": "9d1f3b5a-7c2e-4b6d-8f0a-2c4e6a8b0d57"`), want: "idempotency-key 9d1f3b5a-7c2e-4b6d-8f0a-2c4e6a8b0d57 is also"},
	}
	if got := check(in); len(got) != 0 {
		t.Fatalf("the unbroken inputs have problems: %q", got)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			broken := in
			broken.events = maps.Clone(in.events)
			text := string(base)
			if tc.template != nil {
				text = tc.template(text)
			}
			broken.template = filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(broken.template, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.env != nil {
				broken.envJSON = []byte(tc.env(string(in.envJSON)))
			}
			if tc.routing != nil {
				broken.routing = []byte(tc.routing(string(in.routing)))
			}
			if tc.edit != nil {
				broken.events[tc.event] = []byte(tc.edit(string(in.events[tc.event])))
			}
			broken.params = tc.params
			problems := check(broken)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem mentions %q; got %q", tc.want, problems)
			}
		})
	}
}

// strings1 reads a value that IAM and CloudFormation accept as one string or a list.
func strings1(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a string", x)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v is neither a string nor a list of strings", v)
}
