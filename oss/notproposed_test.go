package oss

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A commit abandoned before it was proposed says so, and still matches
// ErrNoQuorum (not committed, safe to send again) and its context's
// error: before, it read "oss: no quorum: context canceled" on a lone
// node that had a quorum and was only busy.
func TestNotProposedErrorSaysWhat(t *testing.T) {
	err := error(&notProposedError{cause: context.Canceled})
	if !errors.Is(err, ErrNoQuorum) || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v: want it to match ErrNoQuorum and context.Canceled", err)
	}
	if errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("%v matches ErrCommitUnknown; it was certainly not committed", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "not committed") || !strings.Contains(msg, "before the commit was proposed") {
		t.Fatalf("message %q does not say the commit was not proposed", msg)
	}
}
