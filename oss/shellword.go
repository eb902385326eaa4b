package oss

import (
	"fmt"
	"strings"
	"unicode"
)

// shellWord returns s as one word of a shell's command line, by the rules
// of ossd's own (cmd/ossd/shellword.go): as it is if every byte of it is
// one a shell takes literally (and it does not start with = or ~), in
// single quotes if it holds no control or bidirectional formatting
// character, and otherwise in $'...' with each byte of such a
// character's UTF-8 escaped as \xHH. A remedy printed as a command
// ("ossd acl grant --to NAME --heap *") must do what it says when
// pasted: a bare * is expanded to the file names of the current
// directory, a heap name with a space splits in two, and an escape
// sequence printed raw acts on the terminal.
func shellWord(s string) string {
	if s != "" && !strings.ContainsAny(s[:1], "=~") && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@+=%") == "" {
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
		case unprintable(r):
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		default:
			b.WriteRune(r)
		}
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

// unprintable reports a rune a terminal may act on rather than show: a
// control character (C0, DEL, C1) or a bidirectional formatting one.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
