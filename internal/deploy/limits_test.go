package deploy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pipegate/pipegate/internal/cfn"
	"github.com/pipegate/pipegate/internal/validate"
)

// parameterPattern compiles a parameter's AllowedPattern as CloudFormation
// applies it, to the whole value (of a list, to each item).
func (c *checker) parameterPattern(name string) (*regexp.Regexp, bool) {
	pattern, _ := cfn.Lookup(c.raw, "Parameters", name, "AllowedPattern").(string)
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if pattern == "" || err != nil {
		return nil, false
	}
	return re, true
}

// The team the size check deploys for: twenty pipelines whose names, production
// stages and approval actions are 50 characters long, what the template held
// when it granted a list of twenty positions at most. The template no longer
// bounds the number of pipelines: pipegate validate measures the routing file's
// own (validate.Sizes) and says when a policy or the events rule would be too
// large; this check keeps the template's own share of those limits small enough
// for such a team.
const (
	sizedPipelines = 20
	sizedNames     = 50
)

// checkSizes evaluates the template for that team and checks that every managed
// policy stays under IAM's limit and the StateChanges pattern under
// EventBridge's: otherwise such a deploy fails halfway, on a resource.
func (c *checker) checkSizes() {
	var b strings.Builder
	b.WriteString("services:\n")
	name := func(i int, what string) string {
		s := fmt.Sprintf("%s%02d", what, i)
		return s + strings.Repeat("x", sizedNames-len(s))
	}
	for i := range sizedPipelines {
		fmt.Fprintf(&b, "  - name: s%02d\n    project: acme/s%02d\n    pipeline: %s\n    production: {stage: %s, approval_action: %s}\n",
			i, i, name(i, "p"), name(i, "stage"), name(i, "action"))
	}
	_, v, err := routeParams([]byte(b.String()))
	if err != nil {
		c.errorf("%v", err)
		return
	}
	_, ev, err := expand(c.decoded, v.Map())
	if err != nil {
		c.errorf("%v", err)
		return
	}
	sizes, err := validate.Sizes(ev)
	if err != nil {
		c.errorf("%v", err)
		return
	}
	if len(sizes) != 6 {
		c.errorf("measured %v, want the five managed policies and the StateChanges pattern", sizes)
	}
	for _, s := range sizes {
		if s.Size > s.Max {
			c.errorf("%s, with %d pipelines, stages and actions of %d characters", s, sizedPipelines, sizedNames)
		}
	}
}
