package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, tc := range []struct {
		name, s string
		n       int
		want    string
	}{
		{"short", "Build running", MaxDescription, "Build running"},
		{"at the limit", strings.Repeat("x", MaxDescription), MaxDescription, strings.Repeat("x", MaxDescription)},
		{"characters, not bytes", strings.Repeat("é", MaxDescription), MaxDescription, strings.Repeat("é", MaxDescription)},
		{"over: the ellipsis is the last character", long, MaxDescription, strings.Repeat("é", MaxDescription-1) + "…"},
		{"one over", "abcd", 3, "ab…"},
		{"room for the ellipsis only", "abcd", 1, "…"},
		{"no room", "abcd", 0, ""},
		{"empty", "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.s, tc.n)
			if got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if utf8.RuneCountInString(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("%q: %d characters (valid UTF-8: %v), limit %d", got, utf8.RuneCountInString(got), utf8.ValidString(got), tc.n)
			}
		})
	}
}

func TestTruncateBytes(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		n       int
		want    string
	}{
		{"short", "Approved", MaxApprovalSummary, "Approved"},
		{"at the limit", strings.Repeat("é", 6), 12, strings.Repeat("é", 6)},
		// "…" is 3 bytes: 10-3 = 7 bytes of room hold three é (6 bytes), not four.
		{"never inside a character", strings.Repeat("é", 6), 10, "ééé…"},
		{"ascii", "abcdefgh", 6, "abc…"},
		{"room for the ellipsis only", "abcdefgh", 3, "…"},
		{"less than the ellipsis", "abcdefgh", 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TruncateBytes(tc.s, tc.n)
			if got != tc.want {
				t.Errorf("TruncateBytes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if len(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("%q: %d bytes (valid UTF-8: %v), limit %d", got, len(got), utf8.ValidString(got), tc.n)
			}
		})
	}
}
