package main

import (
	"fmt"
	"io"

	"github.com/objectsharing/oss/oss/admin"
)

// readValue reads the value of "ossd put HEAP ROOT -" from stdin: at most
// max bytes, the most the node's admin interface takes of a write's body
// (its --http-max-body). "yes | ossd put h r -" read all of stdin into
// memory, growing without bound, before the node refused the body with
// 413; now the CLI reads max+1 bytes at most and refuses a longer value
// itself, having sent nothing of it. The CLI cannot know the node's
// setting: max is put's own --http-max-body, the node's default unless
// given (or OSS_HTTP_MAX_BODY, which sets both). A value within it may
// still be refused by the node: its commit record is at most
// MaxCommitBytes (8 MiB by default), and the body is the value's JSON
// compacted, with <, > and & written \u003c and so on.
func readValue(stdin io.Reader, max int64) ([]byte, error) {
	text, err := io.ReadAll(io.LimitReader(stdin, max+1))
	if err != nil {
		return nil, fmt.Errorf("put: reading the value from stdin: %w", err)
	}
	if int64(len(text)) > max {
		limit := "put's --http-max-body"
		if max == admin.DefaultMaxBodyBytes {
			limit = "the most a node's admin interface takes of a write by default (its --http-max-body)"
		}
		return nil, fmt.Errorf("put: the value on stdin is longer than %s, %s: nothing was sent; for a node run with a larger --http-max-body N, give put the same --http-max-body N (OSS_HTTP_MAX_BODY sets both)",
			bytesSaid(max), limit)
	}
	return text, nil
}

// bytesSaid says n bytes, and in MiB too from one MiB up.
func bytesSaid(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d bytes (%.4g MiB)", n, float64(n)/(1<<20))
}
