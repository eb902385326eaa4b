package oss_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A Config that Start refuses is an invalid argument, as a caller tests
// with errors.Is, and the error still names every setting refused.
func TestStartRefusesConfigAsInvalidArgument(t *testing.T) {
	n, err := oss.Start(context.Background(), &oss.Config{MaxCommitBytes: -1, WatchBuffer: -1, Logger: quietLogger()})
	if err == nil {
		n.Close(context.Background())
		t.Fatal("Start accepted negative limits")
	}
	if !errors.Is(err, oss.ErrInvalidArgument) {
		t.Errorf("Start: %v, does not match ErrInvalidArgument", err)
	}
	for _, want := range []string{"oss: invalid config: ", "MaxCommitBytes -1", "WatchBuffer -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start: %q does not say %q", err, want)
		}
	}
}
