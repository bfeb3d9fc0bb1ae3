package badge_test

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/badge"
)

// node is any XML element, for walking a parsed badge.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// walk calls f for n and every element under it, in document order.
func (n node) walk(f func(node)) {
	f(n)
	for _, c := range n.Children {
		c.walk(f)
	}
}

// parsed is what a test reads off a badge.
type parsed struct {
	root   node
	title  string
	texts  []string // visible text, without the shadows
	fills  []string // fill of each part's box, left to right
	widths []int    // width of each part's box
}

func parse(t *testing.T, svg []byte) parsed {
	t.Helper()
	var p parsed
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = true
	if err := dec.Decode(&p.root); err != nil {
		t.Fatalf("badge is not XML: %v\n%s", err, svg)
	}
	if _, err := dec.Token(); err == nil {
		t.Fatalf("something after the root element:\n%s", svg)
	}
	if p.root.XMLName.Local != "svg" || p.root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root %v, want svg in the SVG namespace", p.root.XMLName)
	}
	p.root.walk(func(n node) {
		switch n.XMLName.Local {
		case "title":
			p.title = n.Text
		case "text":
			if n.attr("aria-hidden") != "true" {
				p.texts = append(p.texts, n.Text)
			}
		case "rect":
			if f := n.attr("fill"); n.attr("x") != "" && strings.HasPrefix(f, "#") {
				p.fills = append(p.fills, f)
				w, err := strconv.Atoi(n.attr("width"))
				if err != nil {
					t.Fatalf("rect width %q: %v", n.attr("width"), err)
				}
				p.widths = append(p.widths, w)
			}
		}
	})
	return p
}

const sha = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c"

func TestStates(t *testing.T) {
	tests := []struct {
		name    string
		results []badge.Result
		texts   []string
		fills   []string
		title   string
	}{
		{"nothing deployed", nil,
			[]string{"core", "no deploys yet"}, []string{"#555", "#9f9f9f"}, "core: no deploys yet"},
		{"both", []badge.Result{{"production", "failed", sha}, {"staging", "success", sha}},
			[]string{"core", "staging ✓", "production ✗"}, []string{"#555", "#4c1", "#e05d44"},
			"core: staging success (9c1e4b7d), production failed (9c1e4b7d)"},
		{"staging only", []badge.Result{{"staging", "canceled", "abc"}},
			[]string{"core", "staging canceled", "production –"}, []string{"#555", "#7d7d7d", "#9f9f9f"},
			"core: staging canceled (abc), production none"},
		{"production only, skipped", []badge.Result{{"production", "skipped", ""}},
			[]string{"core", "staging –", "production skipped"}, []string{"#555", "#9f9f9f", "#7d7d7d"},
			"core: staging none, production skipped"},
		{"a state this package does not know", []badge.Result{{"staging", "running", sha}, {"production", "success", sha}},
			[]string{"core", "staging running", "production ✓"}, []string{"#555", "#7d7d7d", "#4c1"},
			"core: staging running (9c1e4b7d), production success (9c1e4b7d)"},
		{"other environments are not shown", []badge.Result{{"qa", "success", sha}},
			[]string{"core", "no deploys yet"}, []string{"#555", "#9f9f9f"}, "core: no deploys yet"},
		{"the first result of an environment counts", []badge.Result{{"staging", "failed", sha}, {"staging", "success", sha}},
			[]string{"core", "staging ✗", "production –"}, []string{"#555", "#e05d44", "#9f9f9f"},
			"core: staging failed (9c1e4b7d), production none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := badge.SVG("core", tt.results)
			p := parse(t, svg)
			if !slices.Equal(p.texts, tt.texts) {
				t.Errorf("texts %q, want %q", p.texts, tt.texts)
			}
			if !slices.Equal(p.fills, tt.fills) {
				t.Errorf("fills %q, want %q", p.fills, tt.fills)
			}
			if p.title != tt.title || p.root.attr("aria-label") != tt.title {
				t.Errorf("title %q, aria-label %q, want %q", p.title, p.root.attr("aria-label"), tt.title)
			}
			sum := 0
			for _, w := range p.widths {
				sum += w
			}
			if got := p.root.attr("width"); got != strconv.Itoa(sum) {
				t.Errorf("width %s, but the parts add up to %d", got, sum)
			}
			if !bytes.Equal(svg, badge.SVG("core", tt.results)) {
				t.Error("two calls drew two different badges")
			}
		})
	}
}

// Text is escaped: a service name or state with markup in it stays text.
func TestEscaped(t *testing.T) {
	name := `<script>alert("x")</script> & 'co'`
	svg := badge.SVG(name, []badge.Result{{"staging", `fail"ed<`, `<sha>`}})
	if bytes.Contains(svg, []byte("<script>")) {
		t.Fatalf("markup not escaped:\n%s", svg)
	}
	p := parse(t, svg)
	if len(p.texts) != 3 || p.texts[0] != name || p.texts[1] != `staging fail"ed<` {
		t.Fatalf("texts %q", p.texts)
	}
	if want := name + `: staging fail"ed< (<sha>), production none`; p.title != want || p.root.attr("aria-label") != want {
		t.Fatalf("title %q, aria-label %q, want %q", p.title, p.root.attr("aria-label"), want)
	}
}

// Widths follow the text: longer text, wider part; the same text, the same width.
func TestWidths(t *testing.T) {
	short := parse(t, badge.SVG("core", nil))
	long := parse(t, badge.SVG("core-billing-reconciliation", nil))
	if long.widths[0] <= short.widths[0] {
		t.Errorf("label widths %d (long name) and %d (short): the longer is not wider", long.widths[0], short.widths[0])
	}
	if long.widths[1] != short.widths[1] {
		t.Errorf("message widths %d and %d for the same text", long.widths[1], short.widths[1])
	}
	wide := parse(t, badge.SVG("MMMM", nil))
	narrow := parse(t, badge.SVG("iiii", nil))
	if wide.widths[0] <= narrow.widths[0] {
		t.Errorf("MMMM is %d px, iiii %d px", wide.widths[0], narrow.widths[0])
	}
	for _, p := range []parsed{short, long, wide, narrow} {
		for _, w := range p.widths {
			if w <= 10 || w > 400 {
				t.Errorf("part width %d", w)
			}
		}
	}
}
