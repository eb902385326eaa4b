package admin

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/objectsharing/oss/internal/codec"
)

// The rules a JSON value written through the admin interface must follow,
// so that everything written reads back as it was sent (docs/design.md,
// "Admin interface security"):
//
//   - UTF-8 everywhere: in strings and object keys, and no escaped lone
//     surrogate (\ud800), which encoding/json would silently replace;
//   - arrays and objects nested at most MaxDepth deep, with at most
//     MaxElements elements each: what the heap's decoder reads back;
//   - an object names each key once;
//   - an integer (no fraction, no exponent) fits an int64, or a uint64 if
//     it is positive, exactly: it is stored as that integer;
//   - any other number is a float64, rounded to the nearest as JSON
//     numbers are everywhere, and must be finite: 1e400 is refused (a
//     number below the smallest float64 rounds to 0);
//   - nothing but white space after the value.
const (
	// MaxDepth is the deepest nesting of arrays and objects a written value
	// may have: the heap's decoder (internal/codec) reads no deeper.
	MaxDepth = codec.MaxNestedLevels
	// MaxElements is the most elements one array or object of a written
	// value may have: the heap's decoder reads no more.
	MaxElements = codec.MaxElements
)

// ValueError reports a JSON value the admin interface refuses to write,
// and where in its text the problem is.
type ValueError struct {
	Offset int // in bytes, from the start of the value's text
	Reason string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("at byte %d: %s", e.Offset, e.Reason)
}

// ParseValue parses one JSON value under the rules above and returns it
// as the heap stores it: nil, bool, string, int64, uint64, float64,
// []any and map[string]any. Any departure from the rules is a
// *ValueError.
func ParseValue(text []byte) (any, error) {
	return parseJSON(text, 0)
}

// parseJSON parses text as one JSON value whose values inside nest at
// most MaxDepth deep, from a depth of outer: a transaction (txDepth)
// holds its values that deep.
func parseJSON(text []byte, outer int) (any, error) {
	p := &parser{b: text, maxDepth: MaxDepth + outer}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, p.fail("data after the value: send one JSON value")
	}
	return v, nil
}

type parser struct {
	b        []byte
	i        int
	maxDepth int
}

func (p *parser) fail(format string, args ...any) error {
	return &ValueError{Offset: p.i, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end of the value")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	case p.literal("null"):
		return nil, nil
	default:
		return nil, p.fail("invalid character %q looking for a value (NaN and Infinity are not JSON)", c)
	}
}

func (p *parser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *parser) enter(depth int) error {
	if depth > p.maxDepth {
		return p.fail("a value of arrays and objects nested deeper than %d", MaxDepth)
	}
	p.i++ // the opening bracket
	p.space()
	return nil
}

func (p *parser) object(depth int) (any, error) {
	if err := p.enter(depth); err != nil {
		return nil, err
	}
	m := map[string]any{}
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("want an object key (a string)")
		}
		at := p.i
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, &ValueError{Offset: at, Reason: fmt.Sprintf("key %q appears twice in an object", k)}
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("want ':' after an object key")
		}
		p.i++
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if len(m) == MaxElements {
			return nil, p.fail("an object of more than %d keys", MaxElements)
		}
		m[k] = v
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ',' {
			p.i++
			p.space()
			continue
		}
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		return nil, p.fail("want ',' or '}' in an object")
	}
}

func (p *parser) array(depth int) (any, error) {
	if err := p.enter(depth); err != nil {
		return nil, err
	}
	a := []any{}
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		if len(a) == MaxElements {
			return nil, p.fail("an array of more than %d elements", MaxElements)
		}
		a = append(a, v)
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ',' {
			p.i++
			p.space()
			continue
		}
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return a, nil
		}
		return nil, p.fail("want ',' or ']' in an array")
	}
}

// string parses a string at p.i, which is its opening quote.
func (p *parser) string() (string, error) {
	p.i++
	start := p.i
	// The common case: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if err := p.char(); err != nil {
			return "", err
		}
	}
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			buf = utf8.AppendRune(buf, r)
		default:
			at := p.i
			if err := p.char(); err != nil {
				return "", err
			}
			buf = append(buf, p.b[at:p.i]...)
		}
	}
	return "", p.fail("unterminated string")
}

// char steps over one unescaped character of a string.
func (p *parser) char() error {
	c := p.b[p.i]
	if c < 0x20 {
		return p.fail("control character %#02x in a string: escape it", c)
	}
	if c < utf8.RuneSelf {
		p.i++
		return nil
	}
	r, n := utf8.DecodeRune(p.b[p.i:])
	if r == utf8.RuneError && n <= 1 {
		return p.fail("a string that is not UTF-8")
	}
	p.i += n
	return nil
}

// escape parses the escape sequence at p.i.
func (p *parser) escape() (rune, error) {
	if p.i+1 >= len(p.b) {
		return 0, p.fail("unterminated escape")
	}
	c := p.b[p.i+1]
	p.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r >= 0xdc00 || p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
			return 0, p.fail("an escaped lone surrogate %U is not a character", r)
		}
		p.i += 2
		r2, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
			return d, nil
		}
		return 0, p.fail("an escaped lone surrogate %U is not a character", r)
	}
	p.i--
	return 0, p.fail("invalid escape \\%c", c)
}

func (p *parser) hex4() (rune, error) {
	if len(p.b)-p.i < 4 {
		return 0, p.fail("short \\u escape")
	}
	n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 16)
	if err != nil {
		return 0, p.fail("invalid \\u escape %q", p.b[p.i:p.i+4])
	}
	p.i += 4
	return rune(n), nil
}

// number parses a number at p.i.
func (p *parser) number() (any, error) {
	start := p.i
	integer := true
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		integer = false
		p.i++
		if p.digits() == 0 {
			return nil, p.fail("want a digit after the decimal point")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, p.fail("want a digit in the exponent")
		}
	}
	s := string(p.b[start:p.i])
	if integer {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		return nil, &ValueError{Offset: start, Reason: fmt.Sprintf("integer %s does not fit in 64 bits (int64, or uint64 if positive): store it as a string", s)}
	}
	f, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) {
		return nil, &ValueError{Offset: start, Reason: fmt.Sprintf("number %s is beyond the range of a float64", s)}
	}
	if err != nil {
		return nil, &ValueError{Offset: start, Reason: fmt.Sprintf("number %s: %v", s, err)}
	}
	return f, nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
