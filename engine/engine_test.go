package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
)

// node is one replica of a test cluster and what its owner saw.
type node struct {
	id  uint64
	st  *raft.MemoryStorage
	e   *Engine
	out map[uuid.UUID]Completion // completions handed out, by transaction
	n   map[uuid.UUID]int        // how many times each was handed out
	rds map[uint64]*Failure      // reads answered, by ID
	// disk, if set, is the error the log returns for every write.
	disk    error
	retries int // log writes offered again (Ready.Retry)
	// ckptOK makes checkpoints succeed; ckptLate reports them taken only
	// once the replica applied that many entries more, as a checkpoint
	// run elsewhere would.
	ckptOK   bool
	ckptLate uint64
	asked    []uint64 // checkpoints asked for
	running  []uint64 // checkpoints taken, not yet reported
	taken    uint64   // the last checkpoint reported taken
	// lowest is the highest first index of the log in memory seen.
	lowest uint64
	// leaderApplied counts the records it applied while leading.
	leaderApplied int
	confs         []raftpb.ConfState // configurations reported
	// With asynchronous writes: the Writes handed out and not yet made,
	// and hold, which keeps them unmade until cleared.
	queued []uint64
	hold   bool
}

// asyncWrites makes newCluster's replicas write their logs asynchronously.
var asyncWrites bool

// applyApart makes newCluster's engines hand Readies out before applying
// them (Config.ApplyApart).
var applyApart bool

// cluster wires engines by delivering their messages to each other: the
// owner's loop of package oss, in one goroutine.
type cluster struct {
	t     *testing.T
	nodes []*node // by raft ID - 1
	drop  func(m raftpb.Message) bool
	msgs  []raftpb.Message
	sent  []raftpb.Message // every message handed out
	// notices: leaders mark commit notices (MarkNotice) as package oss
	// does when it sends.
	notices bool
}

// out hands n's messages to the network.
func (c *cluster) out(n *node, msgs []raftpb.Message) {
	for i := range msgs {
		if c.notices {
			n.e.MarkNotice(&msgs[i])
		}
	}
	c.msgs = append(c.msgs, msgs...)
	c.sent = append(c.sent, msgs...)
}

// newCluster bootstraps n voters. Raft's own elections are out of the
// way (an election timeout of 1000 ticks): tests elect with elect.
func newCluster(t *testing.T, n int, tweak func(*Config, *consistency.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t}
	var peers []raft.Peer
	for i := 1; i <= n; i++ {
		peers = append(peers, raft.Peer{ID: uint64(i)})
	}
	for i := 1; i <= n; i++ {
		st := raft.NewMemoryStorage()
		rc := &consistency.Config{ID: uint64(i), Storage: st, ElectionTick: 1000, AsyncStorageWrites: asyncWrites}
		cfg := Config{Storage: st, ApplyApart: applyApart}
		if tweak != nil {
			tweak(&cfg, rc)
		}
		r, err := consistency.NewReplica(rc)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Bootstrap(peers); err != nil {
			t.Fatal(err)
		}
		cfg.Replica = r
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, &node{id: uint64(i), st: st, e: e, ckptOK: true,
			out: map[uuid.UUID]Completion{}, n: map[uuid.UUID]int{}, rds: map[uint64]*Failure{}})
	}
	return c
}

func (c *cluster) node(id uint64) *node { return c.nodes[id-1] }

// handle carries out every Ready of n, as package oss does, and makes
// the writes they hand out unless n holds them.
func (c *cluster) handle(n *node) {
	for {
		c.handleReadies(n)
		if n.hold || len(n.queued) == 0 {
			return
		}
		n.flush()
	}
}

// flush makes n's queued writes, in order, and reports whether the log
// took them.
func (n *node) flush() bool {
	q := n.queued
	n.queued = nil
	for _, seq := range q {
		if n.disk != nil {
			n.e.DiskFailed(n.disk)
			return false
		}
		n.e.Written(seq)
	}
	return true
}

func (c *cluster) handleReadies(n *node) {
	for n.e.HasReady() {
		rd := n.e.Ready()
		if rd.Err != nil {
			c.t.Fatalf("node %d: %v", n.id, rd.Err)
		}
		first := rd.OutcomesFirst()
		if rd.Retry {
			n.retries++
		}
		if rd.HasRaft {
			c.out(n, rd.Early)
		}
		n.e.Apply(&rd) // ApplyLater: the sends went, the outcomes follow
		if rd.HasRaft && n.e.Replica().FullStatus().RaftState == raft.StateLeader {
			// A leader's entries commit only once its own copy is
			// durable: what it applies, it wrote in an earlier Ready
			// (the log in memory holds what Advance was told).
			written, _ := n.st.LastIndex()
			for _, res := range rd.Results {
				if res.Index > written {
					c.t.Fatalf("node %d leads and applied index %d before its write (written up to %d)", n.id, res.Index, written)
				}
				n.leaderApplied++
			}
		}
		if first {
			n.outcomes(rd)
		}
		if n.e.Replica().Async() {
			c.out(n, rd.Messages)
			for _, w := range rd.Writes {
				n.queued = append(n.queued, w.Seq)
			}
			if rd.WriteFirst && !n.flush() {
				continue
			}
		} else if rd.HasRaft {
			if n.disk != nil {
				n.e.DiskFailed(n.disk)
				continue
			}
			c.out(n, rd.Messages)
		}
		if !first {
			n.outcomes(rd)
		}
		if rd.Conf != nil {
			n.confs = append(n.confs, *rd.Conf)
		}
		if rd.Checkpoint != 0 {
			if rd.Checkpoint < n.taken+n.e.cfg.CompactEvery {
				c.t.Fatalf("node %d: checkpoint asked at %d, %d after the last", n.id, rd.Checkpoint, rd.Checkpoint-n.taken)
			}
			n.asked = append(n.asked, rd.Checkpoint)
			if n.ckptOK && !slices.Contains(n.running, rd.Checkpoint) && rd.Checkpoint > n.taken {
				n.running = append(n.running, rd.Checkpoint)
			}
		}
		for len(n.running) > 0 && n.running[0]+n.ckptLate <= n.applied() {
			n.taken = n.running[0]
			n.e.Checkpointed(n.taken)
			n.running = n.running[1:]
		}
		n.e.Advance()
		if first, _ := n.st.FirstIndex(); first > n.lowest {
			n.lowest = first
		}
	}
}

// outcomes notes a Ready's completions and read answers.
func (n *node) outcomes(rd Ready) {
	for _, cp := range rd.Completions {
		n.out[cp.TxID] = cp
		n.n[cp.TxID]++
	}
	for _, r := range rd.Reads {
		n.rds[r.ID] = r.Err
	}
}

// settle carries out Readies and delivers messages until there are none.
func (c *cluster) settle() {
	for range 10000 {
		for _, n := range c.nodes {
			c.handle(n)
		}
		if len(c.msgs) == 0 {
			return
		}
		msgs := c.msgs
		c.msgs = nil
		for _, m := range msgs {
			if c.drop != nil && c.drop(m) {
				continue
			}
			c.node(m.To).e.Step(m)
		}
	}
	c.t.Fatal("the cluster does not settle")
}

// tick ticks every node k times, settling after each.
func (c *cluster) tick(k int) {
	for range k {
		for _, n := range c.nodes {
			n.e.Tick()
		}
		c.settle()
	}
}

// elect makes id the leader.
func (c *cluster) elect(id uint64) {
	c.t.Helper()
	c.settle()
	if err := c.node(id).e.Replica().Campaign(); err != nil {
		c.t.Fatal(err)
	}
	c.settle()
	for _, n := range c.nodes {
		if n.e.Lead() != id {
			c.t.Fatalf("node %d: leader %d, want %d", n.id, n.e.Lead(), id)
		}
	}
}

// cut drops every message to and from id.
func (c *cluster) cut(id uint64) {
	c.drop = func(m raftpb.Message) bool { return m.From == id || m.To == id }
}

var txSeq uint32

// prop returns a proposal that writes one new object (objectOf), read at
// snapshot.
func prop(t *testing.T, snapshot uint64) Proposal {
	t.Helper()
	txSeq++
	txid := uuid.UUID{0: 0x7e}
	binary.BigEndian.PutUint32(txid[12:], txSeq)
	rec := &consistency.Record{TxID: txid, Snapshot: snapshot,
		Writes: []consistency.Write{{ID: objectOf(txid), Value: []byte{0x01}}}}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return Proposal{TxID: rec.TxID, Data: data}
}

// objectOf returns the object the proposal of txid writes.
func objectOf(txid uuid.UUID) uuid.UUID {
	id := txid
	id[0] = 0x0b
	return id
}

func (n *node) applied() uint64 { return n.e.Replica().State().Index() }

// result returns p's completion on n, failing the test unless there was
// exactly one.
func (n *node) result(t *testing.T, p Proposal) Completion {
	t.Helper()
	if n.n[p.TxID] != 1 {
		t.Fatalf("node %d: %d completions of a proposal, want 1", n.id, n.n[p.TxID])
	}
	return n.out[p.TxID]
}

func wantFailure(t *testing.T, cp Completion, reason Reason, unknown bool) {
	t.Helper()
	if cp.Err == nil || cp.Err.Reason != reason || cp.Err.Unknown != unknown {
		t.Fatalf("completion %+v (%v), want failure %d unknown=%v", cp, cp.Err, reason, unknown)
	}
}

func TestProposeCommitsWithLeader(t *testing.T) {
	for _, from := range []uint64{1, 2} {
		c := newCluster(t, 3, nil)
		c.elect(1)
		n := c.node(from)
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p})
		c.settle()
		if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
			t.Fatalf("proposed on node %d: %+v, want committed", from, cp)
		}
		for _, o := range c.nodes {
			if o != n && o.n[p.TxID] != 0 {
				t.Fatalf("node %d completed a proposal of node %d", o.id, from)
			}
		}
	}
}

// A proposal made while no leader is known waits, and is proposed once
// one is: at the next tick.
func TestProposeWithoutLeaderWaitsForOne(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.settle()
	n := c.node(2)
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	c.settle()
	if n.n[p.TxID] != 0 || n.e.Pending() != 1 {
		t.Fatalf("proposal without a leader: %d completions, %d pending; want it waiting", n.n[p.TxID], n.e.Pending())
	}
	c.elect(1)
	if n.n[p.TxID] != 0 {
		t.Fatal("decided before it was proposed again")
	}
	c.tick(1)
	if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
}

// A proposal the leader never received is proposed again after
// ResendTicks, and only then.
func TestResendAfterResendTicks(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(2)
	lost := 0
	c.drop = func(m raftpb.Message) bool {
		if m.Type == raftpb.MsgProp && lost == 0 {
			lost++
			return true
		}
		return false
	}
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	c.settle()
	c.tick(DefaultResendTicks - 1)
	if n.n[p.TxID] != 0 {
		t.Fatalf("decided after %d ticks, though its only copy was lost", DefaultResendTicks-1)
	}
	c.tick(1)
	if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed after the resend", cp)
	}
}

func TestAbandon(t *testing.T) {
	for _, tc := range []struct {
		name         string
		leader       bool // a leader is known when it is proposed
		decide       bool // it is decided before it is abandoned
		wantProposed bool
	}{
		{name: "never proposed", leader: false, wantProposed: false},
		{name: "proposed, undecided", leader: true, wantProposed: true},
		{name: "decided", leader: true, decide: true, wantProposed: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, nil)
			if tc.leader {
				c.elect(1)
			} else {
				c.settle()
			}
			n := c.node(2)
			p := prop(t, n.applied())
			n.e.Propose([]Proposal{p})
			if tc.decide {
				c.settle()
			}
			if got := n.e.Abandon(p.TxID); got != tc.wantProposed {
				t.Fatalf("Abandon: proposed %v, want %v", got, tc.wantProposed)
			}
			c.settle()
			if tc.leader && !tc.decide {
				// Abandoned, not withdrawn: the record commits, and
				// nobody is told.
				if n.n[p.TxID] != 0 {
					t.Fatal("an abandoned proposal was completed")
				}
				if v := c.node(1).e.Replica().State().Version(objectOf(p.TxID)); v == 0 {
					t.Fatal("an abandoned proposal already handed to raft did not commit")
				}
			}
			c.tick(3 * DefaultResendTicks)
			if n.e.Pending() != 0 {
				t.Fatal("an abandoned proposal is still pending")
			}
		})
	}
}

// Abandon of a proposal never given to Propose says it was never proposed.
func TestAbandonUnknownProposal(t *testing.T) {
	c := newCluster(t, 1, nil)
	c.elect(1)
	if c.node(1).e.Abandon(uuid.UUID{1}) {
		t.Fatal("a proposal never given to the engine reported proposed")
	}
}

// A Stale decision is definite for a record proposed once, unknown for one
// proposed again: an earlier copy may have applied inside the window.
func TestStaleDecision(t *testing.T) {
	for _, resent := range []bool{false, true} {
		c := newCluster(t, 3, func(_ *Config, rc *consistency.Config) { rc.DedupWindow = 4 })
		c.elect(1)
		n := c.node(2)
		p := prop(t, n.applied())
		if resent {
			lost := false
			c.drop = func(m raftpb.Message) bool {
				if m.Type == raftpb.MsgProp && m.From == 2 && !lost {
					lost = true
					return true
				}
				return false
			}
			n.e.Propose([]Proposal{p})
			c.settle()
		}
		// The log moves past the window of p's snapshot.
		for range 6 {
			q := prop(t, c.node(1).applied())
			c.node(1).e.Propose([]Proposal{q})
			c.settle()
		}
		if resent {
			c.tick(DefaultResendTicks)
			wantFailure(t, n.result(t, p), ResentStale, true)
			continue
		}
		n.e.Propose([]Proposal{p})
		c.settle()
		if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Stale {
			t.Fatalf("proposed once: %+v, want a Stale result", cp)
		}
	}
}

// Without a leader for NoLeaderTicks, what waits fails: definitely what
// raft never took, and reads; with an unknown outcome what it took. Later
// proposals fail at once, definitely.
func TestLeaderless(t *testing.T) {
	t.Run("no leader known", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.settle()
		n := c.node(1)
		p := prop(t, 0)
		n.e.Propose([]Proposal{p})
		n.e.Read(7)
		c.tick(DefaultNoLeaderTicks - 1)
		if n.n[p.TxID] != 0 || n.rds[7] != nil {
			t.Fatalf("failed before %d ticks without a leader", DefaultNoLeaderTicks)
		}
		c.tick(1)
		wantFailure(t, n.result(t, p), NoLeaderInReach, false)
		if f, ok := n.rds[7]; !ok || f == nil || f.Reason != NoLeaderInReach {
			t.Fatalf("read: answered %v (%v), want NoLeaderInReach", ok, f)
		}
		q := prop(t, 0)
		n.e.Propose([]Proposal{q})
		c.settle()
		cp := n.result(t, q)
		wantFailure(t, cp, NoLeaderFor, false)
		if cp.Err.Ticks != DefaultNoLeaderTicks {
			t.Fatalf("failed after %d ticks without a leader, want %d", cp.Err.Ticks, DefaultNoLeaderTicks)
		}
	})
	t.Run("leader out of reach", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		n := c.node(3)
		c.cut(3)
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p}) // forwarded to the leader, and lost
		c.tick(2*DefaultElectionTicks + DefaultNoLeaderTicks)
		wantFailure(t, n.result(t, p), NoLeaderInReach, true)
		if n.e.LeaderInReach() {
			t.Fatal("a cut-off follower believes its leader in reach")
		}
		c.drop = nil
		c.tick(2) // one to hear the leader, one to count it in reach
		if !n.e.LeaderInReach() {
			t.Fatal("the follower does not hear its leader again")
		}
		q := prop(t, n.applied())
		n.e.Propose([]Proposal{q})
		c.settle()
		if cp := n.result(t, q); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
			t.Fatalf("after the leader is back: %+v, want committed", cp)
		}
	})
}

// A read whose index is known, waiting for its replica to apply that far,
// fails too once no leader is in reach for NoLeaderTicks: what it waits
// for can only come from a leader. It used to wait until its caller gave
// up, past the limit every other wait has.
func TestLeaderlessReadWaitingForItsApply(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(3)
	c.drop = func(m raftpb.Message) bool { return m.To == 3 && m.Type == raftpb.MsgApp }
	for range 3 {
		c.node(1).e.Propose([]Proposal{prop(t, c.node(1).applied())})
		c.settle()
	}
	n.e.Read(7)
	c.settle()
	if _, ok := n.rds[7]; ok || n.applied() >= c.node(1).applied() {
		t.Fatalf("the read was answered (%v) or the follower caught up (%d of %d): not the case to test", ok, n.applied(), c.node(1).applied())
	}
	c.cut(3)
	c.tick(2*DefaultElectionTicks + DefaultNoLeaderTicks)
	if f, ok := n.rds[7]; !ok || f == nil || f.Reason != NoLeaderInReach {
		t.Fatalf("a read waiting for its apply, no leader in reach: answered %v (%v), want NoLeaderInReach", ok, f)
	}
}

// A read index whose question or answer was lost is asked again after
// ResendTicks/2 and answered.
func TestReadIndexAskedAgain(t *testing.T) {
	for _, lose := range []raftpb.MessageType{raftpb.MsgReadIndex, raftpb.MsgReadIndexResp} {
		c := newCluster(t, 3, nil)
		c.elect(1)
		n := c.node(2)
		lost := false
		c.drop = func(m raftpb.Message) bool {
			if m.Type == lose && !lost {
				lost = true
				return true
			}
			return false
		}
		n.e.Read(1)
		c.settle()
		c.tick(DefaultResendTicks/2 - 1)
		if _, ok := n.rds[1]; ok || !lost {
			t.Fatalf("%v lost: answered %v before it was asked again", lose, ok)
		}
		c.tick(1)
		if f, ok := n.rds[1]; !ok || f != nil {
			t.Fatalf("%v lost: answered %v (%v), want answered", lose, ok, f)
		}
	}
}

// A log write the log refuses holds the Ready: nothing of it is sent; the
// proposals waiting fail, with an unknown outcome if raft took them; new
// ones fail at once, definitely; the write is offered again every tick
// until the log takes it.
func TestDiskRefused(t *testing.T) {
	full := errors.New("disk full")
	t.Run("proposed: unknown outcome", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		n := c.node(1)
		n.disk = full
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p})
		c.settle()
		cp := n.result(t, p)
		wantFailure(t, cp, LogRefused, true)
		if !errors.Is(cp.Err, full) {
			t.Fatalf("%v does not carry the log's error", cp.Err)
		}
		q := prop(t, n.applied())
		n.e.Propose([]Proposal{q})
		c.settle()
		wantFailure(t, n.result(t, q), LogRefused, false)

		sent := len(c.sent)
		c.tick(3)
		if n.retries != 3 {
			t.Fatalf("the held write was offered %d times in 3 ticks, want 3", n.retries)
		}
		for _, m := range c.sent[sent:] {
			if m.From == 1 {
				t.Fatalf("the leader sent %v while its log refused writes", m.Type)
			}
		}
		n.disk = nil
		c.tick(1)
		if n.retries != 4 {
			t.Fatalf("write offered %d times, want 4", n.retries)
		}
		r := prop(t, n.applied())
		n.e.Propose([]Proposal{r})
		c.settle()
		if cp := n.result(t, r); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
			t.Fatalf("once the log takes writes again: %+v, want committed", cp)
		}
		c.tick(1)
		if n.retries != 4 {
			t.Fatal("a write offered again after the log took it")
		}
	})
	t.Run("never proposed: definite", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		n := c.node(1)
		n.disk = full
		p := prop(t, 0)
		n.e.Propose([]Proposal{p}) // no leader: raft does not take it
		c.settle()                 // the bootstrap's write is refused
		wantFailure(t, n.result(t, p), LogRefused, false)
	})
}

func TestCheckpointAndCompaction(t *testing.T) {
	const every, keep = 8, 2
	for _, tc := range []struct {
		name    string
		durable bool
		ckptOK  bool
		late    uint64
	}{
		{"durable", true, true, 0},
		{"durable, checkpoints reported late", true, true, 5},
		{"durable, checkpoints fail", true, false, 0},
		{"in memory", false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1, func(cfg *Config, _ *consistency.Config) {
				cfg.Durable, cfg.CompactEvery, cfg.KeepEntries = tc.durable, every, keep
			})
			n := c.node(1)
			n.ckptOK, n.ckptLate = tc.ckptOK, tc.late
			c.elect(1)
			for range 40 {
				n.e.Propose([]Proposal{prop(t, n.applied())})
				c.settle()
				if tc.durable && n.lowest > n.taken+1 {
					t.Fatalf("log compacted to %d, past the last checkpoint at %d", n.lowest-1, n.taken)
				}
			}
			applied := n.applied()
			switch {
			case !tc.durable && len(n.asked) > 0:
				t.Fatal("a checkpoint asked of an engine that keeps no log")
			case tc.durable && len(n.asked) == 0:
				t.Fatalf("no checkpoint asked in %d entries", applied)
			case tc.ckptOK && n.taken+every+tc.late <= applied:
				t.Fatalf("last checkpoint at %d, applied %d", n.taken, applied)
			case tc.ckptOK || !tc.durable:
				if n.lowest <= 1 {
					t.Fatal("the log was never compacted")
				}
			case !tc.ckptOK && n.lowest > 1:
				t.Fatal("the log was compacted without a checkpoint")
			}
		})
	}
}

// Close fails what waits: proposals with an unknown outcome, whether raft
// took them or not (they may be in a leader's log, or reach one yet), reads
// with Closed; and whatever comes later, definitely.
func TestCloseFailsEverything(t *testing.T) {
	for _, leader := range []bool{true, false} {
		c := newCluster(t, 3, nil)
		if leader {
			c.elect(1)
		} else {
			c.settle()
		}
		n := c.node(2)
		c.cut(2)
		waiting := prop(t, n.applied())
		n.e.Propose([]Proposal{waiting})
		n.e.Read(1)
		c.settle()
		if n.n[waiting.TxID] != 0 {
			t.Fatal("decided while cut off")
		}
		n.e.Close()
		c.settle()
		// Without a leader raft never took it: not in any log.
		wantFailure(t, n.result(t, waiting), Closed, leader)
		if f := n.rds[1]; f == nil || f.Reason != Closed {
			t.Fatalf("read: %v, want Closed", f)
		}
		late := prop(t, n.applied())
		n.e.Propose([]Proposal{late})
		n.e.Read(2)
		c.settle()
		wantFailure(t, n.result(t, late), Closed, false)
		if f := n.rds[2]; f == nil || f.Reason != Closed {
			t.Fatalf("read after Close: %v, want Closed", f)
		}
		n.e.Tick()
		if n.e.HasReady() {
			t.Fatal("a closed engine has more to do")
		}
	}
}

// Ready changes nothing: asked twice, it hands out the same.
func TestReadyIsRepeatable(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(1)
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	a := n.e.Ready()
	b := n.e.Ready()
	if len(a.Entries) == 0 || !slices.EqualFunc(a.Entries, b.Entries, func(x, y raftpb.Entry) bool { return x.Index == y.Index }) ||
		len(a.Messages) != len(b.Messages) || len(a.Early) != len(b.Early) {
		t.Fatalf("two Readies differ: %d/%d entries, %d/%d messages, %d/%d early", len(a.Entries), len(b.Entries),
			len(a.Messages), len(b.Messages), len(a.Early), len(b.Early))
	}
	n.e.Advance()
	c.msgs = append(c.msgs, a.Early...)
	c.msgs = append(c.msgs, a.Messages...)
	c.settle()
	if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
}

// The configuration is reported when it changes, and only then.
func TestConfReportedOnChange(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	c.tick(3)
	for _, n := range c.nodes {
		if len(n.confs) != 1 || !slices.Equal(n.confs[0].Voters, []uint64{1, 2, 3}) {
			t.Fatalf("node %d: configurations reported %v, want the bootstrap's once", n.id, n.confs)
		}
	}
	cc := raftpb.ConfChangeV2{Changes: []raftpb.ConfChangeSingle{{Type: raftpb.ConfChangeRemoveNode, NodeID: 3}}}
	if err := c.node(1).e.Replica().ProposeConfChange(cc); err != nil {
		t.Fatal(err)
	}
	c.settle()
	c.tick(3)
	for _, n := range c.nodes[:2] {
		if len(n.confs) != 2 || !slices.Equal(n.confs[1].Voters, []uint64{1, 2}) {
			t.Fatalf("node %d: configurations reported %v, want voters 1, 2 second", n.id, n.confs)
		}
	}
}

// A replica that cannot apply what its leader sent (a snapshot that does
// not decode) hands out Err alone, again if asked, and nothing of it is
// carried out; closed, the engine fails what waits.
func TestReplicaLost(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(2)
	p := prop(t, n.applied())
	c.cut(2)
	n.e.Propose([]Proposal{p})
	c.settle()
	term := c.node(1).e.Replica().Status().Term
	n.e.Step(raftpb.Message{Type: raftpb.MsgSnap, From: 1, To: 2, Term: term, Snapshot: &raftpb.Snapshot{
		Data:     []byte("not a snapshot"),
		Metadata: raftpb.SnapshotMetadata{Index: 100, Term: term, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}},
	}})
	if !n.e.HasReady() {
		t.Fatal("nothing to do after a snapshot")
	}
	for range 2 {
		rd := n.e.Ready()
		if rd.Err == nil || rd.HasRaft || len(rd.Messages) > 0 || len(rd.Completions) > 0 {
			t.Fatalf("Ready of a lost replica: err %v, raft part %v, %d messages, %d completions", rd.Err, rd.HasRaft, len(rd.Messages), len(rd.Completions))
		}
	}
	if n.e.HasReady() {
		t.Fatal("a lost replica has more to do")
	}
	n.e.Close()
	c.handle(n)
	wantFailure(t, n.result(t, p), Closed, true)
}

// A leader's appends go out before its own log write; acknowledgements
// wait for the write they vouch for, and the leader's own copy counts
// toward a commit only once its write is durable.
func TestEarlyMessages(t *testing.T) {
	full := errors.New("disk full")
	t.Run("appends early, acknowledgements late", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		n := c.node(1)
		n.e.Propose([]Proposal{prop(t, n.applied())})
		rd := n.e.Ready()
		apps := 0
		for _, m := range rd.Early {
			if m.Type == raftpb.MsgApp && len(m.Entries) > 0 {
				apps++
			}
		}
		if apps != 2 || len(rd.Messages) != 0 {
			t.Fatalf("leader: %d appends with entries early (want 2), %d messages after the write (want 0)", apps, len(rd.Messages))
		}
		n.e.Advance()
		f := c.node(2)
		for _, m := range rd.Early {
			if m.To == f.id {
				f.e.Step(m)
			}
		}
		rd = f.e.Ready()
		if len(rd.Early) != 0 || len(rd.Messages) != 1 || rd.Messages[0].Type != raftpb.MsgAppResp {
			t.Fatalf("follower: early %v, after the write %v; want its acknowledgement after the write", rd.Early, rd.Messages)
		}
		f.e.Advance()
	})
	t.Run("the leader's copy counts once durable", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		c.cut(3)
		n := c.node(1)
		n.disk = full
		p := prop(t, n.applied())
		n.e.Propose([]Proposal{p})
		c.settle()
		last := n.e.Replica().FullStatus().Progress[2].Match
		if c.node(2).e.Replica().Status().Commit >= last || n.e.Replica().Status().Commit >= last {
			t.Fatalf("index %d committed with one durable copy of two needed", last)
		}
		wantFailure(t, n.result(t, p), LogRefused, true)
		n.disk = nil
		c.tick(1)
		if got := n.e.Replica().Status().Commit; got < last {
			t.Fatalf("leader's commit index %d once its write is durable, want %d", got, last)
		}
		if got := c.node(2).applied(); got < last {
			t.Fatalf("follower applied %d, want %d", got, last)
		}
	})
	t.Run("a follower acknowledges once durable", func(t *testing.T) {
		c := newCluster(t, 3, nil)
		c.elect(1)
		c.cut(3)
		f := c.node(2)
		f.disk = full
		n := c.node(1)
		before := n.e.Replica().Status().Commit
		n.e.Propose([]Proposal{prop(t, n.applied())})
		c.settle()
		if got := n.e.Replica().Status().Commit; got != before {
			t.Fatalf("commit index %d, was %d: the follower's write was refused", got, before)
		}
	})
}

// A Ready hands out what it applied before its log write; when the log
// refuses the write, those outcomes stand and are not handed out again,
// and what the write held fails.
func TestOutcomesBeforeARefusedWrite(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(1)
	deliver := func() {
		msgs := c.msgs
		c.msgs = nil
		for _, m := range msgs {
			c.node(m.To).e.Step(m)
		}
	}
	p1 := prop(t, n.applied())
	n.e.Propose([]Proposal{p1})
	c.handle(n) // p1 written; its appends out
	deliver()
	c.handle(c.node(2))
	c.handle(c.node(3))
	p2 := prop(t, n.applied())
	n.e.Propose([]Proposal{p2})
	deliver() // the acknowledgements: p1 commits
	rd := n.e.Ready()
	n.e.Apply(&rd) // with ApplyApart
	if len(rd.Results) != 1 || len(rd.Entries) != 1 || !rd.OutcomesFirst() {
		t.Fatalf("leader's Ready: %d results, %d entries; want p1 applied and p2 to write", len(rd.Results), len(rd.Entries))
	}
	n.disk = errors.New("disk full")
	c.handle(n)
	if cp := n.result(t, p1); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("p1: %+v, want committed before the refused write", cp)
	}
	wantFailure(t, n.result(t, p2), LogRefused, true)
	n.disk = nil
	c.tick(2)
	if n.n[p1.TxID] != 1 || n.n[p2.TxID] != 1 {
		t.Fatalf("handed out %d and %d times after the log took the write again, want once each", n.n[p1.TxID], n.n[p2.TxID])
	}
	if cp := n.result(t, p1); cp.Err != nil {
		t.Fatalf("p1 after the retry: %+v", cp)
	}
}

// With OutcomesAfterWrite a Ready's outcomes wait for its write: when
// the log refuses it, a commit it applied was never handed out, and its
// caller learns an unknown outcome (it did commit), never a failure and
// never twice; the state with it is published once the log takes the
// write.
func TestOutcomesAfterARefusedWrite(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config, _ *consistency.Config) { cfg.OutcomesAfterWrite = true })
	c.elect(1)
	n := c.node(1)
	deliver := func() {
		msgs := c.msgs
		c.msgs = nil
		for _, m := range msgs {
			c.node(m.To).e.Step(m)
		}
	}
	p1 := prop(t, n.applied())
	n.e.Propose([]Proposal{p1})
	c.handle(n) // p1 written; its appends out
	deliver()
	c.handle(c.node(2))
	c.handle(c.node(3))
	p2 := prop(t, n.applied())
	n.e.Propose([]Proposal{p2})
	deliver() // the acknowledgements: p1 commits
	rd := n.e.Ready()
	if len(rd.Results) != 1 || len(rd.Entries) != 1 || rd.OutcomesFirst() {
		t.Fatalf("leader's Ready: %d results, %d entries, outcomes first %v; want p1 applied, p2 to write, outcomes after", len(rd.Results), len(rd.Entries), rd.OutcomesFirst())
	}
	n.disk = errors.New("disk full")
	c.handle(n)
	wantFailure(t, n.result(t, p1), LogRefused, true)
	wantFailure(t, n.result(t, p2), LogRefused, true)
	n.disk = nil
	c.tick(2)
	if n.n[p1.TxID] != 1 || n.n[p2.TxID] != 1 {
		t.Fatalf("handed out %d and %d times after the log took the write again, want once each", n.n[p1.TxID], n.n[p2.TxID])
	}
	if _, ok := n.e.Replica().State().Get(objectOf(p1.TxID)); !ok {
		t.Fatal("p1's write is not in the state published after the log took the write")
	}
}

// A leader applies, and answers, only entries it has written itself,
// whatever its followers acknowledged while its write was refused: raft
// counts the leader's own copy at Advance. A lone voter is the sharpest
// case (its own write alone commits). Driven at random, with writes
// refused on any node and leaders elected anew; handle checks every
// Ready.
func TestLeaderAppliesOnlyWhatItWrote(t *testing.T) {
	for _, voters := range []int{1, 3} {
		for seed := uint64(1); seed <= 20; seed++ {
			rng := rand.New(rand.NewPCG(seed, uint64(voters)))
			c := newCluster(t, voters, nil)
			c.elect(1)
			full := errors.New("disk full")
			applied := 0
			for range 300 {
				n := c.nodes[rng.IntN(voters)]
				switch rng.IntN(8) {
				case 0:
					n.disk = full
				case 1, 2:
					n.disk = nil
				case 3:
					if n.disk == nil && n.e.Replica().Campaign() != nil {
						t.Fatalf("seed %d: campaign", seed)
					}
				default:
					n.e.Propose([]Proposal{prop(t, n.applied())})
				}
				// Deliver what is out now, then tick: a leader whose
				// write is refused steps its followers' acknowledgements
				// while it holds the write.
				c.handle(n)
				c.settle()
				c.tick(1)
			}
			for _, n := range c.nodes {
				applied += n.leaderApplied
			}
			if applied == 0 {
				t.Fatalf("%d voters, seed %d: no leader applied anything", voters, seed)
			}
		}
	}
}

// proposals counts the copies of p handed to raft that the messages sent
// carry: proposal messages of a follower, appends of the leader to id.
func proposals(c *cluster, p Proposal, typ raftpb.MessageType, to uint64) (copies int) {
	for _, m := range c.sent {
		if m.Type != typ || m.To != to {
			continue
		}
		for _, ent := range m.Entries {
			if bytes.Equal(ent.Data, p.Data) {
				copies++
			}
		}
	}
	return copies
}

// A proposal the log holds at the current term is never proposed again,
// however long its commit takes: the term's leader holds it and sends it
// until it commits. Proposed again, a large record would only add to what
// a slow link must carry first.
func TestHeldProposalIsNotResent(t *testing.T) {
	for _, on := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("proposed on %d", on), func(t *testing.T) {
			c := newCluster(t, 3, nil)
			c.elect(1)
			n := c.node(on)
			// The followers take the appends but their answers are
			// lost: nothing commits.
			c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgAppResp }
			p := prop(t, n.applied())
			n.e.Propose([]Proposal{p})
			c.settle()
			c.tick(10 * DefaultResendTicks)
			if n.n[p.TxID] != 0 {
				t.Fatalf("decided without a quorum: %+v", n.out[p.TxID])
			}
			if on != 1 {
				if k := proposals(c, p, raftpb.MsgProp, 1); k != 1 {
					t.Fatalf("forwarded to the leader %d times, want once", k)
				}
			}
			c.drop = nil
			c.tick(1)
			if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
				t.Fatalf("%+v, want committed", cp)
			}
			if k := proposals(c, p, raftpb.MsgApp, 3); k == 0 {
				t.Fatal("no append carried the record")
			}
			ents, err := c.node(3).st.Entries(1, c.node(3).applied()+1, math.MaxUint64)
			if err != nil {
				t.Fatal(err)
			}
			copies := 0
			for _, ent := range ents {
				if bytes.Equal(ent.Data, p.Data) {
					copies++
				}
			}
			if copies != 1 {
				t.Fatalf("the log holds %d copies of the record, want 1", copies)
			}
		})
	}
}

// A proposal lost on its way to the leader, again and again, is proposed
// again after ResendTicks, then after twice as long each time, up to 8
// times ResendTicks.
func TestResendBacksOff(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(2)
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgProp }
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	c.settle()
	var at []int
	for tick := 1; len(at) < 6; tick++ {
		before := proposals(c, p, raftpb.MsgProp, 1)
		c.tick(1)
		if proposals(c, p, raftpb.MsgProp, 1) > before {
			at = append(at, tick)
		}
		if tick > 100*DefaultResendTicks {
			t.Fatalf("proposed again at ticks %v only", at)
		}
	}
	r := DefaultResendTicks
	want := []int{r, 3 * r, 7 * r, 15 * r, 23 * r, 31 * r}
	if !slices.Equal(at, want) {
		t.Fatalf("proposed again at ticks %v, want %v", at, want)
	}
	c.drop = nil
	c.tick(8 * r)
	if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
}

// A proposal the log held at an earlier term, which the new leader did not
// keep, is proposed again half of ResendTicks into the new term.
func TestProposalDroppedByALeaderChangeIsResent(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	n := c.node(1)
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgApp && m.From == 1 }
	p := prop(t, n.applied())
	n.e.Propose([]Proposal{p})
	c.settle()
	c.drop = nil
	// As a leadership transfer: 3 votes for 2 (its log is as long), 1
	// refuses; 2's appends replace 1's entry.
	term := n.e.Replica().Status().Term
	c.node(2).e.Step(raftpb.Message{Type: raftpb.MsgTimeoutNow, From: 1, To: 2, Term: term})
	c.settle()
	for _, x := range c.nodes {
		if x.e.Lead() != 2 {
			t.Fatalf("node %d: leader %d, want 2", x.id, x.e.Lead())
		}
	}
	first, _ := n.st.FirstIndex()
	last, _ := n.st.LastIndex()
	if ents, _ := n.st.Entries(first, last+1, math.MaxUint64); slices.ContainsFunc(ents, func(e raftpb.Entry) bool { return bytes.Equal(e.Data, p.Data) }) {
		t.Fatal("the new leader kept the record: the test tests nothing")
	}
	c.tick(DefaultResendTicks / 2)
	if n.n[p.TxID] != 0 {
		t.Fatalf("decided %d ticks into the new term: %+v", DefaultResendTicks/2, n.out[p.TxID])
	}
	c.tick(1)
	if cp := n.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed after the resend", cp)
	}
}

// A proposal the follower's log held, then replaced by a leader's snapshot
// that covers it, is answered by that snapshot: the follower never applies
// the entry, and the snapshot's deduplication memory holds its decision.
// Nothing is proposed again.
func TestProposalCoveredByASnapshotIsAnsweredByIt(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgAppResp }
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	c.cut(3) // 3 holds the entry; 1 and 2 commit it without 3
	c.tick(3)
	if lead.e.Replica().State().Version(objectOf(p.TxID)) == 0 {
		t.Fatal("the leader did not commit the record")
	}
	lead.e.Propose([]Proposal{prop(t, lead.applied())})
	c.settle()
	snap := snapshotOf(t, lead, f.id)
	idx := snap.Snapshot.Metadata.Index
	f.e.Step(snap)
	c.handle(f)
	if f.applied() != idx {
		t.Fatalf("follower applied %d, want the snapshot's %d", f.applied(), idx)
	}
	if cp := f.result(t, p); cp.Err != nil || cp.Result.Outcome != consistency.Committed {
		t.Fatalf("%+v, want committed", cp)
	}
	c.drop = nil
	before := proposals(c, p, raftpb.MsgProp, 1)
	c.tick(2 * DefaultResendTicks)
	if n := proposals(c, p, raftpb.MsgProp, 1); n != before {
		t.Fatalf("proposed again %d times after its snapshot answered it", n-before)
	}
	f.result(t, p) // still exactly one completion
}

// A proposal covered by a leader's snapshot whose deduplication memory no
// longer holds its decision (a window shorter than what the snapshot
// skipped) is proposed again, and its copy decides Stale: its outcome is
// unknown.
func TestProposalCoveredByASnapshotPastTheWindowIsResent(t *testing.T) {
	c := newCluster(t, 3, func(_ *Config, rc *consistency.Config) { rc.DedupWindow = 2 })
	c.elect(1)
	lead, f := c.node(1), c.node(3)
	c.drop = func(m raftpb.Message) bool { return m.Type == raftpb.MsgAppResp }
	p := prop(t, f.applied())
	f.e.Propose([]Proposal{p})
	c.settle()
	c.cut(3)
	c.tick(3)
	for range 4 {
		lead.e.Propose([]Proposal{prop(t, lead.applied())})
		c.settle()
	}
	f.e.Step(snapshotOf(t, lead, f.id))
	c.handle(f)
	if f.n[p.TxID] != 0 {
		t.Fatalf("answered from a snapshot whose window no longer holds its decision: %+v", f.out[p.TxID])
	}
	c.drop = nil
	c.tick(DefaultResendTicks)
	wantFailure(t, f.result(t, p), ResentStale, true)
}

// snapshotOf returns the snapshot message the leader lead would send to
// the replica to: its state as it stands, at its term.
func snapshotOf(t *testing.T, lead *node, to uint64) raftpb.Message {
	t.Helper()
	idx, write, err := lead.e.Replica().SnapshotStream()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	term := lead.e.Replica().Status().Term
	return raftpb.Message{Type: raftpb.MsgSnap, From: lead.id, To: to, Term: term, Snapshot: &raftpb.Snapshot{
		Data:     buf.Bytes(),
		Metadata: raftpb.SnapshotMetadata{Index: idx, Term: term, ConfState: lead.e.ConfState()},
	}}
}
