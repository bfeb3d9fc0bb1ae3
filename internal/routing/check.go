package routing

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file turns what is wrong with a routing file into words its author
// understands: the line, the block (defaults, or the service: "services[2]
// (core)"), and what to write instead. The fields and their kinds come from the
// structs the file decodes into (file, rawService, rawProduction): a field is
// declared once, in its yaml tag.

// block is one mapping of the file as the errors name it, and the lines of the
// items of its lists, for the errors about a glob.
type block struct {
	label string
	line  int
	items map[string][]int // list field → the line of each item
}

// layout is where the file's blocks are: the checker's finding for merge.
type layout struct {
	defaults block
	services []block
}

// noMergeRequestChoices are no_merge_request's values.
var noMergeRequestChoices = []string{"wait", "reject"}

// perService are the fields defaults may not set, and why.
var perService = map[string]string{
	"name":         "each service has its own name",
	"project":      "each service names its own project",
	"pipeline":     "each service names its own pipeline",
	"paths":        "paths are per service: they tell the services of a monorepo apart",
	"environments": "each service deploys to its own GitLab environments",
}

var (
	fileType     = reflect.TypeOf(file{})
	noMRType     = reflect.TypeOf(noMergeRequest(""))
	userType     = reflect.TypeOf(username(""))
	groupType    = reflect.TypeOf(groupPath(""))
	yamlLineMark = regexp.MustCompile(`^yaml: line (\d+): `)
)

// syntaxError words an error of the YAML parser. A tab in the indentation
// (which YAML forbids, and reports as a character that cannot start a token or a
// tab that violates indentation, often a line early) is called a tab, on its
// own line; anything else keeps the parser's words and line.
func syntaxError(data []byte, err error) error {
	msg := err.Error()
	m := yamlLineMark.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("routing file: %s", oneLine(msg))
	}
	reported, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	if strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token") {
		// The reported line first, then the ones after it, then the ones before.
		order := make([]int, 0, len(lines))
		for i := reported - 1; i < len(lines); i++ {
			order = append(order, i)
		}
		for i := 0; i < reported-1 && i < len(lines); i++ {
			order = append(order, i)
		}
		for _, i := range order {
			if i < 0 {
				continue
			}
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
			if strings.Contains(indent, "\t") {
				return fmt.Errorf("routing file: line %d: a tab; YAML indents with spaces", i+1)
			}
		}
	}
	if strings.Contains(msg, "found unexpected end of stream") && reported >= 1 && reported <= len(lines) {
		if l := lines[reported-1]; strings.Count(l, `"`)%2 == 1 || strings.Count(l, "'")%2 == 1 {
			return fmt.Errorf("routing file: line %d: a quote that is never closed", reported)
		}
	}
	if strings.Contains(msg, "cannot start any token") && reported >= 1 && reported <= len(lines) {
		// YAML reserves @ and ` to start a plain value.
		if c := reservedStart.FindStringSubmatch(lines[reported-1]); c != nil {
			return fmt.Errorf("routing file: line %d: a value starting with %s must be quoted: %q", reported, c[1][:1], c[1])
		}
	}
	return fmt.Errorf("routing file: %s", oneLine(msg))
}

var reservedStart = regexp.MustCompile(`(?:^|[:\-,\[{]\s+|[\[{])([@` + "`" + `][^\s,\]}]*)`)

// oneLine joins a multi-line message into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkFile checks the document's root against the file's structs: every field
// known at its level, of its kind, set once; defaults without per-service fields;
// a services list with at least one service. It returns where the blocks are.
func checkFile(root *yaml.Node) (layout, error) {
	var l layout
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		return l, fmt.Errorf("line %d: the routing file must be a mapping with defaults and services, not %s", root.Line, describe(root))
	}
	var servicesSeen bool
	err := eachField(root, fileType, "", nil, func(key, value *yaml.Node, f reflect.StructField) error {
		switch key.Value {
		case "defaults":
			l.defaults = block{label: "defaults", line: key.Line}
			return checkBlock(value, f.Type, &l.defaults, fileType)
		case "services":
			servicesSeen = true
			value = resolve(value)
			if isNull(value) || value.Kind == yaml.SequenceNode && len(value.Content) == 0 {
				return fmt.Errorf("line %d: no services: the services list is empty; each service needs name, project and pipeline", key.Line)
			}
			if value.Kind != yaml.SequenceNode {
				return fmt.Errorf("line %d: services must be a list of services (\"- name: ...\"), not %s", value.Line, describe(value))
			}
			for i, item := range value.Content {
				b := block{label: serviceLabel(i, item), line: item.Line}
				if err := checkBlock(item, f.Type.Elem(), &b, fileType); err != nil {
					return err
				}
				l.services = append(l.services, b)
			}
		}
		return nil
	})
	if err != nil {
		return l, err
	}
	if !servicesSeen {
		return l, fmt.Errorf("no services: the file has no services list; each service needs name, project and pipeline")
	}
	return l, nil
}

// serviceLabel names the i-th service (0-based, as a YAML path counts) by its
// name when it has one: "services[2] (core)".
func serviceLabel(i int, item *yaml.Node) string {
	label := fmt.Sprintf("services[%d]", i)
	item = resolve(item)
	if item.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(item.Content); j += 2 {
			if v := resolve(item.Content[j+1]); item.Content[j].Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				return label + " (" + v.Value + ")"
			}
		}
	}
	return label
}

// checkBlock checks a mapping that decodes into struct t (or a pointer to one);
// outer is the struct of the enclosing level, for fields put one level off.
func checkBlock(n *yaml.Node, t reflect.Type, b *block, outer reflect.Type) error {
	n = resolve(n)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return nil // an empty block sets nothing
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s must be a mapping of its fields (%s), not %s", n.Line, b.label, strings.Join(fieldNames(t), ", "), describe(n))
	}
	return eachField(n, t, b.label, outer, func(key, value *yaml.Node, f reflect.StructField) error {
		name := key.Value
		if why, ok := perService[name]; ok && b.label == "defaults" {
			return fmt.Errorf("line %d: defaults may not set %s: %s", key.Line, name, why)
		}
		value = resolve(value)
		in := name + " in " + b.label
		switch ft := f.Type; {
		case ft == noMRType:
			if value.Kind != yaml.ScalarNode || !slices.Contains(noMergeRequestChoices, value.Value) {
				return fmt.Errorf("line %d: %s must be %s, not %s", value.Line, in, strings.Join(noMergeRequestChoices, " or "), describe(value))
			}
		case ft.Kind() == reflect.String:
			if value.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s must be one name, not %s", value.Line, in, describe(value))
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			if isNull(value) {
				return nil
			}
			if value.Kind != yaml.SequenceNode {
				return fmt.Errorf("line %d: %s must be a list, as in [%s], not %s", value.Line, in, quoteYAML(value.Value), describe(value))
			}
			for _, item := range value.Content {
				if item = resolve(item); item.Kind != yaml.ScalarNode || isNull(item) {
					return fmt.Errorf("line %d: %s: each item must be %s, not %s", item.Line, in, itemWord(ft.Elem()), describe(item))
				}
				if why := itemProblem(ft.Elem(), item.Value); why != "" {
					return fmt.Errorf("line %d: %s: %q %s", item.Line, in, item.Value, why)
				}
				if b.items == nil {
					b.items = map[string][]int{}
				}
				b.items[name] = append(b.items[name], item.Line)
			}
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Int:
			if value.Kind != yaml.ScalarNode || value.Tag != "!!int" {
				return fmt.Errorf("line %d: %s must be a whole number, not %s", value.Line, in, describe(value))
			}
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Bool:
			if value.Kind != yaml.ScalarNode || value.Tag != "!!bool" {
				return fmt.Errorf("line %d: %s must be true or false, not %s", value.Line, in, describe(value))
			}
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			sub := block{label: b.label + "." + name, line: key.Line}
			return checkBlock(value, ft, &sub, t)
		}
		return nil
	})
}

// itemWord names what one item of a list of t is.
func itemWord(t reflect.Type) string {
	switch t {
	case userType:
		return "a GitLab username"
	case groupType:
		return "a GitLab group's full path"
	}
	return "a glob"
}

var (
	// GitLab's username rule: letters, digits, _ . and -, not starting with a
	// special character nor ending in . or -.
	usernameRule = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	// One segment of a group's path follows GitLab's path rule, the same letters.
	groupSegmentRule = usernameRule
)

// itemProblem says why value is no item of a list of t, or "" when it is one
// (globs are checked by merge, which knows the defaults).
func itemProblem(t reflect.Type, value string) string {
	switch t {
	case userType:
		if u, ok := strings.CutPrefix(value, "@"); ok {
			return fmt.Sprintf("is written with @: write the username alone, %s", u)
		}
		if !usernameRule.MatchString(value) || strings.HasSuffix(value, ".") || strings.HasSuffix(value, "-") {
			if strings.Contains(value, "/") {
				return "is not a username (a group's path goes in groups)"
			}
			return "is not a GitLab username (letters, digits, _ . and -)"
		}
	case groupType:
		if strings.HasPrefix(value, "@") {
			return "is written with @: write the group's full path alone, as in platform/leads"
		}
		if strings.Contains(value, "://") {
			return "is a URL: write the group's full path, as in platform/leads"
		}
		for _, seg := range strings.Split(value, "/") {
			if !groupSegmentRule.MatchString(seg) || strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, "-") {
				return "is not a GitLab group's full path (segments of letters, digits, _ . and - joined by /, as in platform/leads)"
			}
		}
	}
	return ""
}

// eachField calls check with every key of mapping n, after checking that t has
// it and that it is set once. label names the block ("" is the top level).
func eachField(n *yaml.Node, t reflect.Type, label string, outer reflect.Type, check func(key, value *yaml.Node, f reflect.StructField) error) error {
	seen := map[string]int{}
	var pairs func(m *yaml.Node, merged bool) error
	pairs = func(m *yaml.Node, merged bool) error {
		for i := 0; i+1 < len(m.Content); i += 2 {
			key, value := m.Content[i], m.Content[i+1]
			if key.Value == "<<" && key.Tag == "!!merge" {
				// A YAML merge key: its mappings' fields are this block's, and the
				// block's own keys override them.
				for _, src := range mergeSources(value) {
					if err := pairs(src, true); err != nil {
						return err
					}
				}
				continue
			}
			f, ok := fieldOf(t, key.Value)
			if !ok {
				return unknownField(key, t, label, outer)
			}
			if prev, ok := seen[key.Value]; ok && !merged {
				return fmt.Errorf("line %d: %s is set twice %s (first at line %d)", key.Line, key.Value, where(label), prev)
			}
			if !merged {
				seen[key.Value] = key.Line
			}
			if err := check(key, value, f); err != nil {
				return err
			}
		}
		return nil
	}
	return pairs(n, false)
}

func mergeSources(n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.SequenceNode {
		var out []*yaml.Node
		for _, item := range n.Content {
			if item = resolve(item); item.Kind == yaml.MappingNode {
				out = append(out, item)
			}
		}
		return out
	}
	if n.Kind == yaml.MappingNode {
		return []*yaml.Node{n}
	}
	return nil
}

// unknownField says that key is no field of t, and what was meant: a field of
// the block one level out or in, else the nearest known name, else them all.
func unknownField(key *yaml.Node, t reflect.Type, label string, outer reflect.Type) error {
	name, known := key.Value, fieldNames(t)
	msg := fmt.Sprintf("line %d: field %s not found %s", key.Line, name, where(label))
	var inner []string
	for _, f := range structFields(t) {
		if sub := blockType(f.Type); sub != nil && slices.Contains(fieldNames(sub), name) {
			inner = append(inner, yamlName(f))
		}
	}
	switch {
	case len(inner) > 0:
		return fmt.Errorf("%s; it belongs in %s", msg, strings.Join(inner, " or in "))
	case outer != nil && slices.Contains(fieldNames(outer), name) && outer != fileType:
		return fmt.Errorf("%s; it belongs one level up, in %s", msg, label[:strings.LastIndexByte(label, '.')])
	}
	if s := suggest(name, known); s != "" {
		return fmt.Errorf("%s; did you mean %s?", msg, s)
	}
	return fmt.Errorf("%s; the fields there are %s", msg, strings.Join(known, ", "))
}

func where(label string) string {
	if label == "" {
		return "at the top level"
	}
	return "in " + label
}

// suggest is the known name that name is a slip for, or "": one edit away (a
// swap of two letters is one), else one containing the other, else two edits
// away for a name of five letters or more. Case and underscores do not count.
func suggest(name string, known []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	n := norm(name)
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := editDistance(n, norm(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= 1 {
		return best
	}
	for _, k := range known {
		if kn := norm(k); len(n) >= 4 && (strings.Contains(kn, n) || strings.Contains(n, kn)) {
			return k
		}
	}
	if bestD <= 2 && len(n) >= 5 {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b, with a swap of two
// neighbours counting as one edit (the optimal string alignment distance).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// globProblem says why doublestar refuses glob, following
// doublestar.ValidatePattern's rules: "" when it does not.
func globProblem(glob string) string {
	var opened []int // positions of the "{" not closed yet
	for i := 0; i < len(glob); i++ {
		switch glob[i] {
		case '\\':
			if i++; i >= len(glob) {
				return "it ends in a backslash, which escapes nothing"
			}
		case '[':
			start := i
			if i++; i < len(glob) && (glob[i] == '^' || glob[i] == '!') {
				i++
			}
			if i < len(glob) && glob[i] == ']' {
				return fmt.Sprintf("the character class at character %d is empty (write \\[ for a literal [)", start+1)
			}
			for ; i < len(glob) && glob[i] != ']'; i++ {
				if glob[i] == '\\' {
					i++
				}
			}
			if i >= len(glob) {
				return fmt.Sprintf("the [ at character %d opens a character class that is never closed (write \\[ for a literal [)", start+1)
			}
		case '{':
			opened = append(opened, i)
		case '}':
			if len(opened) == 0 {
				return fmt.Sprintf("the } at character %d closes no { (write \\} for a literal })", i+1)
			}
			opened = opened[:len(opened)-1]
		}
	}
	if len(opened) > 0 {
		return fmt.Sprintf("the { at character %d opens a list of alternatives ({a,b}) that is never closed", opened[0]+1)
	}
	return ""
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe words what a node is, for "must be X, not ...".
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case isNull(n):
		return "empty"
	}
	return strconv.Quote(n.Value)
}

// quoteYAML writes s as a list item in a YAML flow list.
func quoteYAML(s string) string {
	if s == "" {
		return `"main"`
	}
	return strconv.Quote(s)
}

func structFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		if yamlName(t.Field(i)) != "" {
			out = append(out, t.Field(i))
		}
	}
	return out
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for _, f := range structFields(t) {
		names = append(names, yamlName(f))
	}
	return names
}

func fieldOf(t reflect.Type, name string) (reflect.StructField, bool) {
	for _, f := range structFields(t) {
		if yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// blockType is the struct a field holds, itself or as a pointer or list of it.
func blockType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return t
	}
	return nil
}
