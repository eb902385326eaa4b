package oss

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A catch-up whose context ends before the group answers at all (a
// machine too loaded for the first read index to be answered in time)
// still says what the replica knows of its group: with no leader in
// reach, that; with one, that it has not answered yet.
func TestCatchingUpThatEndsBeforeAnAnswerSaysWhetherALeaderIsInReach(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 29, "a", "b", "c")
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters", func() bool { return c.settled("bank", "a", "b", "c") })
	h := c.heaps["a"]

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	waitCond(t, "a to hear its leader", func() bool { return h.Stats().LeaderInReach })
	if err := h.waitCaughtUp(ended); err != nil &&
		(!errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "in reach, no answer yet")) {
		t.Fatalf("a catch-up ended at once, leader in reach: %v", err)
	}

	c.net.Partition([]string{"a"}, []string{"b", "c"})
	defer c.net.Heal()
	ctx, cancelWait := context.WithTimeout(context.Background(), await.Deadline) // as long as the wait it bounds
	defer cancelWait()
	waitCond(t, "a to find its group leaderless", func() bool {
		return errors.Is(h.readIndex(ctx), ErrNoQuorum) && !h.Stats().LeaderInReach
	})
	for range 20 {
		err := h.waitCaughtUp(ended)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "no leader in reach") {
			t.Fatalf("a catch-up ended at once, no leader in reach: %v", err)
		}
	}
}
