// Package text holds the one rule by which pipegate shortens what it writes to
// GitLab and AWS, and the limits it shortens to.
package text

import "unicode/utf8"

// MaxDescription is GitLab's limit on a commit status description, in characters.
const MaxDescription = 255

// MaxApprovalSummary is PutApprovalResult's limit on ApprovalResult.summary (API
// reference: "Length Constraints: Minimum length of 0. Maximum length of 512").
const MaxApprovalSummary = 512

const ellipsis = "…"

// Truncate shortens s to at most n characters, ending in "…" when it cuts, so that
// a reader sees it was cut, and never inside a UTF-8 sequence: GitLab counts a
// description in characters and rejects invalid UTF-8.
func Truncate(s string, n int) string { return cut(s, n, false) }

// TruncateBytes is Truncate counting bytes: n bytes are at most n characters
// however a service counts them (code points or UTF-16 units), for a limit whose
// unit is not certain.
func TruncateBytes(s string, n int) string { return cut(s, n, true) }

// cut keeps the longest whole-character prefix of s that, with the ellipsis, is at
// most n long, in bytes or in characters.
func cut(s string, n int, bytes bool) string {
	size := func(w int) int { return 1 }
	if bytes {
		size = func(w int) int { return w }
	}
	total := 0
	for i := range s {
		total += size(width(s, i))
	}
	if total <= n {
		return s
	}
	room := n - size(len(ellipsis))
	if room < 0 {
		return ""
	}
	used := 0
	for i := range s {
		if used += size(width(s, i)); used > room {
			return s[:i] + ellipsis
		}
	}
	return s // not reached: total > n > room
}

// width is the bytes of the character at byte i of s (1 for an invalid byte).
func width(s string, i int) int {
	_, w := utf8.DecodeRuneInString(s[i:])
	return w
}
