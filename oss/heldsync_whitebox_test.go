package oss

import (
	"context"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// A leader whose log sync stalls keeps the group committing: proposals
// that arrive while a write of its log is in flight are held to ride in
// one append with what else comes, but no longer than a tick. Before,
// they waited for the log's answer however long it took, so one stalled
// sync of the leader's held every later commit of the heap back from
// its followers, and a commit that came while an unrelated write was in
// flight was never sent until the leader's disk answered.
func TestProposalsGoOutWhileTheLeadersSyncStalls(t *testing.T) {
	t.Parallel()
	hs := newHeldSync(t, 37)
	hs.arm()
	first := make(chan error, 1)
	go func() { first <- transfer(context.Background(), hs.h, hs.ids[0], hs.ids[1], 1) }()
	hs.waitHeld(t)
	// Both followers have the first commit's entry: the leader's commit
	// index moved with the first acknowledgement, and the second moves
	// nothing, so no append is on its way when the next commit comes.
	waitCond(t, "both followers' acknowledgements of the first commit", func() bool { return hs.acks.Load() >= 2 })
	firstIndex := hs.maxAck.Load()
	second := make(chan error, 1)
	go func() { second <- transfer(context.Background(), hs.h, hs.ids[1], hs.ids[2], 1) }()
	waitCond(t, "the followers' acknowledgement of the second commit while the leader's first sync stalls", func() bool {
		return hs.maxAck.Load() > firstIndex
	})
	hs.let()
	for _, c := range []chan error{first, second} {
		if err := await.Recv(t, c, "a commit whose leader's sync was held to return"); err != nil {
			t.Fatalf("a commit after its leader's sync was let go: %v", err)
		}
	}
	hs.c.checkBank(hs.ids)
}
