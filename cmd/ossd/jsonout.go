package main

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonShown returns text, JSON as encoding/json writes it, with each rune
// that does not show as itself (hidden) but a newline written as a
// \uXXXX escape (a pair of them beyond U+FFFF). encoding/json escapes C0
// controls, U+2028, U+2029, <, > and &, but writes C1 controls,
// bidirectional formatting characters (U+202E) and zero-width ones raw:
// a value, heap or root name printed by "ossd get", "heaps --json",
// "status --json" or "hot --json" could act on the terminal or show the
// rest of its line reversed. Outside strings encoding/json writes only
// ASCII punctuation, digits, letters, spaces and the indentation's
// newlines, so every such rune is in a string, where its escape decodes
// to the same rune: nothing is lost. Bytes that are not UTF-8 (a raw
// JSON value's) are kept as they are.
func jsonShown(text []byte) []byte {
	if !bytes.ContainsFunc(text, func(r rune) bool { return r != '\n' && hidden(r) }) {
		return text
	}
	out := make([]byte, 0, len(text)+64)
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\n', !hidden(r):
			out = append(out, text[i:i+size]...)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}
