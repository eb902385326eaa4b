package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A put the node answers 504 (its commit reached the log and no decision
// came in time: it may have been carried out) fails with "its outcome is
// unknown" and the advice to read it back, as one the node gave no
// answer to does; before, the CLI printed the node's "commit outcome
// unknown" and which voters to start, and the put, carried out, was
// tried again blind.
func TestNodeAnsweredUnknownOutcomeSaysSo(t *testing.T) {
	answered := &admin.StatusError{Code: 504, Message: `oss: commit outcome unknown: heap "settings" has no leader in reach`}
	if !errors.Is(answered, oss.ErrCommitUnknown) {
		t.Fatal("a 504 answer does not match ErrCommitUnknown")
	}
	got := outcomeUnknown(answered, "ossd get settings ROOT --fresh")
	if !errors.Is(got, oss.ErrCommitUnknown) {
		t.Errorf("%v: no longer matches ErrCommitUnknown", got)
	}
	for _, want := range []string{"its outcome is unknown", "--fresh", "before trying again"} {
		if !strings.Contains(got.Error(), want) {
			t.Errorf("%v\nwant %q", got, want)
		}
	}
	// One the client already words so, and any other error, is left alone.
	cut := fmt.Errorf("the node at x gave no answer: its outcome is unknown; read it back: %w", oss.ErrCommitUnknown)
	for _, err := range []error{errors.New("no node answers"), cut} {
		if got := outcomeUnknown(err, "ossd heaps"); got != err {
			t.Errorf("%v became %v", err, got)
		}
	}
}
