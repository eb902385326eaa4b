package oss_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// A learner never campaigns, so it keeps naming the leader it last heard
// of after that leader died. Node.Status took the group from the most
// advanced replica that answered when none led, and with the heap's only
// voter killed every replica left was a learner: ossd status showed
// LEADER n1 for a heap that had no leader, beside "down: n1". A replica
// that has not heard from its leader within two election timeouts
// (Stats.LeaderInReach false) now reports none, so the status names no
// leader, as it names none when the followers have given theirs up.
func TestStatusNamesNoLeaderItsReplicasLostTouchWith(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, &osstest.Options{Patience: 3 * time.Minute})
	ctx := context.Background()
	if _, err := c.Node("n1").CreateHeap(ctx, "solo", &oss.HeapOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	c.Heap("n2", "solo")
	c.Heap("n3", "solo")
	leader := c.WaitLeader("solo")
	h2 := c.Heap("n2", "solo")
	var other string
	for _, n := range []string{"n1", "n2", "n3"} {
		if n != leader && n != "n2" {
			other = n
		}
	}
	// A replica's first tick has not yet looked: before it, LeaderInReach
	// is false, and a wait for it to be false would pass before the
	// replica had heard from the leader at all.
	for _, n := range []string{"n2", other} {
		h := c.Heap(n, "solo")
		c.Wait(n+"'s replica of solo to hear from "+leader, func() bool {
			st := h.Stats()
			return st.LeaderInReach && st.Leader == leader
		})
	}
	c.Kill(leader)
	c.Wait("n2's replica of solo to lose touch with "+leader, func() bool { return !h2.Stats().LeaderInReach })
	c.Wait(other+"'s too", func() bool { return !c.Heap(other, "solo").Stats().LeaderInReach })
	for _, n := range []string{"n2", other} {
		st := c.Node(n).Status(ctx)
		for _, hs := range st.Heaps {
			if hs.Name == "solo" && hs.Leader != "" {
				t.Errorf("%s's status of solo, whose only voter %s was killed: leader %q (voters %v, learners %v), want none",
					n, leader, hs.Leader, hs.Voters, hs.Learners)
			}
		}
		for _, hs := range c.Node(n).Heaps() {
			if hs.Name == "solo" && hs.Leader != "" {
				t.Errorf("%s's Heaps of solo: leader %q, want none", n, hs.Leader)
			}
		}
	}
}
