// Package cfn reads CloudFormation templates written in YAML and evaluates the
// few intrinsic functions pipegate's templates use (Ref, Fn::GetAtt, Fn::Sub,
// Fn::Select, Fn::Split, Fn::Join, Fn::If, Fn::Equals, Fn::Not, Condition, and
// Fn::Contains of the Rules section) for
// one set of parameter values, the way CloudFormation would, after expanding the
// Fn::ForEach loops of the AWS::LanguageExtensions transform for those values.
//
// Neither goformation nor a plain yaml.v3 decode is enough for this: goformation
// resolves a !Ref to a resource or a !GetAtt to nil, and yaml.v3 keeps the short
// tags (!Ref X) on the nodes, where a decode into any drops them.
package cfn

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode reads a YAML template into maps, slices and scalars, with every
// short-form intrinsic (!Ref X, !GetAtt A.B, !Sub ...) in its long form
// ({"Ref": X}, {"Fn::GetAtt": [A, B]}, {"Fn::Sub": ...}).
func Decode(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	v, err := DecodeNode(&doc)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("parse template: the document is not a mapping")
	}
	return m, nil
}

// DecodeNode turns one node of a template, read as a yaml.Node to keep its
// lines, into the values Decode makes. A nil node is nil.
func DecodeNode(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return DecodeNode(n.Content[0])
	case yaml.AliasNode:
		return DecodeNode(n.Alias)
	}
	intrinsic := IsIntrinsic(n)
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
			x, err := DecodeNode(c)
			if err != nil {
				return nil, err
			}
			list = append(list, x)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			x, err := DecodeNode(n.Content[i+1])
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

// IsIntrinsic reports whether n carries a CloudFormation short tag (!Ref, !Sub,
// ...), as opposed to none or a YAML one (!!str).
func IsIntrinsic(n *yaml.Node) bool {
	return strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
}

// Lookup walks decoded mappings: Lookup(t, "Resources", "Table", "Properties").
// It is nil where a key is missing or a value is not a mapping.
func Lookup(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// AsString reads a value a function or property takes as a string: a string,
// or a number or boolean as CloudFormation passes them (10 is "10").
func AsString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(v), true
	}
	return "", false
}
