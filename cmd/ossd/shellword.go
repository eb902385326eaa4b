package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// shellWord returns s as one word of a shell's command line, for a
// remedy the CLI prints as a command ("ossd put HEAP ROOT JSON"): as it
// is if every byte of it is one a shell takes literally (and it does not
// start with = or ~, which zsh and every shell expand), in single quotes
// if it is UTF-8 and every rune of it shows as itself (hidden), and
// otherwise in $'...' (bash, zsh, ksh; not dash) with each byte of a
// hidden rune's UTF-8, and each byte that is not UTF-8, escaped as \xHH,
// exact whatever the locale (\u escapes depend on it, and \x of a code
// point above 0x7f names one byte, not the character). A root name may
// be any UTF-8, an escape sequence or a newline too: printed as it was,
// it moved the terminal's cursor or colours, and a heap name with a
// space split the command in two when pasted. A name that starts with -
// needs the command's "--" too (suggest).
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

// hidden reports a rune that printed raw does not show as itself: one a
// terminal acts on (a control character, C0, DEL or C1, or a
// bidirectional formatting one such as U+202E, which shows the rest of
// a line reversed), or one strconv.IsPrint rejects otherwise: a
// zero-width one (U+200B, U+2060, U+FEFF), which made "prod\u200b" list
// as "prod", a space other than U+0020, a line or paragraph separator.
func hidden(r rune) bool {
	return !strconv.IsPrint(r)
}

// nameSaid returns a heap's (or a grant's) name as a list or a status
// line prints it: as it is, or, if it holds a hidden rune or a byte that
// is not UTF-8, as the shell word shellWord makes of it ($'...', each
// such rune's bytes escaped \xHH), which pasted into a command names the
// heap exactly. No new heap may have a name with a control or a
// bidirectional formatting character, but one made before still opens
// and is listed, and printed raw it could move the terminal's cursor or
// show the rest of its line reversed; it was printed quoted by
// strconv.Quote ("old\u202eevil"), which pasted named the literal text,
// and a heap of that printable name listed alike. A name that starts
// with a quote (" or ') or with $' is quoted too (shellWord), so that
// no name lists as another's escaped form.
func nameSaid(s string) string {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, hidden) ||
		strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "'") || strings.HasPrefix(s, "$'") {
		return shellWord(s)
	}
	return s
}
