package deploy

// goformation resolves a !Ref to a resource or a !GetAtt to nil and drops event
// properties it has no field for (FunctionResponseTypes), so the checks that need
// references read the template again with yaml.v3 and evaluate the few intrinsic
// functions the template uses, the way CloudFormation does.

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The account the evaluator pretends to deploy to.
const (
	partition = "aws"
	region    = "eu-west-1"
	account   = "123456789012"
)

// decodeTemplate reads a YAML template into maps and slices, with every short-form
// intrinsic (!Ref X, !GetAtt A.B, !Sub ...) turned into its long form
// ({"Ref": X}, {"Fn::GetAtt": [A, B]}, {"Fn::Sub": ...}).
func decodeTemplate(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	v, err := fromNode(&doc)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("parse template: the document is not a mapping")
	}
	return m, nil
}

func fromNode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	}
	intrinsic := strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
	var v any
	switch n.Kind {
	case yaml.ScalarNode:
		if intrinsic {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			x, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			x, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = x
		}
		v = m
	}
	if !intrinsic {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// lookup walks a decoded template: lookup(t, "Resources", "Table", "Properties").
func lookup(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// evaluator evaluates intrinsic functions for one set of parameter values. A
// reference to a resource evaluates to a token naming it: "{Ref:Table}",
// "{GetAtt:Table.Arn}", so that a check can say which resource a value points at.
type evaluator struct {
	params     map[string]any // String: string; CommaDelimitedList: []any of string
	resources  map[string]any
	conditions map[string]any // the Conditions section, evaluated when named
}

// newEvaluator takes the parameters' defaults, replaced by overrides.
func newEvaluator(tpl map[string]any, overrides map[string]string) (*evaluator, error) {
	e := &evaluator{params: map[string]any{}}
	e.resources, _ = lookup(tpl, "Resources").(map[string]any)
	e.conditions, _ = lookup(tpl, "Conditions").(map[string]any)
	params, _ := lookup(tpl, "Parameters").(map[string]any)
	for name, p := range params {
		typ, _ := lookup(p, "Type").(string)
		value, ok := overrides[name]
		if !ok {
			def := lookup(p, "Default")
			if def == nil {
				continue // no default: an override is needed before it is referenced
			}
			value = fmt.Sprint(def)
		}
		switch typ {
		case "String", "Number":
			e.params[name] = value
		case "CommaDelimitedList":
			var list []any
			for _, s := range strings.Split(value, ",") {
				list = append(list, strings.TrimSpace(s))
			}
			e.params[name] = list
		default:
			return nil, fmt.Errorf("parameter %s: type %q is not supported by this check", name, typ)
		}
	}
	return e, nil
}

func (e *evaluator) eval(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			y, err := e.eval(x)
			if err != nil {
				return nil, err
			}
			if y != nil { // AWS::NoValue drops the element
				out = append(out, y)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return e.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			y, err := e.eval(x)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	}
	return v, nil
}

func (e *evaluator) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref %v: not a name", arg)
		}
		return e.ref(name)
	case "Fn::GetAtt":
		list, ok := arg.([]any)
		if !ok || len(list) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v: want [resource, attribute]", arg)
		}
		return e.getAtt(fmt.Sprint(list[0]), fmt.Sprint(list[1]))
	case "Fn::Sub":
		return e.sub(arg)
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Condition %v: not a name", arg)
		}
		return e.condition(name)
	case "Fn::If":
		list, ok := arg.([]any)
		if !ok || len(list) != 3 {
			return nil, fmt.Errorf("Fn::If %v: want [condition, then, else]", arg)
		}
		name, ok := list[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::If: the condition %v must be a name", list[0])
		}
		cond, err := e.condition(name)
		if err != nil {
			return nil, err
		}
		if cond {
			return e.eval(list[1])
		}
		return e.eval(list[2])
	case "Fn::Equals":
		list, ok := arg.([]any)
		if !ok || len(list) != 2 {
			return nil, fmt.Errorf("Fn::Equals %v: want [value, value]", arg)
		}
		a, err := e.eval(list[0])
		if err != nil {
			return nil, err
		}
		b, err := e.eval(list[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not":
		list, ok := arg.([]any)
		if !ok || len(list) != 1 {
			return nil, fmt.Errorf("Fn::Not %v: want [condition]", arg)
		}
		v, err := e.eval(list[0])
		if err != nil {
			return nil, err
		}
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("Fn::Not of %v: not a condition", v)
		}
		return !b, nil
	case "Fn::Select":
		return e.selectFn(arg)
	case "Fn::Split":
		delim, src, err := e.literalAndValue(fn, arg)
		if err != nil {
			return nil, err
		}
		s, ok := src.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Split of %v: not a string", src)
		}
		var out []any
		for _, part := range strings.Split(s, delim) {
			out = append(out, part)
		}
		return out, nil
	case "Fn::Join":
		delim, src, err := e.literalAndValue(fn, arg)
		if err != nil {
			return nil, err
		}
		list, ok := src.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join of %v: not a list", src)
		}
		parts := make([]string, len(list))
		for i, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("Fn::Join: element %v is not a string", x)
			}
			parts[i] = s
		}
		return strings.Join(parts, delim), nil
	}
	return nil, fmt.Errorf("%s: not supported by this check", fn)
}

func (e *evaluator) ref(name string) (any, error) {
	switch name {
	case "AWS::Partition":
		return partition, nil
	case "AWS::Region":
		return region, nil
	case "AWS::AccountId":
		return account, nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return "pipegate", nil
	case "AWS::NoValue":
		return nil, nil
	}
	if v, ok := e.params[name]; ok {
		return v, nil
	}
	if _, ok := e.resources[name]; ok {
		return "{Ref:" + name + "}", nil
	}
	return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
}

// condition evaluates a condition of the Conditions section by name.
func (e *evaluator) condition(name string) (bool, error) {
	def, ok := e.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s: no such condition", name)
	}
	v, err := e.eval(def)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s: %v is not true or false", name, v)
	}
	return b, nil
}

func (e *evaluator) getAtt(res, attr string) (any, error) {
	if _, ok := e.resources[res]; !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	return "{GetAtt:" + res + "." + attr + "}", nil
}

// literalAndValue reads the [delimiter, value] argument of Fn::Split and Fn::Join.
// CloudFormation takes no function in the delimiter, only a literal string.
func (e *evaluator) literalAndValue(fn string, arg any) (string, any, error) {
	list, ok := arg.([]any)
	if !ok || len(list) != 2 {
		return "", nil, fmt.Errorf("%s %v: want [delimiter, value]", fn, arg)
	}
	delim, ok := list[0].(string)
	if !ok {
		return "", nil, fmt.Errorf("%s: the delimiter %v must be a literal string", fn, list[0])
	}
	v, err := e.eval(list[1])
	return delim, v, err
}

func (e *evaluator) selectFn(arg any) (any, error) {
	list, ok := arg.([]any)
	if !ok || len(list) != 2 {
		return nil, fmt.Errorf("Fn::Select %v: want [index, list]", arg)
	}
	index, err := e.eval(list[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(fmt.Sprint(index))
	if err != nil {
		return nil, fmt.Errorf("Fn::Select: index %v: %w", index, err)
	}
	src, err := e.eval(list[1])
	if err != nil {
		return nil, err
	}
	items, ok := src.([]any)
	if !ok {
		return nil, fmt.Errorf("Fn::Select from %v: not a list", src)
	}
	if i < 0 || i >= len(items) {
		return nil, fmt.Errorf("Fn::Select: index %d is out of range for a list of %d", i, len(items))
	}
	return items[i], nil
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub evaluates Fn::Sub. Its string must be a literal; the values of its variable
// map may be functions.
func (e *evaluator) sub(arg any) (any, error) {
	var (
		s    string
		vars = map[string]string{}
	)
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub %v: want [string, variables]", a)
		}
		var ok bool
		if s, ok = a[0].(string); !ok {
			return nil, fmt.Errorf("Fn::Sub: the string %v must be a literal", a[0])
		}
		m, ok := a[1].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub: variables %v are not a mapping", a[1])
		}
		for k, x := range m {
			y, err := e.eval(x)
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub variable %s: %w", k, err)
			}
			str, ok := y.(string)
			if !ok {
				return nil, fmt.Errorf("Fn::Sub variable %s: %v is not a string", k, y)
			}
			vars[k] = str
		}
	default:
		return nil, fmt.Errorf("Fn::Sub %v: want a string or [string, variables]", arg)
	}
	var firstErr error
	out := subVariable.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := vars[name]; ok {
			return v
		}
		var (
			v   any
			err error
		)
		if res, attr, ok := strings.Cut(name, "."); ok {
			v, err = e.getAtt(res, attr)
		} else {
			v, err = e.ref(name)
		}
		if err == nil {
			if str, ok := v.(string); ok {
				return str
			}
			err = fmt.Errorf("Fn::Sub ${%s}: %v is not a string", name, v)
		}
		if firstErr == nil {
			firstErr = err
		}
		return m
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
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
