package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/cfn"
)

// AWS's size limits that the longest parameter values must fit.
const (
	// maxManagedPolicy is IAM's limit for a managed policy document, in
	// characters; IAM does not count white space.
	maxManagedPolicy = 6144
	// maxEventPattern is EventBridge's default limit for a rule's event
	// pattern, in characters (a quota increase raises it to 4,096).
	maxEventPattern = 2048
	// longestName is where the search for a pattern's longest name gives up:
	// a pattern that takes names this long bounds them by nothing.
	longestName = 1000
)

// The ARNs of the evaluated policies name partition aws and region eu-west-1;
// the size check measures them in the longest partition and the longest region
// name there is (us-isof-south-1), together, which no deployment exceeds.
const (
	worstPartition = "aws-us-gov"
	worstRegion    = "us-isof-south-1"
)

// longest returns the greatest n, up to longestName, for which re takes
// value(n), scanning up from 1; 0 when it takes value(1) not at all.
func longest(re *regexp.Regexp, value func(n int) string) int {
	for n := 1; n <= longestName; n++ {
		if !re.MatchString(value(n)) {
			return n - 1
		}
	}
	return longestName
}

// parameterPattern compiles a parameter's AllowedPattern as CloudFormation
// applies it, to the whole value.
func (c *checker) parameterPattern(name string) (*regexp.Regexp, bool) {
	pattern, _ := cfn.Lookup(c.raw, "Parameters", name, "AllowedPattern").(string)
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if pattern == "" || err != nil {
		return nil, false // reported by checkPipelineNames and checkApprovals
	}
	return re, true
}

// checkSizes evaluates the template with the longest values the parameters'
// patterns take (20 pipeline names at the longest, the longest stage and action
// of ProductionApproval) and checks that every managed policy stays under IAM's
// limit and the StateChanges pattern under EventBridge's: otherwise a deploy
// with such names fails halfway, on a resource, instead of at its parameters.
func (c *checker) checkSizes() {
	names, ok := c.parameterPattern("PipelineNames")
	if !ok {
		return
	}
	approval, ok := c.parameterPattern(approvalParam)
	if !ok {
		return
	}
	// maxPipelines names of n characters each, distinct from 2 characters on.
	list := func(n int) []string {
		var out []string
		for i := range maxPipelines {
			name := fmt.Sprintf("%02d", i)
			if n < 2 {
				name = name[2-n:]
			} else {
				name = strings.Repeat("p", n-2) + name
			}
			out = append(out, name)
		}
		return out
	}
	nameLen := longest(names, func(n int) string { return strings.Join(list(n), ",") })
	stageLen := longest(approval, func(n int) string { return strings.Repeat("s", n) + "/a" })
	actionLen := longest(approval, func(n int) string { return "s/" + strings.Repeat("a", n) })
	for what, n := range map[string]int{"PipelineNames": nameLen, approvalParam + " stage": stageLen, approvalParam + " action": actionLen} {
		if n == longestName {
			c.errorf("%s: AllowedPattern takes names of %d characters: bound their length so that the policies and the event pattern fit AWS's limits", what, n)
		}
	}
	if nameLen == 0 || stageLen == 0 || actionLen == 0 {
		return // the patterns take no list of 20 names, or no <stage>/<action>: reported by checkPipelineNames and checkApprovals
	}
	worst := strings.Repeat("s", stageLen) + "/" + strings.Repeat("a", actionLen)
	if !approval.MatchString(worst) {
		c.errorf("%s: AllowedPattern takes a stage of %d and an action of %d characters, but not both: the size checks cannot find its longest value", approvalParam, stageLen, actionLen)
		return
	}
	pipelines := strings.Join(list(nameLen), ",")
	ev, err := cfn.NewEvaluator(c.raw, map[string]string{"PipelineNames": pipelines, approvalParam: worst})
	if err != nil {
		c.errorf("%v", err)
		return
	}
	label := fmt.Sprintf("with %d pipeline names of %d characters and %s %d characters long", maxPipelines, nameLen, approvalParam, len(worst))
	resources, _ := cfn.Lookup(c.raw, "Resources").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(resources)) {
		if cfn.Lookup(resources[name], "Type") != "AWS::IAM::ManagedPolicy" {
			continue
		}
		doc, err := ev.Eval(cfn.Lookup(resources[name], "Properties", "PolicyDocument"))
		if err != nil {
			c.errorf("%s: PolicyDocument %s: %v", name, label, err)
			continue
		}
		s, err := compactJSON(doc)
		if err != nil {
			c.errorf("%s: %v", name, err)
			continue
		}
		s = strings.ReplaceAll(s, "arn:"+cfn.Partition+":", "arn:"+worstPartition+":")
		s = strings.ReplaceAll(s, ":"+cfn.Region+":", ":"+worstRegion+":")
		if len(s) >= maxManagedPolicy {
			c.errorf("%s: %d characters %s (in %s, %s): IAM takes a managed policy of under %d; shorten the names PipelineNames' or %s's AllowedPattern allows", name, len(s), label, worstPartition, worstRegion, maxManagedPolicy, approvalParam)
		}
	}
	rule := c.stateRule()
	if rule == "" {
		return // reported by checkPipelineEventsFunction
	}
	pattern, err := ev.Eval(cfn.Lookup(c.events(pipelineEventsFunction)[rule], "Properties", "Pattern"))
	if err != nil {
		c.errorf("%s event %s: Pattern %s: %v", pipelineEventsFunction, rule, label, err)
		return
	}
	if s, err := compactJSON(pattern); err != nil {
		c.errorf("%s event %s: %v", pipelineEventsFunction, rule, err)
	} else if len(s) > maxEventPattern {
		c.errorf("%s event %s: the StateChanges pattern: %d characters %s: EventBridge takes an event pattern of at most %d; shorten the names PipelineNames' AllowedPattern allows", pipelineEventsFunction, rule, len(s), label, maxEventPattern)
	}
}

// compactJSON serialises v as JSON without white space, as IAM and EventBridge
// measure it.
func compactJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
