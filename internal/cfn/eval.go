package cfn

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The pseudo parameters' values: the account and region an evaluation pretends
// to deploy to.
const (
	Partition = "aws"
	Region    = "eu-west-1"
	AccountID = "123456789012"
	URLSuffix = "amazonaws.com"
	StackName = "pipegate"
)

// Evaluator evaluates intrinsic functions in a decoded template for one set of
// parameter values. A reference to a resource evaluates to a token naming it,
// "{Ref:Table}" or "{GetAtt:Table.Arn}", so that a check can say which resource a
// value points at (and no literal name equals it); WithResources gives it the
// values of a created stack instead.
type Evaluator struct {
	params     map[string]any // String-like: string; list types: []any of string
	template   map[string]any // with its Fn::ForEach loops expanded
	resources  map[string]any
	conditions map[string]any // the Conditions section, evaluated when named
	physical   map[string]Resource
	// languageExtensions: the template names the transform that expands loops.
	languageExtensions bool
}

// Resource is what a created resource answers to Ref and Fn::GetAtt: for a queue
// its URL and {"Arn": ..., "QueueName": ...}, for a secret its ARN, for a table its
// name and {"Arn": ...}.
type Resource struct {
	Ref   string
	Attrs map[string]string
}

// Option changes how an Evaluator evaluates.
type Option func(*Evaluator)

// WithResources makes references to the resources evaluate to their physical
// values, as in a deployed stack, instead of tokens. Every resource referenced
// must then be in physical, with every attribute asked for: a value the caller
// did not provide is an error, never a token that would be passed on as if it
// were a name.
func WithResources(physical map[string]Resource) Option {
	return func(e *Evaluator) { e.physical = physical }
}

// NewEvaluator takes the parameters' defaults from tpl, replaced by overrides. A
// parameter with neither has no value, and referencing it is an error. The
// template's Fn::ForEach loops are expanded with those values (see Template).
func NewEvaluator(tpl map[string]any, overrides map[string]string, opts ...Option) (*Evaluator, error) {
	e := &Evaluator{params: map[string]any{}}
	for _, o := range opts {
		o(e)
	}
	switch t := Lookup(tpl, "Transform").(type) {
	case string:
		e.languageExtensions = t == languageExtensions
	case []any:
		e.languageExtensions = slices.Contains(t, any(languageExtensions))
	}
	params, _ := Lookup(tpl, "Parameters").(map[string]any)
	for name, p := range params {
		value, ok := overrides[name]
		if !ok {
			if value, ok = AsString(Lookup(p, "Default")); !ok {
				continue // no (scalar) default: an override is needed before it is referenced
			}
		}
		typ, _ := Lookup(p, "Type").(string)
		switch {
		case typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<"):
			var list []any
			for _, s := range strings.Split(value, ",") {
				list = append(list, strings.TrimSpace(s))
			}
			e.params[name] = list
		case strings.HasPrefix(typ, "AWS::SSM::"):
			// The value is the Systems Manager parameter's, which is not here.
			return nil, fmt.Errorf("parameter %s: type %s is read from Systems Manager and cannot be evaluated", name, typ)
		case typ == "String" || typ == "Number" || strings.HasPrefix(typ, "AWS::"):
			e.params[name] = value
		default:
			return nil, fmt.Errorf("parameter %s: type %q is not supported", name, typ)
		}
	}
	var err error
	if e.template, err = e.expand(tpl); err != nil {
		return nil, err
	}
	e.resources, _ = Lookup(e.template, "Resources").(map[string]any)
	e.conditions, _ = Lookup(e.template, "Conditions").(map[string]any)
	return e, nil
}

// Template is the template as CloudFormation processes it for these parameter
// values: with every Fn::ForEach loop expanded (the AWS::LanguageExtensions
// transform), and otherwise the one NewEvaluator was given. It shares values
// with that template; do not change it.
func (e *Evaluator) Template() map[string]any {
	return e.template
}

// Eval evaluates every intrinsic function in v, a decoded value. Scalars keep
// their types; AWS::NoValue drops a list element and is nil elsewhere.
func (e *Evaluator) Eval(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			y, err := e.Eval(x)
			if err != nil {
				return nil, err
			}
			if y != nil {
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
			y, err := e.Eval(x)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	}
	return v, nil
}

// Param is a parameter's value, as Ref gives it: a string, or for a list type a
// []any of strings; nil when the parameter has none.
func (e *Evaluator) Param(name string) any {
	return e.params[name]
}

// Condition evaluates a condition of the Conditions section by name.
func (e *Evaluator) Condition(name string) (bool, error) {
	def, ok := e.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s: no such condition", name)
	}
	v, err := e.Eval(def)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s: %v is not true or false", name, v)
	}
	return b, nil
}

func (e *Evaluator) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref %v: not a name", arg)
		}
		return e.ref(name)
	case "Fn::GetAtt":
		list, err := args("Fn::GetAtt", arg, 2, "[resource, attribute]")
		if err != nil {
			return nil, err
		}
		return e.getAtt(fmt.Sprint(list[0]), fmt.Sprint(list[1]))
	case "Fn::Sub":
		return e.sub(arg)
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Condition %v: not a name", arg)
		}
		return e.Condition(name)
	case "Fn::If":
		return e.ifFn(arg)
	case "Fn::Equals":
		list, err := args("Fn::Equals", arg, 2, "[value, value]")
		if err != nil {
			return nil, err
		}
		a, err := e.Eval(list[0])
		if err != nil {
			return nil, err
		}
		b, err := e.Eval(list[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not":
		list, err := args("Fn::Not", arg, 1, "[condition]")
		if err != nil {
			return nil, err
		}
		v, err := e.Eval(list[0])
		if err != nil {
			return nil, err
		}
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("Fn::Not of %v: not a condition", v)
		}
		return !b, nil
	case "Fn::Contains":
		// A function of the Rules section: whether the value is one of the list's.
		list, err := args("Fn::Contains", arg, 2, "[list, value]")
		if err != nil {
			return nil, err
		}
		l, err := e.Eval(list[0])
		if err != nil {
			return nil, err
		}
		items, ok := l.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Contains of %v: not a list", l)
		}
		v, err := e.Eval(list[1])
		if err != nil {
			return nil, err
		}
		return slices.ContainsFunc(items, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }), nil
	case "Fn::Select":
		return e.selectFn(arg)
	case "Fn::Split":
		delim, src, err := e.literalAndValue(fn, arg)
		if err != nil {
			return nil, err
		}
		s, ok := AsString(src)
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
			if parts[i], ok = AsString(x); !ok {
				return nil, fmt.Errorf("Fn::Join: element %v is not a string", x)
			}
		}
		return strings.Join(parts, delim), nil
	}
	return nil, fmt.Errorf("%s: not supported by this evaluator", fn)
}

func (e *Evaluator) ref(name string) (any, error) {
	switch name {
	case "AWS::Partition":
		return Partition, nil
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return AccountID, nil
	case "AWS::URLSuffix":
		return URLSuffix, nil
	case "AWS::StackName":
		return StackName, nil
	case "AWS::NoValue":
		return nil, nil
	}
	if v, ok := e.params[name]; ok {
		return v, nil
	}
	if _, ok := e.resources[name]; ok {
		if e.physical == nil {
			return "{Ref:" + name + "}", nil
		}
		if p, ok := e.physical[name]; ok && p.Ref != "" {
			return p.Ref, nil
		}
		return nil, fmt.Errorf("Ref %s: no physical value given for the resource", name)
	}
	return nil, fmt.Errorf("Ref %s: no such parameter (with a value) or resource", name)
}

func (e *Evaluator) getAtt(res, attr string) (any, error) {
	if _, ok := e.resources[res]; !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	if e.physical == nil {
		return "{GetAtt:" + res + "." + attr + "}", nil
	}
	if v, ok := e.physical[res].Attrs[attr]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s: no physical value given for the attribute", res, attr)
}

// ifFn evaluates only the branch the condition picks, as CloudFormation does.
func (e *Evaluator) ifFn(arg any) (any, error) {
	list, err := args("Fn::If", arg, 3, "[condition, then, else]")
	if err != nil {
		return nil, err
	}
	name, ok := list[0].(string)
	if !ok {
		return nil, fmt.Errorf("Fn::If: the condition %v must be a name", list[0])
	}
	cond, err := e.Condition(name)
	if err != nil {
		return nil, err
	}
	if cond {
		return e.Eval(list[1])
	}
	return e.Eval(list[2])
}

// literalAndValue reads the [delimiter, value] argument of Fn::Split and Fn::Join.
// CloudFormation takes no function in the delimiter, only a literal string.
func (e *Evaluator) literalAndValue(fn string, arg any) (string, any, error) {
	list, err := args(fn, arg, 2, "[delimiter, value]")
	if err != nil {
		return "", nil, err
	}
	delim, ok := list[0].(string)
	if !ok {
		return "", nil, fmt.Errorf("%s: the delimiter %v must be a literal string", fn, list[0])
	}
	v, err := e.Eval(list[1])
	return delim, v, err
}

func (e *Evaluator) selectFn(arg any) (any, error) {
	list, err := args("Fn::Select", arg, 2, "[index, list]")
	if err != nil {
		return nil, err
	}
	index, err := e.Eval(list[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(fmt.Sprint(index))
	if err != nil {
		return nil, fmt.Errorf("Fn::Select: index %v: %w", index, err)
	}
	src, err := e.Eval(list[1])
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
func (e *Evaluator) sub(arg any) (any, error) {
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
			y, err := e.Eval(x)
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub variable %s: %w", k, err)
			}
			str, ok := AsString(y)
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
		if strings.HasPrefix(name, "!") { // ${!Literal} is written as ${Literal}
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

// SubVariables lists the variables a Fn::Sub string names, in order, leaving out
// the ${!Literal} escapes.
func SubVariables(s string) []string {
	var names []string
	for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
		if !strings.HasPrefix(m[1], "!") {
			names = append(names, m[1])
		}
	}
	return names
}

// args reads the argument list of a function that takes n arguments; shape says
// which, for the error.
func args(fn string, arg any, n int, shape string) ([]any, error) {
	list, ok := arg.([]any)
	if !ok || len(list) != n {
		return nil, fmt.Errorf("%s %v: want %s", fn, arg, shape)
	}
	return list, nil
}
