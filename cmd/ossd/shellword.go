package main

import (
	"fmt"
	"strings"
	"unicode"
)

// shellWord returns s as one word of a shell's command line, for a
// remedy the CLI prints as a command ("ossd put HEAP ROOT JSON"): as it
// is if every byte of it is one a shell takes literally, in single quotes
// if it holds no control character, and otherwise in $'...' with each
// control character escaped (bash, zsh, ksh and POSIX.1-2024 sh take
// that). A root name may be any UTF-8, an escape sequence or a newline
// too: printed as it was, it moved the terminal's cursor or colours, and
// a heap name with a space split the command in two when pasted.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@+=%") == "" {
		return s
	}
	if !strings.ContainsFunc(s, unprintable) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for _, r := range s {
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unprintable(r) && r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		case unprintable(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// unprintable reports a rune a terminal may act on rather than show: a
// control character (C0, DEL, C1) or a bidirectional formatting one.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
