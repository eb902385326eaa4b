package engine

import (
	"bytes"
	"slices"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// largeProp returns a proposal that writes one new object (objectOf) with
// a value of n bytes, read at snapshot.
func largeProp(t *testing.T, snapshot uint64, n int) Proposal {
	t.Helper()
	p := prop(t, snapshot)
	rec := &consistency.Record{TxID: p.TxID, Snapshot: snapshot,
		Writes: []consistency.Write{{ID: objectOf(p.TxID), Value: bytes.Repeat([]byte{0x5a}, n)}}}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return Proposal{TxID: rec.TxID, Data: data}
}

// A follower's large record that the leader's log holds, sent again
// because the follower has not seen it yet, is not appended a second time:
// the leader replicates the first copy for as long as it leads, and the
// follower learns the outcome from it.
func TestLeaderDropsForwardedCopiesOfALargeRecord(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	lead, f := c.node(1), c.node(2)
	// The leader's appends are lost: it holds the record, uncommitted, and
	// the follower never sees it in its log.
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgApp && m.From == 1 }
	p := largeProp(t, f.applied(), 1<<20)
	small := prop(t, f.applied())
	f.e.Propose([]Proposal{p, small})
	c.settle()
	if n := copiesIn(t, lead, p); n != 1 {
		t.Fatalf("the leader's log holds %d copies, want 1", n)
	}
	c.tick(2 * DefaultResendTicks << maxResendShift)
	if n := proposals(c, p, raftpb.MsgProp, 1); n < 3 {
		t.Fatalf("the follower sent the record %d times: the test tests nothing", n)
	}
	if n := proposals(c, small, raftpb.MsgProp, 1); n < 2 {
		t.Fatalf("the follower sent the small record %d times: the test tests nothing", n)
	}
	if n := copiesIn(t, lead, p); n != 1 {
		t.Fatalf("the leader's log holds %d copies after the follower's resends, want 1", n)
	}
	if n := copiesIn(t, lead, small); n < 2 {
		t.Fatalf("the leader's log holds %d copies of the small record, want every one sent", n)
	}
	c.drop = nil
	c.tick(3)
	for _, q := range []Proposal{p, small} {
		if cp := f.result(t, q); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
			t.Fatalf("%+v, want committed", cp)
		}
	}
	if n := copiesIn(t, lead, p); n != 1 {
		t.Fatalf("the leader's log holds %d copies once committed, want 1", n)
	}
}

// A large record's copy reaches the log again once the leader applied the
// first: a follower that never saw the first copy in its log sends it
// again, and learns the outcome from the copy (the deduplication window
// answers it). (A follower whose log a snapshot replaced learns it from
// the snapshot: TestProposalCoveredByASnapshotIsAnsweredByIt.)
func TestCopyOfAnAppliedLargeRecordIsAppended(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	// No append reaches 3 until it has sent the record again.
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && m.Type == raftpb.MsgApp }
	p := largeProp(t, f.applied(), 256<<10)
	f.e.Propose([]Proposal{p})
	c.settle()
	if lead.e.Replica().State().Version(objectOf(p.TxID)) == 0 {
		t.Fatal("the leader did not commit the record")
	}
	c.tick(DefaultResendTicks << shift(len(p.Data)))
	if n := proposals(c, p, raftpb.MsgProp, 1); n < 2 {
		t.Fatalf("the follower sent the record %d times, want it sent again", n)
	}
	if n := copiesIn(t, lead, p); n < 2 {
		t.Fatalf("the leader's log holds %d copies of the applied record, want the copy appended", n)
	}
	if f.n[p.TxID] != 0 {
		t.Fatalf("answered before the follower applied anything: %+v", f.out[p.TxID])
	}
	c.drop = nil
	c.tick(1)
	if cp := f.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
}

// A large record waits longer before it first goes again: its message
// takes longer to reach the leader, and a copy sent meanwhile queues
// behind it.
func TestLargeRecordWaitsLongerBeforeGoingAgain(t *testing.T) {
	for _, tc := range []struct {
		size  int
		shift uint8
	}{{100, 0}, {largeRecord, 0}, {2*largeRecord - 1, 0}, {2 * largeRecord, 1}, {4 * largeRecord, 2}, {8 * largeRecord, 3}, {8 << 20, 3}} {
		if got := shift(tc.size); got != tc.shift {
			t.Errorf("shift(%d) = %d, want %d", tc.size, got, tc.shift)
		}
	}
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(2)
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgProp }
	p := largeProp(t, n.applied(), 1<<20)
	n.e.Propose([]Proposal{p})
	c.settle()
	var at []int
	for tick := 1; len(at) < 3; tick++ {
		before := proposals(c, p, raftpb.MsgProp, 1)
		c.tick(1)
		if proposals(c, p, raftpb.MsgProp, 1) > before {
			at = append(at, tick)
		}
		if tick > 100*DefaultResendTicks {
			t.Fatalf("proposed again at ticks %v only", at)
		}
	}
	r := DefaultResendTicks << maxResendShift
	if want := []int{r, 2 * r, 3 * r}; !slices.Equal(at, want) {
		t.Fatalf("proposed again at ticks %v, want %v", at, want)
	}
}

// A leader that dropped a follower's copies of a large record it held and
// then lost its leadership before committing it: the new leader's log
// lacks the record, and the follower, which heard of a new term, proposes
// it again there, where it commits. The old leader's copy, truncated when
// it rejoins, is never applied twice.
func TestDroppedLargeCopyCommitsUnderTheNextLeader(t *testing.T) {
	// Proposals wait out any number of split votes below: what is tested
	// is where the record commits, not how long a proposal waits.
	c := newCluster(t, 3, func(cfg *Config, rc *consistency.Config) {
		rc.ElectionTick = 10
		cfg.NoLeaderTicks = 1000
	})
	c.elect(1)
	old, f := c.node(1), c.node(2)
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgApp && m.From == 1 }
	p := largeProp(t, f.applied(), 1<<20)
	f.e.Propose([]Proposal{p})
	c.settle()
	c.tick(2 * DefaultResendTicks << maxResendShift)
	if n := proposals(c, p, raftpb.MsgProp, 1); n < 2 || copiesIn(t, old, p) != 1 {
		t.Fatalf("the follower sent the record %d times, the leader holds %d copies: the test tests nothing", n, copiesIn(t, old, p))
	}
	c.cut(1)
	// Usually within two election timeouts; a split vote (both followers
	// time out in the same tick) takes another, so wait for a leader
	// rather than assume one.
	for range 20 * 10 {
		if l := f.e.Lead(); l != 0 && l != old.id {
			break
		}
		c.tick(1)
	}
	if l := f.e.Lead(); l == 0 || l == old.id {
		t.Fatalf("no new leader in 20 election timeouts without the old one (lead %d)", l)
	}
	next := c.node(f.e.Lead())
	if next == old || next.e.Lead() != next.id {
		t.Fatalf("leader %d, which says %d", next.id, next.e.Lead())
	}
	c.tick(DefaultResendTicks << maxResendShift)
	if cp := f.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed under the next leader", cp)
	}
	c.drop = nil
	c.tick(3)
	if v := old.e.Replica().State().Version(objectOf(p.TxID)); v == 0 || old.e.Lead() != next.id {
		t.Fatalf("the old leader, rejoined: version %d, leader %d", v, old.e.Lead())
	}
	if n := copiesIn(t, next, p); n != 1 {
		t.Fatalf("the next leader's log holds %d copies, want 1", n)
	}
}
