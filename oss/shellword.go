package oss

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// shellWord returns s as one word of a shell's command line, by the rules
// of ossd's own (cmd/ossd/shellword.go): as it is if every byte of it is
// one a shell takes literally (and it does not start with = or ~), in
// single quotes if it is UTF-8 and every rune of it shows as itself
// (hidden), and otherwise in $'...' with each byte of a hidden rune's
// UTF-8, and each byte that is not UTF-8, escaped as \xHH. A remedy
// printed as a command ("ossd acl grant --to NAME --heap *") must do
// what it says when pasted: a bare * is expanded to the file names of
// the current directory, a heap name with a space splits in two, and an
// escape sequence printed raw acts on the terminal.
func shellWord(s string) string {
	if s != "" && !strings.ContainsAny(s[:1], "=~") && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@+=%") == "" {
		return s
	}
	if utf8.ValidString(s) && !strings.ContainsFunc(s, hidden) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == utf8.RuneError && size == 1, hidden(r):
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('\'')
	return b.String()
}

// shellCommand returns the command line verb name, name a shell word;
// a name that starts with - comes after "--", which ends ossd's flags,
// or the command would take it for a flag (a heap named "-x").
func shellCommand(verb, name string) string {
	if strings.HasPrefix(name, "-") {
		return verb + " -- " + shellWord(name)
	}
	return verb + " " + shellWord(name)
}

// hidden reports a rune that printed raw does not show as itself: a
// control or bidirectional formatting character, which a terminal acts
// on, or another one strconv.IsPrint rejects (a zero-width space,
// U+200B, made "prod\u200b" read as "prod").
func hidden(r rune) bool {
	return !strconv.IsPrint(r)
}

// nameSaid returns a name as a line of text shows it: as it is, or, if
// it holds a hidden rune or a byte that is not UTF-8, or starts with a
// quote or $', as shellWord's word for it (ossd's nameSaid does the
// same).
func nameSaid(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, hidden) ||
		strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "'") || strings.HasPrefix(s, "$'") {
		return shellWord(s)
	}
	return s
}
