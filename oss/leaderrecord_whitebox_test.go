package oss

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"go.uber.org/goleak"
)

// The catalog's leader whose own record names another raft ID writes it
// again itself: it asks no node of its own name to take its join, and
// the others answer that it leads, so it asked every node each second
// for as long as it led, and its record stayed wrong.
func TestTheCatalogsLeaderRepairsItsOwnRecord(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 43, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	// The leader placement settles on: it keeps the lead while its
	// record is wrong.
	var lead *Heap
	waitCond(t, "a leader of the catalog that placement leaves leading", func() bool {
		lead = c.catalogLeader()
		if lead == nil {
			return false
		}
		time.Sleep(500 * time.Millisecond)
		return c.catalogLeader() == lead
	})
	n := lead.node
	waitCond(t, "the leader's record naming it", func() bool { return n.committed().recs[n.cfg.Name].ID == n.id })
	err := lead.Update(ctx, func(tx *Tx) error {
		return Put(tx, nodeRecordID(n.cfg.Name), nodeRecord{Name: n.cfg.Name, ID: n.id ^ 1, Server: true})
	})
	if err != nil {
		t.Fatalf("the leader's write of its own record: %v", err)
	}
	waitCond(t, "the leader's record naming its raft ID again", func() bool {
		return n.committed().recs[n.cfg.Name].ID == n.id
	})
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal(ctx.Err())
	}
}
