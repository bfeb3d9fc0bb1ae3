package cfn

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const template = `
Parameters:
  Name:
    Type: String
    Default: core
  Names:
    Type: CommaDelimitedList
    Default: "a, b,c"
  Port:
    Type: Number
    Default: 8080
  Required:
    Type: String
  Subnet:
    Type: AWS::EC2::Subnet::Id
    Default: subnet-1
Conditions:
  IsCore: !Equals [!Ref Name, core]
  NotCore: !Not [!Condition IsCore]
  PortIsDefault: !Equals [!Ref Port, 8080]
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${Name}-table"
      Enabled: true
      Size: 10
  Other:
    Type: AWS::SQS::Queue
`

func evaluator(t *testing.T, overrides map[string]string) (map[string]any, *Evaluator) {
	t.Helper()
	tpl, err := Decode([]byte(template))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(tpl, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return tpl, ev
}

// yamlValue decodes one YAML value written with short tags.
func yamlValue(t *testing.T, s string) any {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	v, err := DecodeNode(&n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecodeShortTags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"!Ref Table", map[string]any{"Ref": "Table"}},
		{"!Condition IsCore", map[string]any{"Condition": "IsCore"}},
		{"!GetAtt Table.Arn", map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}},
		{"!GetAtt [Table, Arn]", map[string]any{"Fn::GetAtt": []any{"Table", "Arn"}}},
		{`!Sub "${Name}-x"`, map[string]any{"Fn::Sub": "${Name}-x"}},
		{`!Split [",", !Ref Names]`, map[string]any{"Fn::Split": []any{",", map[string]any{"Ref": "Names"}}}},
		{`!Join ["-", [a, !Ref Name]]`, map[string]any{"Fn::Join": []any{"-", []any{"a", map[string]any{"Ref": "Name"}}}}},
		{"!Select [0, !Ref Names]", map[string]any{"Fn::Select": []any{0, map[string]any{"Ref": "Names"}}}},
		{"!If [IsCore, a, b]", map[string]any{"Fn::If": []any{"IsCore", "a", "b"}}},
		{"!Equals [a, b]", map[string]any{"Fn::Equals": []any{"a", "b"}}},
		{"!Not [!Condition IsCore]", map[string]any{"Fn::Not": []any{map[string]any{"Condition": "IsCore"}}}},
		// A short tag's scalar stays as written; untagged scalars keep their YAML types.
		{"!Ref 10", map[string]any{"Ref": "10"}},
		{"[10, true, x, !!str 5]", []any{10, true, "x", "5"}},
		// The long form is read as it is.
		{`{"Fn::Split": [",", {"Ref": "Names"}]}`, map[string]any{"Fn::Split": []any{",", map[string]any{"Ref": "Names"}}}},
		// Aliases are followed.
		{"{a: &x !Ref Name, b: *x}", map[string]any{"a": map[string]any{"Ref": "Name"}, "b": map[string]any{"Ref": "Name"}}},
	} {
		if got := yamlValue(t, tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.in, got, tc.want)
		}
	}
	if v, err := DecodeNode(nil); v != nil || err != nil {
		t.Errorf("DecodeNode(nil) = %v, %v; want nil, nil", v, err)
	}
}

func TestDecodeTemplate(t *testing.T) {
	tpl, err := Decode([]byte(template))
	if err != nil {
		t.Fatal(err)
	}
	if got := Lookup(tpl, "Resources", "Table", "Properties", "TableName"); !reflect.DeepEqual(got, map[string]any{"Fn::Sub": "${Name}-table"}) {
		t.Errorf("TableName %#v", got)
	}
	if got := Lookup(tpl, "Resources", "Table", "Properties", "Size"); got != 10 {
		t.Errorf("Size %#v, want 10", got)
	}
	if got := Lookup(tpl, "Resources", "Nope", "Properties"); got != nil {
		t.Errorf("missing key: %#v, want nil", got)
	}
	if got := Lookup(tpl, "Parameters", "Name", "Type", "Deeper"); got != nil {
		t.Errorf("through a scalar: %#v, want nil", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, in := range []string{"a: [", "- a\n- b\n", "a: !!int x"} {
		if _, err := Decode([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), "parse template: ") {
			t.Errorf("Decode(%q): error %v, want parse template: ...", in, err)
		}
	}
}

func TestEval(t *testing.T) {
	_, ev := evaluator(t, map[string]string{"Required": "given"})
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"!Ref Name", "core"},
		{"!Ref Port", "8080"},
		{"!Ref Required", "given"},
		{"!Ref Subnet", "subnet-1"},
		{"!Ref Names", []any{"a", "b", "c"}},
		{"!Ref Table", "{Ref:Table}"},
		{"!Ref AWS::Region", Region},
		{"!Ref AWS::AccountId", AccountID},
		{"!Ref AWS::Partition", Partition},
		{"!Ref AWS::URLSuffix", URLSuffix},
		{"!Ref AWS::StackName", StackName},
		{"[a, !Ref AWS::NoValue, b]", []any{"a", "b"}},
		{"!GetAtt Table.Arn", "{GetAtt:Table.Arn}"},
		{`!Sub "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Name}"`, "arn:aws:sqs:eu-west-1:123456789012:core"},
		{`!Sub "${Table.Arn}/*"`, "{GetAtt:Table.Arn}/*"},
		{`!Sub "${!Literal}-${Name}"`, "${Literal}-core"},
		{`!Sub ["${N}-${Name}-${P}", {N: !Select [1, !Ref Names], P: 8}]`, "b-core-8"},
		{`!Select [2, !Ref Names]`, "c"},
		{`!Select ["0", [x, y]]`, "x"},
		{`!Split [",", "x,y,,z"]`, []any{"x", "y", "", "z"}},
		{`!Split [",", !Sub "${Name},other"]`, []any{"core", "other"}},
		{`!Join ["-", [!Ref Name, 1, !Ref Port]]`, "core-1-8080"},
		{`!Join [",", !Ref Names]`, "a,b,c"},
		{"!If [IsCore, yes, no]", "yes"},
		{"!If [NotCore, !Ref Nope, no]", "no"}, // the branch not taken is not evaluated
		{"!Equals [!Ref Name, core]", true},
		{"!Equals [!Ref Port, 8080]", true},
		{"!Equals [a, b]", false},
		{"!Not [!Equals [a, b]]", true},
		{"!Not [!Condition IsCore]", false},
		{"!Condition PortIsDefault", true},
		// Fn::Contains, a function of Rules: is the value one of the list's?
		{"!Contains [!Ref Names, b]", true},
		{"!Contains [!Ref Names, \"\"]", false},
		{"!Contains [[x, !Ref Name], core]", true},
		// Without a function, a value is itself, with its functions evaluated.
		{"{Name: !Ref Name, Size: 10, On: true}", map[string]any{"Name": "core", "Size": 10, "On": true}},
	} {
		got, err := ev.Eval(yamlValue(t, tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	_, ev := evaluator(t, nil)
	for _, tc := range []struct{ in, want string }{
		{"!Ref Nope", "Ref Nope: no such parameter (with a value) or resource"},
		{"!Ref Required", "Ref Required: no such parameter"}, // no default, no override
		{"!Ref [a]", "not a name"},
		{"!GetAtt Nope.Arn", "Fn::GetAtt Nope.Arn: no such resource"},
		{"!GetAtt [a, b, c]", "want [resource, attribute]"},
		{`!Sub "${Nope}"`, "Ref Nope: no such"},
		{`!Sub "${Nope.Arn}"`, "GetAtt Nope.Arn: no such resource"},
		{`!Sub "${Names}"`, "is not a string"},
		{`!Sub [!Ref Name, {}]`, "must be a literal"},
		{`!Sub ["${X}", {X: !Ref Names}]`, "Fn::Sub variable X"},
		{"!Select [3, !Ref Names]", "index 3 is out of range for a list of 3"},
		{"!Select [x, !Ref Names]", "Fn::Select: index x"},
		{"!Select [0, !Ref Name]", "not a list"},
		{`!Split [!Ref Name, "a,b"]`, "the delimiter"},
		{`!Split [",", !Ref Names]`, "Fn::Split of"},
		{`!Join [",", !Ref Name]`, "Fn::Join of core: not a list"},
		{`!Join [",", [a, [b]]]`, "element [b] is not a string"},
		{"!If [Nope, a, b]", "condition Nope: no such condition"},
		{"!If [IsCore, a]", "want [condition, then, else]"},
		{"!Equals [a]", "want [value, value]"},
		{"!Not [a]", "Fn::Not of a: not a condition"},
		{"!Contains [!Ref Name, core]", "Fn::Contains of core: not a list"},
		{"!Contains [[a]]", "want [list, value]"},
		{"!Condition Nope", "condition Nope: no such condition"},
		{"!FindInMap [M, a, b]", "Fn::FindInMap: not supported"},
		{"[ok, !Ref Nope]", "Ref Nope"},
		{"{a: {b: !Ref Nope}}", "Ref Nope"},
	} {
		got, err := ev.Eval(yamlValue(t, tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %#v, %v; want an error with %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCondition(t *testing.T) {
	_, ev := evaluator(t, nil)
	if on, err := ev.Condition("IsCore"); err != nil || !on {
		t.Errorf("IsCore with the defaults: %v, %v; want true", on, err)
	}
	_, ev = evaluator(t, map[string]string{"Name": "auth"})
	if on, err := ev.Condition("IsCore"); err != nil || on {
		t.Errorf("IsCore with Name auth: %v, %v; want false", on, err)
	}
	if on, err := ev.Condition("NotCore"); err != nil || !on {
		t.Errorf("NotCore with Name auth: %v, %v; want true", on, err)
	}
	if _, err := ev.Condition("Nope"); err == nil {
		t.Error("no error for a missing condition")
	}
	tpl, err := Decode([]byte("Conditions:\n  Bad: !Ref Name\nParameters:\n  Name: {Type: String, Default: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ev, err = NewEvaluator(tpl, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Condition("Bad"); err == nil || !strings.Contains(err.Error(), "condition Bad: x is not true or false") {
		t.Errorf("a condition that is not a boolean: %v", err)
	}
}

func TestParam(t *testing.T) {
	_, ev := evaluator(t, map[string]string{"Names": "x,y"})
	if got := ev.Param("Name"); got != "core" {
		t.Errorf("Name %#v, want core", got)
	}
	if got := ev.Param("Names"); !reflect.DeepEqual(got, []any{"x", "y"}) {
		t.Errorf("Names %#v, want [x y] from the override", got)
	}
	if got := ev.Param("Required"); got != nil {
		t.Errorf("Required %#v, want nil: it has no default and no override", got)
	}
}

func TestNewEvaluatorUnsupportedTypes(t *testing.T) {
	for _, typ := range []string{"AWS::SSM::Parameter::Value<String>", "Strin"} {
		tpl := map[string]any{"Parameters": map[string]any{"P": map[string]any{"Type": typ, "Default": "x"}}}
		if _, err := NewEvaluator(tpl, nil); err == nil || !strings.Contains(err.Error(), "parameter P: type") {
			t.Errorf("type %s: error %v, want parameter P: type ...", typ, err)
		}
	}
}

func TestSubVariables(t *testing.T) {
	got := SubVariables("${A}-${!B}-${C.Arn}${A}")
	if want := []string{"A", "C.Arn", "A"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SubVariables = %q, want %q", got, want)
	}
}

func TestAsString(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
		ok   bool
	}{
		{"x", "x", true}, {10, "10", true}, {1.5, "1.5", true}, {true, "true", true},
		{nil, "", false}, {[]any{"x"}, "", false}, {map[string]any{}, "", false},
	} {
		if got, ok := AsString(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("AsString(%#v) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEvalWithResources(t *testing.T) {
	tpl, err := Decode([]byte(template))
	if err != nil {
		t.Fatal(err)
	}
	const (
		url = "https://sqs.eu-west-1.amazonaws.com/123456789012/pipegate-Other-1A2B3C4D5E6F"
		arn = "arn:aws:sqs:eu-west-1:123456789012:pipegate-Other-1A2B3C4D5E6F"
	)
	ev, err := NewEvaluator(tpl, nil, WithResources(map[string]Resource{
		"Other": {Ref: url, Attrs: map[string]string{"Arn": arn}},
		"Table": {}, // created, but the caller gives none of its values
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"!Ref Other", url},
		{"!GetAtt Other.Arn", arn},
		{`!Sub "${Other.Arn}/x"`, arn + "/x"},
		{`!Sub "q=${Other}"`, "q=" + url},
		// Parameters and pseudo parameters are unchanged.
		{"!Ref Name", "core"},
		{"!Ref AWS::Region", Region},
	} {
		got, err := ev.Eval(yamlValue(t, tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	// What the caller did not give is an error, not a token passed on as a value.
	for _, tc := range []struct{ in, want string }{
		{"!Ref Table", "Ref Table: no physical value given"},
		{"!GetAtt Table.Arn", "Fn::GetAtt Table.Arn: no physical value given"},
		{"!GetAtt Other.QueueName", "Fn::GetAtt Other.QueueName: no physical value given"},
		{`!Sub "${Table}"`, "Ref Table: no physical value given"},
		{"!Ref Nope", "Ref Nope: no such parameter (with a value) or resource"},
		{"!GetAtt Nope.Arn", "Fn::GetAtt Nope.Arn: no such resource"},
	} {
		got, err := ev.Eval(yamlValue(t, tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %#v, %v; want an error with %q", tc.in, got, err, tc.want)
		}
	}
}
