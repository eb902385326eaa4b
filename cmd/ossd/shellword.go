package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// shellWord returns s as one word of a shell's command line, for a
// remedy the CLI prints as a command ("ossd put HEAP ROOT JSON"): as it
// is if every byte of it is one a shell takes literally (and it does not
// start with = or ~, which zsh and every shell expand), in single quotes
// if it holds no control character, and otherwise in $'...' (bash, zsh,
// ksh; not dash) with each byte of a control character's UTF-8 escaped
// as \xHH, exact whatever the locale (\u escapes depend on it, and \x of
// a code point above 0x7f names one byte, not the character). A root name
// may be any UTF-8, an escape sequence or a newline too: printed as it
// was, it moved the terminal's cursor or colours, and a heap name with a
// space split the command in two when pasted. A name that starts with -
// needs the command's "--" too (suggest).
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

// suggest returns the command line verb args... flags, each arg a shell
// word (shellWord); when an arg starts with - (a root named "-r"), the
// flags come first and "--" ends them, or the command would take the
// name for a flag.
func suggest(verb, flags string, args ...string) string {
	words := make([]string, len(args))
	dash := false
	for i, a := range args {
		words[i] = shellWord(a)
		dash = dash || strings.HasPrefix(a, "-")
	}
	switch {
	case dash:
		return strings.Join(slices.DeleteFunc([]string{verb, flags, "--", strings.Join(words, " ")}, func(w string) bool { return w == "" }), " ")
	case flags != "":
		return verb + " " + strings.Join(words, " ") + " " + flags
	default:
		return verb + " " + strings.Join(words, " ")
	}
}

// unprintable reports a rune a terminal may act on rather than show: a
// control character (C0, DEL, C1) or a bidirectional formatting one.
func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// nameSaid returns a heap's (or a grant's) name as a list or a status
// line prints it: as it is, or, if it holds a rune a terminal acts on
// (unprintable) or is not UTF-8, quoted with such runes escaped
// (strconv.Quote). No new heap may have such a name (oss refuses C1
// controls and bidirectional formatting characters), but one made
// before still opens and is listed, and printed raw it could move the
// terminal's cursor or show the rest of its line reversed.
func nameSaid(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unprintable) {
		return s
	}
	return strconv.Quote(s)
}
