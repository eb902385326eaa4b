package main

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/objectsharing/oss/oss/admin"
)

// rawPerBody bounds the bytes of stdin put reads for a value: at most
// rawPerBody times its --http-max-body, whatever the value's compacted
// size, so that a stream of whitespace ("yes ' '") ends too. jq's
// two-space indentation of a value nested ten deep is some 11 bytes a
// compacted one.
const rawPerBody = 16

// readChunk is how much of stdin readValue asks for at a time.
const readChunk = 32 << 10

// readValue reads the value of "ossd put HEAP ROOT -" from stdin and
// returns it with its whitespace between tokens kept as one space
// (compactCount). The limit max, put's --http-max-body (the node's
// default unless given, or OSS_HTTP_MAX_BODY, which sets both: the CLI
// cannot know the node's setting), is on the body put sends: the value's
// JSON compacted by encoding/json, with no whitespace between tokens and
// <, >, &, U+2028 and U+2029 written as 6-byte \uXXXX escapes. It
// counted the raw bytes of stdin once: a jq-pretty value of 13 MiB whose
// body is 2.4 MB was refused, and so was a value of the limit exactly
// with echo's newline. readValue refuses a value once its body passes
// max, having sent nothing, and reads at most rawPerBody times max raw
// bytes ("yes | ossd put h r -" and endless whitespace end). A value
// within the limit may still be refused by the node: its commit record
// is at most MaxCommitBytes (8 MiB by default).
func readValue(stdin io.Reader, max int64) ([]byte, error) {
	rawMax := max * rawPerBody
	if max > math.MaxInt64/rawPerBody {
		rawMax = math.MaxInt64
	}
	var c compactCount
	var raw int64
	buf := make([]byte, readChunk)
	for {
		p := buf
		if left := rawMax - raw; left < int64(len(p)) {
			p = p[:left+1]
		}
		k, err := stdin.Read(p)
		raw += int64(k)
		c.add(p[:k])
		switch {
		case c.n > max:
			return nil, fmt.Errorf("put: the value on stdin is longer than %s, %s, counted as put sends it (its JSON compacted: no whitespace between tokens, and <, >, &, U+2028 and U+2029 as the 6 bytes of their \\uXXXX escapes): nothing was sent; for a node run with a larger --http-max-body N, give put the same --http-max-body N (OSS_HTTP_MAX_BODY sets both)",
				bytesSaid(max), limitSaid(max))
		case raw > rawMax:
			return nil, fmt.Errorf("put: stdin gave more than %s, %d times %s, with the value's compacted JSON still within it: whitespace between tokens without end? nothing was sent",
				bytesSaid(rawMax), rawPerBody, limitSaid(max))
		case errors.Is(err, io.EOF):
			return c.text, nil
		case err != nil:
			return nil, fmt.Errorf("put: reading the value from stdin: %w", err)
		}
	}
}

// limitSaid names the limit max: put's --http-max-body, or the node's
// default.
func limitSaid(max int64) string {
	if max == admin.DefaultMaxBodyBytes {
		return "the most a node's admin interface takes of a write by default (its --http-max-body)"
	}
	return "put's --http-max-body"
}

// compactCount counts, as bytes arrive, the bytes of the body put sends
// for them: json.Marshal of a json.RawMessage, which compacts the value
// (encoding/json's appendCompact): whitespace outside strings dropped,
// and with HTML escaping <, > and & written \u003c and so on, U+2028 and
// U+2029 \u2028 and \u2029, 6 bytes each, wherever they are. text keeps
// the bytes with each run of whitespace between tokens as one space,
// which separates tokens as the run did: what it holds is at most about
// twice what is counted.
type compactCount struct {
	n        int64
	text     []byte
	inString bool
	escaped  bool // the last byte in a string was a backslash that escapes
	space    bool // the last byte kept was whitespace outside a string
	prev     [2]byte
}

func (c *compactCount) add(p []byte) {
	for _, b := range p {
		prev := c.prev
		c.prev = [2]byte{prev[1], b}
		if !c.inString && (b == ' ' || b == '\t' || b == '\n' || b == '\r') {
			if !c.space {
				c.text = append(c.text, ' ')
				c.space = true
			}
			continue
		}
		c.space = false
		c.text = append(c.text, b)
		switch {
		case b == '<' || b == '>' || b == '&':
			c.n += 6
		case prev == [2]byte{0xe2, 0x80} && b&^1 == 0xa8:
			c.n += 6 - 2 // U+2028, U+2029: two of its bytes counted already
		default:
			c.n++
		}
		switch {
		case !c.inString:
			c.inString = b == '"'
		case c.escaped:
			c.escaped = false
		case b == '\\':
			c.escaped = true
		case b == '"':
			c.inString = false
		}
	}
}

// bytesSaid says n bytes, and in MiB too from one MiB up.
func bytesSaid(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d bytes (%.4g MiB)", n, float64(n)/(1<<20))
}
