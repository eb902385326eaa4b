package engine

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// conflictingProp returns a proposal that read obj as absent at snapshot:
// once obj exists, it conflicts on it.
func conflictingProp(t *testing.T, snapshot uint64, obj uuid.UUID) Proposal {
	t.Helper()
	p := prop(t, snapshot)
	rec := &consistency.Record{TxID: p.TxID, Snapshot: snapshot,
		Reads:  []consistency.Read{{ID: obj, Version: 0}},
		Writes: []consistency.Write{{ID: objectOf(p.TxID), Value: []byte{0x02}}}}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return Proposal{TxID: p.TxID, Data: data}
}

// wantDecision fails the test unless n handed out p's completion exactly
// once, with the decision the leader's deduplication memory holds: the
// first copy's, not a Duplicate.
func wantDecision(t *testing.T, n, lead *node, p Proposal) {
	t.Helper()
	want, ok := lead.e.Replica().Decided(p.TxID)
	if !ok {
		t.Fatalf("the leader did not decide %v", p.TxID)
	}
	cp := n.result(t, p)
	if cp.Err != nil || cp.TxID != p.TxID || cp.Result != want {
		t.Fatalf("node %d: %+v (%v), want the leader's %+v", n.id, cp, cp.Err, want)
	}
}

// A snapshot that covers several proposals of a follower answers each
// once, with its own decision (a conflict with its conflicting object,
// a proposal sent more than once with its first copy's outcome), and
// nothing it does not cover: a proposal abandoned before it came, one
// decided after it (answered once its entry is applied). Nothing answered
// is answered again, by a copy applied later or by Close.
func TestSnapshotAnswersEachCoveredProposalWithItsOwnDecision(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	// No append reaches 3; its first proposal message is lost.
	lost := false
	c.drop = func(m raftpb.Message) bool {
		if m.Type == raftpb.MsgProp && m.From == 3 && !lost {
			lost = true
			return true
		}
		return m.To == 3 && m.Type == raftpb.MsgApp
	}
	resent := prop(t, f.applied())
	f.e.Propose([]Proposal{resent})
	c.settle()
	c.tick(DefaultResendTicks) // the copy goes again, and reaches the leader
	if proposals(c, resent, raftpb.MsgProp, 1) < 2 {
		t.Fatal("the proposal whose message was lost was not sent again")
	}
	a, b := prop(t, f.applied()), prop(t, f.applied())
	f.e.Propose([]Proposal{a, b})
	c.settle()
	x := conflictingProp(t, f.applied(), objectOf(a.TxID))
	abandoned := prop(t, f.applied())
	f.e.Propose([]Proposal{x, abandoned})
	if !f.e.Abandon(abandoned.TxID) {
		t.Fatal("Abandon: a proposal handed to raft reported never proposed")
	}
	c.settle()
	snap := snapshotOf(t, lead, f.id)
	after := prop(t, f.applied())
	f.e.Propose([]Proposal{after})
	c.settle()
	for _, p := range []Proposal{resent, a, b, x, abandoned, after} {
		if _, ok := lead.e.Replica().Decided(p.TxID); !ok {
			t.Fatalf("the leader did not decide %v", p.TxID)
		}
		if f.n[p.TxID] != 0 {
			t.Fatalf("answered before the snapshot: %+v", f.out[p.TxID])
		}
	}
	if res, _ := lead.e.Replica().Decided(x.TxID); res.Outcome != consistency.Conflicted || res.ConflictID != objectOf(a.TxID) {
		t.Fatalf("the conflicting proposal was decided %+v", res)
	}
	f.e.Step(snap)
	c.handle(f)
	for _, p := range []Proposal{resent, a, b, x} {
		wantDecision(t, f, lead, p)
	}
	if f.n[abandoned.TxID] != 0 || f.n[after.TxID] != 0 {
		t.Fatalf("answered by a snapshot that does not cover them: abandoned %+v, after %+v",
			f.out[abandoned.TxID], f.out[after.TxID])
	}
	// The log after the snapshot reaches the follower: the proposal it
	// holds is answered from its entry, and the others are not answered
	// again by their copies.
	c.drop = nil
	c.tick(1)
	if f.applied() != lead.applied() {
		t.Fatalf("follower applied %d, leader %d", f.applied(), lead.applied())
	}
	for _, p := range []Proposal{resent, a, b, x, after} {
		wantDecision(t, f, lead, p)
	}
	if f.n[abandoned.TxID] != 0 || f.e.Pending() != 0 {
		t.Fatalf("abandoned answered %d times, %d proposals still pending", f.n[abandoned.TxID], f.e.Pending())
	}
	if f.e.Abandon(a.TxID) {
		t.Fatal("Abandon: a proposal the snapshot answered reported as waiting")
	}
	f.e.Close()
	c.handle(f)
	for _, p := range []Proposal{resent, a, b, x, after} {
		f.result(t, p)
	}
}

// coveredBySnapshot has the follower f propose p, the leader commit it
// without f, and returns the snapshot that covers it.
func coveredBySnapshot(t *testing.T, c *cluster, lead, f *node) (Proposal, raftpb.Message) {
	t.Helper()
	c.drop = func(m raftpb.Message) bool { return m.To == f.id && m.Type == raftpb.MsgApp }
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	if lead.e.Replica().State().Version(objectOf(p.TxID)) == 0 {
		t.Fatal("the leader did not commit the forwarded record")
	}
	return p, snapshotOf(t, lead, f.id)
}

// Ready, asked again before Advance, hands out the answers a snapshot
// brings again, the same; carried out, each proposal is answered once.
func TestSnapshotAnswersAreRepeatableUntilAdvance(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	p, snap := coveredBySnapshot(t, c, lead, f)
	q, _ := coveredBySnapshot(t, c, lead, f)
	snap = snapshotOf(t, lead, f.id)
	f.e.Step(snap)
	ids := func(rd Ready) []uuid.UUID {
		var out []uuid.UUID
		for _, cp := range rd.Completions {
			out = append(out, cp.TxID)
		}
		return out
	}
	first := ids(f.e.Ready())
	second := ids(f.e.Ready())
	if len(first) != 2 || !slices.Contains(first, p.TxID) || !slices.Contains(first, q.TxID) || !slices.Equal(first, second) {
		t.Fatalf("completions of the Ready asked twice: %v, then %v; want %v and %v once each", first, second, p.TxID, q.TxID)
	}
	c.handle(f)
	wantDecision(t, f, lead, p)
	wantDecision(t, f, lead, q)
	if f.e.Pending() != 0 {
		t.Fatalf("%d proposals still pending", f.e.Pending())
	}
	c.drop = nil
	c.tick(2 * DefaultResendTicks)
	wantDecision(t, f, lead, p)
	wantDecision(t, f, lead, q)
}

// A snapshot whose write the log refuses answers nothing: the proposal it
// covers fails once, its outcome unknown, as every proposal waiting does.
// The snapshot written later does not answer it again, and the follower
// commits again once its log takes writes.
func TestSnapshotRefusedByTheLogAnswersOnce(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	p, snap := coveredBySnapshot(t, c, lead, f)
	full := errors.New("disk full")
	f.disk = full
	f.e.Step(snap)
	c.handle(f)
	wantFailure(t, f.result(t, p), LogRefused, true)
	f.disk = nil
	c.tick(1)
	if f.applied() != snap.Snapshot.Metadata.Index || f.retries == 0 {
		t.Fatalf("follower applied %d (snapshot at %d), %d retries", f.applied(), snap.Snapshot.Metadata.Index, f.retries)
	}
	wantFailure(t, f.result(t, p), LogRefused, true)
	if f.e.Pending() != 0 {
		t.Fatalf("%d proposals still pending", f.e.Pending())
	}
	c.drop = nil
	q := prop(t, f.applied())
	f.e.Propose([]Proposal{q})
	c.settle()
	wantDecision(t, f, lead, q)
	c.tick(2 * DefaultResendTicks)
	wantDecision(t, f, lead, q)
	wantFailure(t, f.result(t, p), LogRefused, true)
}

// The answers a snapshot brings come in the same order however the
// engine's maps are laid out: the owner hands them out in that order, and
// a replica is a deterministic state machine.
func TestSnapshotAnswersInAFixedOrder(t *testing.T) {
	order := func() []int {
		c := newCluster(t, 3, nil)
		c.elect(1)
		lead, f := c.node(1), c.node(3)
		c.drop = func(m raftpb.Message) bool { return m.To == f.id && m.Type == raftpb.MsgApp }
		var props []Proposal
		for range 12 {
			props = append(props, prop(t, f.applied()))
		}
		f.e.Propose(props)
		c.settle()
		f.e.Step(snapshotOf(t, lead, f.id))
		var got []int
		for _, cp := range f.e.Ready().Completions {
			got = append(got, slices.IndexFunc(props, func(p Proposal) bool { return p.TxID == cp.TxID }))
		}
		c.handle(f)
		for _, p := range props {
			wantDecision(t, f, lead, p)
		}
		return got
	}
	first := order()
	for range 4 {
		if again := order(); !slices.Equal(first, again) {
			t.Fatalf("answers in the order %v, then %v", first, again)
		}
	}
}
