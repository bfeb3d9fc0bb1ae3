package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pipegate/pipegate/internal/cfn"
)

// AWS's size limits the evaluated policies and events rule must fit.
const (
	// MaxManagedPolicy is IAM's limit for a managed policy document, in
	// characters; IAM does not count white space.
	MaxManagedPolicy = 6144
	// MaxEventPattern is EventBridge's default limit for a rule's event
	// pattern, in characters (a quota increase raises it to 4,096).
	MaxEventPattern = 2048
)

// The evaluation's region is eu-west-1; sizes are measured in the longest
// region name there is, which no deployment exceeds. (The ARNs' partition is a
// wildcard, and every account ID has 12 digits.)
const worstRegion = "us-isof-south-1"

// Size is what one policy or pattern measures with one set of parameter values.
type Size struct {
	Resource string // the managed policy, or the function whose rule it is
	What     string // "managed policy" or "event pattern of <event>"
	Size     int
	Max      int
}

func (s Size) String() string {
	return fmt.Sprintf("%s's %s: %d characters, over the %d AWS takes", s.Resource, s.What, s.Size, s.Max)
}

// Sizes measures, with ev's parameter values, each managed policy of the
// template and the event pattern of PipelineEventsFunction's EventBridge rules.
func Sizes(ev *cfn.Evaluator) ([]Size, error) {
	tpl := ev.Template()
	var out []Size
	resources, _ := cfn.Lookup(tpl, "Resources").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(resources)) {
		if cfn.Lookup(resources[name], "Type") != "AWS::IAM::ManagedPolicy" {
			continue
		}
		doc, err := ev.Eval(cfn.Lookup(resources[name], "Properties", "PolicyDocument"))
		if err != nil {
			return nil, fmt.Errorf("%s: PolicyDocument: %w", name, err)
		}
		n, err := measure(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Size{name, "managed policy", n, MaxManagedPolicy})
	}
	events, _ := cfn.Lookup(tpl, "Resources", pipelineEventsFunction, "Properties", "Events").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(events)) {
		if cfn.Lookup(events[name], "Type") != "EventBridgeRule" {
			continue
		}
		p, err := ev.Eval(cfn.Lookup(events[name], "Properties", "Pattern"))
		if err != nil {
			return nil, fmt.Errorf("%s event %s: Pattern: %w", pipelineEventsFunction, name, err)
		}
		n, err := measure(p)
		if err != nil {
			return nil, fmt.Errorf("%s event %s: %w", pipelineEventsFunction, name, err)
		}
		out = append(out, Size{pipelineEventsFunction, "event pattern of " + name, n, MaxEventPattern})
	}
	return out, nil
}

// measure is the length of v as compact JSON, as IAM and EventBridge measure
// it, in the longest region.
func measure(v any) (int, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return 0, err
	}
	s := strings.TrimSuffix(b.String(), "\n")
	return len(strings.ReplaceAll(s, cfn.Region, worstRegion)), nil
}
