package validate

// CloudFormation templates in YAML use short tags (!Ref, !Sub, !Split, ...) that
// yaml.v3 keeps on the node, so a template is read as a yaml.Node: the nodes give
// the line numbers a problem names, and decode turns the few values a check
// compares or evaluates into the long form ({"Ref": X}, {"Fn::Split": [...]}).
// Adapted from internal/deploy's test helpers (decodeTemplate, fromNode, evaluator),
// which are test-only.

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML reads a YAML document and returns its top-level mapping.
func parseYAML(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the document is not a mapping", root.Line)
	}
	return root, nil
}

// get returns the value of key in mapping n, and the key's node (whose line is
// where the entry starts); nil when n is not a mapping or has no such key.
func get(n *yaml.Node, key string) (value, keyNode *yaml.Node) {
	if n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v, n.Content[i]
		}
	}
	return nil, nil
}

// path walks nested mappings: path(root, "Resources", "Table", "Properties").
func path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n, _ = get(n, k)
	}
	return n
}

// entries lists the key/value pairs of a mapping in file order.
func entries(n *yaml.Node) (keys, values []*yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		keys, values = append(keys, n.Content[i]), append(values, v)
	}
	return keys, values
}

// literal is a plain scalar's value: "" for a missing node, a collection or an
// intrinsic function.
func literal(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || isIntrinsic(n) {
		return ""
	}
	return n.Value
}

func isIntrinsic(n *yaml.Node) bool {
	return strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
}

// line is n's line, or 0 for no node.
func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// decode turns a node into maps, slices and scalars, with every short-form
// intrinsic in its long form.
func decode(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return decode(n.Content[0])
	case yaml.AliasNode:
		return decode(n.Alias)
	}
	intrinsic := isIntrinsic(n)
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
			x, err := decode(c)
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			x, err := decode(n.Content[i+1])
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

// show renders a node for a message, close to how the template writes it.
func show(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	var b strings.Builder
	if isIntrinsic(n) {
		b.WriteString(n.Tag + " ")
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "" || strings.ContainsAny(n.Value, ",[]{}: ") {
			b.WriteString(strconv.Quote(n.Value))
		} else {
			b.WriteString(n.Value)
		}
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, c := range n.Content {
			parts[i] = show(c)
		}
		b.WriteString("[" + strings.Join(parts, ", ") + "]")
	case yaml.MappingNode:
		var parts []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			parts = append(parts, n.Content[i].Value+": "+show(n.Content[i+1]))
		}
		b.WriteString("{" + strings.Join(parts, ", ") + "}")
	case yaml.AliasNode:
		return show(n.Alias)
	}
	return b.String()
}

// evaluator evaluates the intrinsic functions a pipeline's names are written
// with, for one set of parameter values. A reference to a resource evaluates to
// a token naming it ("{Ref:Table}"), which no name equals.
type evaluator struct {
	params     map[string]any // String, Number: string; CommaDelimitedList: []any of string
	resources  *yaml.Node
	conditions *yaml.Node
}

// newEvaluator takes the parameters' defaults, replaced by overrides.
func newEvaluator(root *yaml.Node, overrides map[string]string) *evaluator {
	e := &evaluator{
		params:     map[string]any{},
		resources:  path(root, "Resources"),
		conditions: path(root, "Conditions"),
	}
	keys, params := entries(path(root, "Parameters"))
	for i, p := range params {
		name := keys[i].Value
		value, ok := overrides[name]
		if !ok {
			def, _ := get(p, "Default")
			if def == nil || def.Kind != yaml.ScalarNode {
				continue // no default: referencing it is an error
			}
			value = def.Value
		}
		if literal(path(p, "Type")) == "CommaDelimitedList" {
			var list []any
			for _, s := range strings.Split(value, ",") {
				list = append(list, strings.TrimSpace(s))
			}
			e.params[name] = list
			continue
		}
		e.params[name] = value
	}
	return e
}

// evalNode evaluates a node of the template.
func (e *evaluator) evalNode(n *yaml.Node) (any, error) {
	v, err := decode(n)
	if err != nil {
		return nil, err
	}
	return e.eval(v)
}

// evalString evaluates a node that must come out as one string.
func (e *evaluator) evalString(n *yaml.Node) (string, error) {
	v, err := e.evalNode(n)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", v)
	}
	return s, nil
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
	case nil:
		return nil, nil
	}
	return fmt.Sprint(v), nil // numbers and booleans are strings to CloudFormation
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
	return nil, fmt.Errorf("%s: not evaluated by pipegate validate", fn)
}

func (e *evaluator) ref(name string) (any, error) {
	switch name {
	case "AWS::Partition":
		return "aws", nil
	case "AWS::Region":
		return "eu-west-1", nil
	case "AWS::AccountId":
		return "123456789012", nil
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
	if r, _ := get(e.resources, name); r != nil {
		return "{Ref:" + name + "}", nil
	}
	return nil, fmt.Errorf("Ref %s: no such parameter (with a value) or resource", name)
}

func (e *evaluator) condition(name string) (bool, error) {
	def, _ := get(e.conditions, name)
	if def == nil {
		return false, fmt.Errorf("condition %s: no such condition", name)
	}
	v, err := e.evalNode(def)
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
	if r, _ := get(e.resources, res); r == nil {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	return "{GetAtt:" + res + "." + attr + "}", nil
}

// literalAndValue reads the [delimiter, value] argument of Fn::Split and Fn::Join.
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

// sub evaluates Fn::Sub: a literal string, and a variable map whose values may
// be functions.
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
