package params

// samconfig.toml is read and written here without a TOML library (none is in
// go.mod, and one table's few keys do not justify one): enough of TOML to find
// the keys of one table, read string and array-of-string values, and replace one
// value in place, leaving every other byte of the file as it was.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// DeployTable is the table of samconfig.toml that `sam deploy` reads by default
// (environment default, command deploy); GlobalTable the one every command
// reads (a command's own table wins).
const (
	DeployTable = "default.deploy.parameters"
	GlobalTable = "default.global.parameters"
)

// overridesKey is the key of DeployTable that holds the template's parameter
// values, as `sam deploy --parameter-overrides` takes them.
const overridesKey = "parameter_overrides"

// Samconfig is what pipegate reads of a samconfig.toml: the keys of DeployTable
// and of GlobalTable.
type Samconfig struct {
	Table  int              // DeployTable's header line; 0 when the file has no such table
	Keys   map[string]Entry // DeployTable's keys
	Global map[string]Entry // GlobalTable's keys
	// Overrides is parameter_overrides read as SAM CLI reads it: parameter →
	// value, in the order written.
	Overrides map[string]string
	Order     []string
	data      []byte
}

// Entry is one key of the table.
type Entry struct {
	Line   int      // the key's line
	Values []string // the strings its value holds (one for a string, each of an array)
	Raw    string   // the value as written (true, for a boolean)
	start  int      // byte offsets of the value
	end    int
}

// Deploy is a key as sam deploy reads it: from DeployTable, else GlobalTable.
func (s Samconfig) Deploy(key string) (Entry, bool) {
	if e, ok := s.Keys[key]; ok {
		return e, true
	}
	e, ok := s.Global[key]
	return e, ok
}

// ParameterOverrides gives parameter_overrides' values and its line; ok is
// false when the table has none.
func (s Samconfig) ParameterOverrides() (map[string]string, int, bool) {
	e, ok := s.Keys[overridesKey]
	return s.Overrides, e.Line, ok
}

// ReadSamconfig reads the file.
func ReadSamconfig(data []byte) (Samconfig, error) {
	s := Samconfig{Keys: map[string]Entry{}, Global: map[string]Entry{}, Overrides: map[string]string{}, data: data}
	p := &scanner{data: data}
	table := ""
	for !p.eof() {
		p.skipSpace()
		switch c := p.peek(); {
		case c == '\n':
			p.pos++
		case c == '#':
			p.skipLine()
		case c == '[':
			line := p.line()
			name, err := p.header()
			if err != nil {
				return Samconfig{}, err
			}
			table = name
			if table == DeployTable {
				s.Table = line
			}
		default:
			line := p.line()
			key, err := p.key()
			if err != nil {
				return Samconfig{}, err
			}
			strict := table == DeployTable
			e, err := p.value(strict && key == overridesKey)
			if err != nil {
				return Samconfig{}, err
			}
			e.Line = line
			switch table {
			case DeployTable:
				s.Keys[key] = e
			case GlobalTable:
				s.Global[key] = e
			}
			p.skipSpace()
			if p.peek() == '#' {
				p.skipLine()
			}
		}
	}
	if e, ok := s.Keys[overridesKey]; ok {
		if err := s.readOverrides(e); err != nil {
			return Samconfig{}, err
		}
	}
	return s, nil
}

func (s *Samconfig) readOverrides(e Entry) error {
	for _, v := range e.Values {
		toks, err := tokens(v)
		if err != nil {
			return fmt.Errorf("samconfig.toml line %d: %s: %w", e.Line, overridesKey, err)
		}
		for _, t := range toks {
			k, val, err := pair(t)
			if err != nil {
				return fmt.Errorf("samconfig.toml line %d: %s: %w", e.Line, overridesKey, err)
			}
			if _, seen := s.Overrides[k]; !seen {
				s.Order = append(s.Order, k)
			}
			s.Overrides[k] = val
		}
	}
	return nil
}

var overrideKey = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// pair reads one override: Key=Value, or CloudFormation's
// ParameterKey=Key,ParameterValue=Value.
func pair(t string) (string, string, error) {
	if rest, ok := strings.CutPrefix(t, "ParameterKey="); ok {
		k, v, ok := strings.Cut(rest, ",ParameterValue=")
		if !ok || !overrideKey.MatchString(k) {
			return "", "", fmt.Errorf("%q is not ParameterKey=Key,ParameterValue=Value", t)
		}
		return k, unquote(v), nil
	}
	k, v, ok := strings.Cut(t, "=")
	if !ok || !overrideKey.MatchString(k) {
		return "", "", fmt.Errorf("%q is not Key=Value", t)
	}
	return k, unquote(v), nil
}

// tokens splits an overrides string at spaces outside quotes, as SAM CLI does.
func tokens(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
		case quote != 0:
			cur.WriteByte(c)
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
			cur.WriteByte(c)
		case c == ' ' || c == '\t' || c == '\n':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// unquote removes the quotes around a value, as SAM CLI does.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		inner := v[1 : len(v)-1]
		return strings.ReplaceAll(inner, `\`+string(v[0]), string(v[0]))
	}
	return v
}

// quoteValue writes a value so that SAM CLI reads it back as it is.
func quoteValue(v string) string {
	if !strings.ContainsAny(v, " \t\"'") {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
}

// tomlString writes s as a TOML basic string.
func tomlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// WriteSamconfig sets the computed parameters in DeployTable's
// parameter_overrides and returns the file: the overrides a team set itself stay,
// in their order; the computed ones replace theirs where they were, or follow.
// The value is written as one string. Every other byte stays; a file without the
// key or the table gets them.
func WriteSamconfig(data []byte, v Values) ([]byte, error) {
	s, err := ReadSamconfig(data)
	if err != nil {
		return nil, err
	}
	values := v.Map()
	order := slices.Clone(s.Order)
	for _, n := range Names {
		if !slices.Contains(order, n) {
			order = append(order, n)
		}
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		val, ours := values[k]
		if !ours {
			val = s.Overrides[k]
		}
		parts = append(parts, k+"="+quoteValue(val))
	}
	value := tomlString(strings.Join(parts, " "))

	var out []byte
	switch e, ok := s.Keys[overridesKey]; {
	case ok:
		out = slices.Concat(data[:e.start], []byte(value), data[e.end:])
	case s.Table > 0:
		// After the line the table's last value ends on, or its header.
		at := lineEnd(data, s.Table)
		for _, k := range s.Keys {
			if end := lineEndAt(data, k.end); end > at {
				at = end
			}
		}
		out = slices.Concat(data[:at], []byte(overridesKey+" = "+value+"\n"), data[at:])
	default:
		sep := ""
		if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
			sep = "\n"
		}
		out = slices.Concat(data, []byte(sep+"\n["+DeployTable+"]\n"+overridesKey+" = "+value+"\n"))
	}
	return out, nil
}

// lineEnd is the offset just past the newline that ends line n (1-based).
func lineEnd(data []byte, n int) int {
	pos := 0
	for i := 1; i <= n && pos <= len(data); i++ {
		j := strings.IndexByte(string(data[pos:]), '\n')
		if j < 0 {
			return len(data)
		}
		pos += j + 1
	}
	return pos
}

// lineEndAt is the offset just past the newline of the line holding offset.
func lineEndAt(data []byte, offset int) int {
	j := strings.IndexByte(string(data[offset:]), '\n')
	if j < 0 {
		return len(data)
	}
	return offset + j + 1
}

// scanner walks the file.
type scanner struct {
	data []byte
	pos  int
}

func (p *scanner) eof() bool { return p.pos >= len(p.data) }

func (p *scanner) peek() byte {
	if p.eof() {
		return 0
	}
	return p.data[p.pos]
}

func (p *scanner) line() int { return strings.Count(string(p.data[:p.pos]), "\n") + 1 }

func (p *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("samconfig.toml line %d: "+format, append([]any{p.line()}, args...)...)
}

func (p *scanner) skipSpace() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == '\r') {
		p.pos++
	}
}

func (p *scanner) skipLine() {
	for !p.eof() && p.peek() != '\n' {
		p.pos++
	}
}

// header reads [a.b.c] (not [[...]], arrays of tables, which SAM does not use).
func (p *scanner) header() (string, error) {
	p.pos++ // [
	var parts []string
	for {
		p.skipSpace()
		var part string
		switch p.peek() {
		case '"', '\'':
			s, err := p.str(true)
			if err != nil {
				return "", err
			}
			part = s
		default:
			start := p.pos
			for !p.eof() && strings.IndexByte(" \t.]\n", p.peek()) < 0 {
				p.pos++
			}
			part = string(p.data[start:p.pos])
		}
		parts = append(parts, part)
		p.skipSpace()
		switch p.peek() {
		case '.':
			p.pos++
		case ']':
			p.pos++
			p.skipSpace()
			if p.peek() == '#' {
				p.skipLine()
			}
			return strings.Join(parts, "."), nil
		default:
			return "", p.errorf("a table header that is not [name.name]")
		}
	}
}

// key reads a key and its =.
func (p *scanner) key() (string, error) {
	var k string
	if c := p.peek(); c == '"' || c == '\'' {
		s, err := p.str(true)
		if err != nil {
			return "", err
		}
		k = s
	} else {
		start := p.pos
		for !p.eof() && strings.IndexByte(" \t=\n", p.peek()) < 0 {
			p.pos++
		}
		k = string(p.data[start:p.pos])
	}
	p.skipSpace()
	if p.peek() != '=' || k == "" {
		return "", p.errorf("want key = value")
	}
	p.pos++
	p.skipSpace()
	return k, nil
}

// value reads a value; strict: it must be a string or an array of strings.
func (p *scanner) value(strict bool) (Entry, error) {
	e := Entry{start: p.pos}
	switch c := p.peek(); {
	case c == '"' || c == '\'':
		s, err := p.str(!strict)
		if err != nil {
			return Entry{}, err
		}
		e.Values = []string{s}
	case c == '[':
		vals, err := p.array(strict)
		if err != nil {
			return Entry{}, err
		}
		e.Values = vals
	default:
		if strict {
			return Entry{}, p.errorf("%s: want a string or an array of strings", overridesKey)
		}
		p.scalar()
	}
	e.end = p.pos
	e.Raw = strings.TrimSpace(string(p.data[e.start:e.end]))
	return e, nil
}

// scalar skips a number, boolean, date or inline table.
func (p *scanner) scalar() {
	depth := 0
	for !p.eof() {
		switch c := p.peek(); {
		case c == '"' || c == '\'':
			_, _ = p.str(true)
			continue
		case c == '{':
			depth++
		case c == '}':
			depth--
		case depth == 0 && (c == ',' || c == ']' || c == '#' || c == '\n'):
			return
		}
		p.pos++
	}
}

func (p *scanner) array(strict bool) ([]string, error) {
	start := p.line()
	p.pos++ // [
	var out []string
	for {
		for !p.eof() && strings.IndexByte(" \t\r\n,", p.peek()) >= 0 {
			p.pos++
		}
		switch c := p.peek(); {
		case p.eof():
			return nil, fmt.Errorf("samconfig.toml line %d: unterminated array", start)
		case c == '#':
			p.skipLine()
		case c == ']':
			p.pos++
			return out, nil
		case c == '"' || c == '\'':
			s, err := p.str(!strict)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case c == '[':
			inner, err := p.array(strict)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
		default:
			if strict {
				return nil, p.errorf("%s: want an array of strings", overridesKey)
			}
			p.scalar()
		}
	}
}

var errMultiline = errors.New("multi-line strings are not read here: write it as one string or an array of strings")

// str reads a basic or literal string; multiline: a multi-line string is
// skipped (and read as its raw text) rather than refused.
func (p *scanner) str(multiline bool) (string, error) {
	q := p.peek()
	line := p.line()
	if strings.HasPrefix(string(p.data[p.pos:]), strings.Repeat(string(q), 3)) {
		if !multiline {
			return "", fmt.Errorf("samconfig.toml line %d: %w", line, errMultiline)
		}
		end := strings.Index(string(p.data[p.pos+3:]), strings.Repeat(string(q), 3))
		if end < 0 {
			return "", fmt.Errorf("samconfig.toml line %d: unterminated string", line)
		}
		s := string(p.data[p.pos+3 : p.pos+3+end])
		p.pos += 3 + end + 3
		return s, nil
	}
	p.pos++
	var b strings.Builder
	for {
		if p.eof() || p.peek() == '\n' {
			return "", fmt.Errorf("samconfig.toml line %d: unterminated string", line)
		}
		c := p.peek()
		p.pos++
		switch {
		case c == q:
			return b.String(), nil
		case c == '\\' && q == '"':
			if p.eof() {
				return "", fmt.Errorf("samconfig.toml line %d: unterminated string", line)
			}
			e := p.peek()
			p.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default: // \" \\ and the rest as written
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
}
