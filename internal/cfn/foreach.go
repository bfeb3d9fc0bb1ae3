package cfn

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// forEachPrefix starts the key of a loop: Fn::ForEach::<LoopName>.
const forEachPrefix = "Fn::ForEach::"

// languageExtensions is the transform CloudFormation expands Fn::ForEach with.
const languageExtensions = "AWS::LanguageExtensions"

// forEachSections are the template sections a loop may be in (the
// CloudFormation Template Reference, Fn::ForEach).
var forEachSections = []string{"Conditions", "Resources", "Outputs"}

var nonAlphanumeric = regexp.MustCompile(`[^0-9A-Za-z]+`)

// expand returns tpl with every Fn::ForEach loop replaced by its fragments, one
// per item of its collection, as the AWS::LanguageExtensions transform does
// before CloudFormation reads the template. tpl itself is not changed; without
// loops it is returned as it is.
//
// In a fragment, an identifier is replaced where the transform replaces it (as
// cfn-lint models it too): in keys, ${Id} by the item and &{Id} by the item
// without its non-alphanumeric characters (so that it can be a logical ID); a
// Ref to the identifier by the item; ${Id} (and &{Id}) in the string of an
// Fn::Sub, which is then the plain string when no variable is left. A plain
// string is left as it is.
func (e *Evaluator) expand(tpl map[string]any) (map[string]any, error) {
	if !hasLoop(tpl) {
		return tpl, nil
	}
	out := maps.Clone(tpl)
	for _, section := range slices.Sorted(maps.Keys(tpl)) {
		m, ok := tpl[section].(map[string]any)
		if !ok {
			continue
		}
		if !slices.Contains(forEachSections, section) {
			for k := range m {
				if strings.HasPrefix(k, forEachPrefix) {
					return nil, fmt.Errorf("%s: not allowed in %s", k, section)
				}
			}
			continue
		}
		v, err := e.walk(m, nil)
		if err != nil {
			return nil, err
		}
		out[section] = v
	}
	return out, nil
}

// hasLoop reports whether v has a loop anywhere.
func hasLoop(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.HasPrefix(k, forEachPrefix) || hasLoop(x) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(v, hasLoop)
	}
	return false
}

// walk substitutes the identifiers of the loops v is inside (ids: identifier →
// item) and expands the loops in v.
func (e *Evaluator) walk(v any, ids map[string]string) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := e.walk(x, ids)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			if arg, ok := v["Ref"]; ok {
				return e.walkRef(arg, ids)
			}
			if arg, ok := v["Fn::Sub"]; ok {
				return e.walkSub(arg, ids)
			}
		}
		out := map[string]any{}
		var loops []string
		for k, x := range v {
			if strings.HasPrefix(k, forEachPrefix) {
				loops = append(loops, k)
				continue
			}
			y, err := e.walk(x, ids)
			if err != nil {
				return nil, err
			}
			out[substituteKey(k, ids)] = y
		}
		// Loops after the plain keys, so that a loop making a key the
		// mapping has already is an error whatever the order.
		slices.Sort(loops)
		for _, k := range loops {
			if err := e.loop(k, v[k], ids, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// loop expands one Fn::ForEach into out.
func (e *Evaluator) loop(key string, arg any, ids map[string]string, out map[string]any) error {
	if !e.languageExtensions {
		return fmt.Errorf("%s needs the %s transform", key, languageExtensions)
	}
	list, ok := arg.([]any)
	if !ok || len(list) != 3 {
		return fmt.Errorf("%s: want [identifier, collection, fragment], got %v", key, arg)
	}
	id, ok := list[0].(string)
	if !ok || id == "" {
		return fmt.Errorf("%s: the identifier %v is not a name", key, list[0])
	}
	fragment, ok := list[2].(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the fragment %v is not a mapping", key, list[2])
	}
	items, err := e.collection(key, list[1], ids)
	if err != nil {
		return err
	}
	for _, item := range items {
		inner := maps.Clone(ids)
		if inner == nil {
			inner = map[string]string{}
		}
		inner[id] = item
		made, err := e.walk(fragment, inner)
		if err != nil {
			return err
		}
		for k, x := range made.(map[string]any) {
			if _, dup := out[k]; dup {
				return fmt.Errorf("%s: %s is made twice", key, k)
			}
			out[k] = x
		}
	}
	return nil
}

// collection evaluates a loop's collection: a list (of strings, or of Refs to
// String parameters), or a Ref to a list parameter.
func (e *Evaluator) collection(key string, c any, ids map[string]string) ([]string, error) {
	c, err := e.walk(c, ids)
	if err != nil {
		return nil, err
	}
	var list []any
	switch c := c.(type) {
	case []any:
		list = c
	case map[string]any:
		if _, ok := c["Ref"]; !ok || len(c) != 1 {
			return nil, fmt.Errorf("%s: the collection must be a list or a Ref to a list parameter, got %v", key, c)
		}
		v, err := e.Eval(c)
		if err != nil {
			return nil, fmt.Errorf("%s: collection: %w", key, err)
		}
		var ok bool
		if list, ok = v.([]any); !ok {
			return nil, fmt.Errorf("%s: the collection %v is not a list", key, v)
		}
	default:
		return nil, fmt.Errorf("%s: the collection must be a list or a Ref to a list parameter, got %v", key, c)
	}
	items := make([]string, 0, len(list))
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && len(m) == 1 && m["Ref"] != nil {
			v, err := e.Eval(m)
			if err != nil {
				return nil, fmt.Errorf("%s: collection: %w", key, err)
			}
			x = v
		}
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s: collection item %v is not a string", key, x)
		}
		items = append(items, s)
	}
	return items, nil
}

// walkRef replaces a Ref to an identifier by the item; a Ref whose argument is
// a function (an Fn::Sub naming a generated logical ID) is walked first.
func (e *Evaluator) walkRef(arg any, ids map[string]string) (any, error) {
	arg, err := e.walk(arg, ids)
	if err != nil {
		return nil, err
	}
	if s, ok := arg.(string); ok {
		if item, ok := ids[s]; ok {
			return item, nil
		}
	}
	return map[string]any{"Ref": arg}, nil
}

func (e *Evaluator) walkSub(arg any, ids map[string]string) (any, error) {
	switch a := arg.(type) {
	case string:
		s := substituteSub(a, ids)
		if len(ids) > 0 && len(SubVariables(s)) == 0 {
			return unescape(s), nil
		}
		return map[string]any{"Fn::Sub": s}, nil
	case []any:
		if len(a) == 2 {
			str, ok := a[0].(string)
			if !ok {
				break
			}
			vars, err := e.walk(a[1], ids)
			if err != nil {
				return nil, err
			}
			return map[string]any{"Fn::Sub": []any{substituteSub(str, ids), vars}}, nil
		}
	}
	v, err := e.walk(arg, ids)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Fn::Sub": v}, nil
}

// unescape turns the ${!Literal} escapes of a Sub string that is no longer one
// into what Fn::Sub would have made of them.
func unescape(s string) string {
	return subVariable.ReplaceAllStringFunc(s, func(m string) string {
		return "${" + m[3:]
	})
}

func substituteKey(k string, ids map[string]string) string {
	for id, item := range ids {
		k = strings.ReplaceAll(k, "${"+id+"}", item)
		k = strings.ReplaceAll(k, "&{"+id+"}", nonAlphanumeric.ReplaceAllString(item, ""))
	}
	return k
}

func substituteSub(s string, ids map[string]string) string {
	return substituteKey(s, ids)
}
