package validate

// A template is read as a yaml.Node: the nodes give the line numbers a problem
// names, and package cfn decodes the few values a check compares or evaluates
// into the long form ({"Ref": X}, {"Fn::Split": [...]}) and evaluates them.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/cfn"
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
	if n == nil || n.Kind != yaml.ScalarNode || cfn.IsIntrinsic(n) {
		return ""
	}
	return n.Value
}

// line is n's line, or 0 for no node.
func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// show renders a node for a message, close to how the template writes it.
func show(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	var b strings.Builder
	if cfn.IsIntrinsic(n) {
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

// newEvaluator evaluates the template at root with its parameters' defaults,
// replaced by overrides.
func newEvaluator(root *yaml.Node, overrides map[string]string) (*cfn.Evaluator, error) {
	v, err := cfn.DecodeNode(root)
	if err != nil {
		return nil, err
	}
	tpl, _ := v.(map[string]any)
	return cfn.NewEvaluator(tpl, overrides)
}

// evalNode evaluates a node of the template.
func evalNode(ev *cfn.Evaluator, n *yaml.Node) (any, error) {
	v, err := cfn.DecodeNode(n)
	if err != nil {
		return nil, err
	}
	return ev.Eval(v)
}

// evalString evaluates a node that must come out as one string (a number is
// one, as CloudFormation passes it).
func evalString(ev *cfn.Evaluator, n *yaml.Node) (string, error) {
	v, err := evalNode(ev, n)
	if err != nil {
		return "", err
	}
	s, ok := cfn.AsString(v)
	if !ok {
		return "", fmt.Errorf("%v is not a string", v)
	}
	return s, nil
}

// lineOr is the line of the first node given.
func lineOr(nodes ...*yaml.Node) int {
	for _, n := range nodes {
		if n != nil {
			return n.Line
		}
	}
	return 0
}

// listHas reports whether a node is s or a list holding s.
func listHas(n *yaml.Node, s string) bool {
	if n == nil {
		return false
	}
	if n.Kind == yaml.ScalarNode {
		return literal(n) == s
	}
	return slices.ContainsFunc(n.Content, func(c *yaml.Node) bool { return literal(c) == s })
}
