package cfn

import (
	"reflect"
	"strings"
	"testing"
)

const loops = `
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: "core-pipeline, auth.pipeline"
  Single:
    Type: String
    Default: x
Conditions:
  Fn::ForEach::IsName:
    - Name
    - !Ref Names
    - "Is&{Name}": !Equals [!Ref Name, core-pipeline]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Fn::ForEach::Stacks:
    - Name
    - !Ref Names
    - "&{Name}Stack":
        Type: AWS::CloudFormation::Stack
        Condition: !Sub "Is&{Name}"
        Properties:
          Name: !Ref Name
          Whole: !Sub "${Name}"
          Mixed: !Sub "${Name}-${AWS::Region}"
          Listed: !Sub ["${Name}/${T}", {T: !Ref Table}]
          Plain: "${Name} stays, as CloudFormation leaves a plain string"
          Table: !GetAtt [!Sub "Table", Arn]
          Nested: {Deeper: [!Ref Name, !Ref Single]}
          Fn::ForEach::Props:
            - Key
            - [a, b]
            - "${Key}Prop": !Sub "${Key}-${Name}"
  Fn::ForEach::Outer:
    - Letter
    - [A, B]
    - Fn::ForEach::Inner:
        - Digit
        - ["1", "2"]
        - "Queue${Letter}${Digit}":
            Type: AWS::SQS::Queue
            Properties:
              QueueName: !Sub "q-${Letter}${Digit}"
Outputs:
  Fn::ForEach::Out:
    - Name
    - !Ref Names
    - "&{Name}Out":
        Value: !Ref Name
`

func expanded(t *testing.T, src string, overrides map[string]string) (map[string]any, *Evaluator) {
	t.Helper()
	tpl, err := Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(tpl, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return tpl, ev
}

func TestForEachExpandsResources(t *testing.T) {
	tpl, ev := expanded(t, loops, nil)
	out := ev.Template()
	resources, _ := Lookup(out, "Resources").(map[string]any)
	var names []string
	for k := range resources {
		names = append(names, k)
	}
	want := []string{"Table", "corepipelineStack", "authpipelineStack", "QueueA1", "QueueA2", "QueueB1", "QueueB2"}
	if len(names) != len(want) {
		t.Fatalf("resources %q, want %q", names, want)
	}
	for _, w := range want {
		if resources[w] == nil {
			t.Errorf("no resource %s in %q", w, names)
		}
	}
	core := Lookup(out, "Resources", "corepipelineStack")
	for _, tc := range []struct {
		path []string
		want any
	}{
		{[]string{"Condition"}, "Iscorepipeline"},
		{[]string{"Properties", "Name"}, "core-pipeline"},
		// A Sub left with no variable is the string it names.
		{[]string{"Properties", "Whole"}, "core-pipeline"},
		{[]string{"Properties", "Mixed"}, map[string]any{"Fn::Sub": "core-pipeline-${AWS::Region}"}},
		{[]string{"Properties", "Listed"}, map[string]any{"Fn::Sub": []any{"core-pipeline/${T}", map[string]any{"T": map[string]any{"Ref": "Table"}}}}},
		{[]string{"Properties", "Plain"}, "${Name} stays, as CloudFormation leaves a plain string"},
		{[]string{"Properties", "Table"}, map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}},
		{[]string{"Properties", "Nested"}, map[string]any{"Deeper": []any{"core-pipeline", map[string]any{"Ref": "Single"}}}},
		// A loop in the properties adds properties; the outer identifier reaches it.
		{[]string{"Properties", "aProp"}, "a-core-pipeline"},
		{[]string{"Properties", "bProp"}, "b-core-pipeline"},
	} {
		if got := Lookup(core, tc.path...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("corepipelineStack %v = %#v, want %#v", tc.path, got, tc.want)
		}
	}
	if got := Lookup(out, "Resources", "QueueB2", "Properties", "QueueName"); got != "q-B2" {
		t.Errorf("nested loops: QueueB2's QueueName %#v, want q-B2", got)
	}
	if got := Lookup(out, "Conditions", "Isauthpipeline"); !reflect.DeepEqual(got, map[string]any{"Fn::Equals": []any{"auth.pipeline", "core-pipeline"}}) {
		t.Errorf("condition Isauthpipeline %#v", got)
	}
	if got := Lookup(out, "Outputs", "authpipelineOut", "Value"); got != "auth.pipeline" {
		t.Errorf("output authpipelineOut %#v", got)
	}
	// The decoded template itself is left as it was.
	if Lookup(tpl, "Resources", "Fn::ForEach::Stacks") == nil || Lookup(tpl, "Resources", "corepipelineStack") != nil {
		t.Error("NewEvaluator changed the template it was given")
	}

	// The evaluator works on the expanded template: generated resources and
	// conditions are there to reference.
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"!Ref corepipelineStack", "{Ref:corepipelineStack}"},
		{"!GetAtt QueueA1.Arn", "{GetAtt:QueueA1.Arn}"},
		{"!Condition Iscorepipeline", true},
		{"!Condition Isauthpipeline", false},
	} {
		got, err := ev.Eval(yamlValue(t, tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

// The collection is the parameter's value for this evaluation.
func TestForEachFollowsParameters(t *testing.T) {
	_, ev := expanded(t, loops, map[string]string{"Names": "billing"})
	resources, _ := Lookup(ev.Template(), "Resources").(map[string]any)
	if resources["billingStack"] == nil || resources["corepipelineStack"] != nil {
		t.Errorf("with Names=billing: resources %v", keys(resources))
	}
	if on, err := ev.Condition("Isbilling"); err != nil || on {
		t.Errorf("Isbilling: %v, %v; want false", on, err)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestForEachWithoutLoops(t *testing.T) {
	// A template without loops needs no transform and is its own expansion.
	tpl, ev := expanded(t, template, nil)
	if !reflect.DeepEqual(ev.Template(), tpl) {
		t.Error("a template without loops changed")
	}
}

func TestForEachErrors(t *testing.T) {
	const head = "Transform: AWS::LanguageExtensions\nParameters:\n  S: {Type: String, Default: x}\n  L: {Type: CommaDelimitedList, Default: \"a,b\"}\n"
	for _, tc := range []struct{ name, src, want string }{
		{"no transform", "Resources:\n  Fn::ForEach::X: [N, [a], {\"Q${N}\": {Type: AWS::SQS::Queue}}]\n",
			"Fn::ForEach::X needs the AWS::LanguageExtensions transform"},
		{"in Parameters", head + "Rules:\n  Fn::ForEach::X: [N, [a], {\"R${N}\": {}}]\n",
			"Fn::ForEach::X: not allowed in Rules"},
		{"not three arguments", head + "Resources:\n  Fn::ForEach::X: [N, [a]]\n",
			"Fn::ForEach::X: want [identifier, collection, fragment]"},
		{"identifier not a name", head + "Resources:\n  Fn::ForEach::X: [[N], [a], {\"Q${N}\": {}}]\n",
			"Fn::ForEach::X: the identifier [N] is not a name"},
		{"fragment not a mapping", head + "Resources:\n  Fn::ForEach::X: [N, [a], [b]]\n",
			"Fn::ForEach::X: the fragment [b] is not a mapping"},
		{"collection of a String", head + "Resources:\n  Fn::ForEach::X: [N, !Ref S, {\"Q${N}\": {}}]\n",
			"Fn::ForEach::X: the collection x is not a list"},
		{"collection of another function", head + "Resources:\n  Fn::ForEach::X: [N, !Split [\",\", \"a,b\"], {\"Q${N}\": {}}]\n",
			"Fn::ForEach::X: the collection must be a list or a Ref to a list parameter"},
		{"an item that is no string", head + "Resources:\n  Fn::ForEach::X: [N, [a, [b]], {\"Q${N}\": {}}]\n",
			"Fn::ForEach::X: collection item [b] is not a string"},
		{"a key without the identifier", head + "Resources:\n  Fn::ForEach::X: [N, !Ref L, {Q: {}}]\n",
			"Fn::ForEach::X: Q is made twice"},
		{"two items to one logical id", head + "Resources:\n  Fn::ForEach::X: [N, [a-b, ab], {\"Q&{N}\": {}}]\n",
			"Fn::ForEach::X: Qab is made twice"},
		{"a logical id the template has", head + "Resources:\n  Qa: {Type: AWS::SQS::Queue}\n  Fn::ForEach::X: [N, [a], {\"Q${N}\": {}}]\n",
			"Fn::ForEach::X: Qa is made twice"},
		{"a dangling collection", head + "Resources:\n  Fn::ForEach::X: [N, !Ref Nope, {\"Q${N}\": {}}]\n",
			"Fn::ForEach::X: collection: Ref Nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := Decode([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewEvaluator(tpl, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
