package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, tc := range []struct {
		name  string
		bytes bool // TruncateBytes, else Truncate
		s     string
		n     int
		want  string
	}{
		{"short", false, "Build running", MaxDescription, "Build running"},
		{"at the limit", false, strings.Repeat("x", MaxDescription), MaxDescription, strings.Repeat("x", MaxDescription)},
		{"characters, not bytes", false, strings.Repeat("é", MaxDescription), MaxDescription, strings.Repeat("é", MaxDescription)},
		{"over: the ellipsis is the last character", false, long, MaxDescription, strings.Repeat("é", MaxDescription-1) + "…"},
		{"one over", false, "abcd", 3, "ab…"},
		{"room for the ellipsis only", false, "abcd", 1, "…"},
		{"no room", false, "abcd", 0, ""},
		{"empty", false, "", 0, ""},

		{"bytes: short", true, "Approved", MaxApprovalSummary, "Approved"},
		{"bytes: at the limit", true, strings.Repeat("é", 6), 12, strings.Repeat("é", 6)},
		// "…" is 3 bytes: 10-3 = 7 bytes of room hold three é (6 bytes), not four.
		{"bytes: never inside a character", true, strings.Repeat("é", 6), 10, "ééé…"},
		{"bytes: ascii", true, "abcdefgh", 6, "abc…"},
		{"bytes: room for the ellipsis only", true, "abcdefgh", 3, "…"},
		{"bytes: less than the ellipsis", true, "abcdefgh", 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, size := Truncate, utf8.RuneCountInString
			if tc.bytes {
				f, size = TruncateBytes, func(s string) int { return len(s) }
			}
			got := f(tc.s, tc.n)
			if got != tc.want {
				t.Errorf("cut %q to %d: %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if size(got) > tc.n || !utf8.ValidString(got) {
				t.Errorf("%q: size %d (valid UTF-8: %v), limit %d", got, size(got), utf8.ValidString(got), tc.n)
			}
		})
	}
}
