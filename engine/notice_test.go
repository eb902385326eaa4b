package engine

import (
	"bytes"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// noticeClusters are the kinds of replica commit notices go between.
var noticeClusters = []struct {
	name  string
	start func(t *testing.T) *cluster
}{
	{"sync", func(t *testing.T) *cluster { return newCluster(t, 3, nil) }},
	{"async", func(t *testing.T) *cluster { return asyncCluster(t, 3) }},
}

// noticing has the cluster's leaders mark commit notices, elects node 1
// and returns it.
func (c *cluster) noticing() *node {
	c.notices = true
	c.elect(1)
	return c.node(1)
}

// answersTo counts the acknowledgements followers sent to commit notices
// among sent (an answer to a notice is one in its term for its index,
// sent after it), and the notices.
func answersTo(sent []raftpb.Message) (notices, answers int) {
	type key struct{ from, term, index uint64 }
	open := map[key]bool{}
	for _, m := range sent {
		switch {
		case m.Type == raftpb.MsgApp && bytes.Equal(m.Context, noticeMark):
			notices++
			open[key{m.To, m.Term, m.Index}] = true
		case m.Type == raftpb.MsgApp:
			delete(open, key{m.To, m.Term, m.Index + uint64(len(m.Entries))})
		case m.Type == raftpb.MsgAppResp && !m.Reject && open[key{m.From, m.Term, m.Index}]:
			answers++
			delete(open, key{m.From, m.Term, m.Index})
		}
	}
	return notices, answers
}

// A leader marks the append that only carries a new commit index to a
// follower it knows holds the log through the append's index, and the
// follower does not answer it; the followers still apply every commit.
func TestCommitNoticesAreNotAnswered(t *testing.T) {
	for _, k := range noticeClusters {
		t.Run(k.name, func(t *testing.T) {
			c := k.start(t)
			leader := c.noticing()
			c.sent = nil
			for range 20 {
				leader.e.Propose([]Proposal{prop(t, leader.applied())})
				c.settle()
			}
			notices, answers := answersTo(c.sent)
			if notices == 0 {
				t.Fatal("20 commits, one at a time, and the leader marked no commit notice")
			}
			if answers != 0 {
				t.Fatalf("followers answered %d of %d commit notices", answers, notices)
			}
			for _, m := range c.sent {
				if bytes.Equal(m.Context, noticeMark) && (m.Type != raftpb.MsgApp || len(m.Entries) != 0) {
					t.Fatalf("a %v with %d entries marked as a commit notice", m.Type, len(m.Entries))
				}
			}
			for _, n := range c.nodes {
				if n.applied() != leader.applied() {
					t.Fatalf("node %d applied up to %d, the leader %d: a follower missed a commit index", n.id, n.applied(), leader.applied())
				}
			}
		})
	}
}

// A follower the leader no longer knows to be up to date (it reported
// it unreachable, so raft probes it) is sent no notice: the probe's
// answer, which returns it to replication, goes, and commits through it
// go on.
func TestProbedFollowerIsAnswered(t *testing.T) {
	for _, k := range noticeClusters {
		t.Run(k.name, func(t *testing.T) {
			c := k.start(t)
			leader := c.noticing()
			leader.e.Propose([]Proposal{prop(t, leader.applied())})
			c.settle()
			leader.e.Replica().ReportUnreachable(2)
			if st := progressOf(leader, 2); st != tracker.StateProbe {
				t.Fatalf("follower 2 in state %v after an unreachable report, want probe", st)
			}
			c.tick(5) // heartbeats: their answers have the leader probe again
			if st := progressOf(leader, 2); st != tracker.StateReplicate {
				t.Fatalf("follower 2 in state %v after heartbeats, want replicate: the probe went unanswered", st)
			}
			c.cut(3)
			p := prop(t, leader.applied())
			leader.e.Propose([]Proposal{p})
			c.settle()
			if cp, ok := leader.out[p.TxID]; !ok || cp.Err != nil {
				t.Fatalf("a commit through the probed follower alone: %+v, %v", cp, ok)
			}
		})
	}
}

func progressOf(n *node, id uint64) tracker.StateType {
	var st tracker.StateType
	n.e.Replica().WithProgress(func(pid uint64, pr tracker.Progress) {
		if pid == id {
			st = pr.State
		}
	})
	return st
}

// Acknowledgements alike in every field leave once: a follower that
// steps the same append twice between two Readies answers once. Under
// load one Ready held 35 copies of one answer.
func TestAlikeAnswersLeaveOnce(t *testing.T) {
	for _, k := range noticeClusters {
		t.Run(k.name, func(t *testing.T) {
			c := k.start(t)
			c.elect(1)
			leader, f := c.node(1), c.node(2)
			leader.e.Propose([]Proposal{prop(t, leader.applied())})
			c.settle()
			last := leader.e.Replica().FullStatus().Commit
			term := leader.e.Replica().Status().Term
			app := raftpb.Message{Type: raftpb.MsgApp, From: 1, To: 2, Term: term, Index: last, LogTerm: term, Commit: last}
			f.e.Step(app)
			f.e.Step(app)
			c.sent = nil
			c.handle(f)
			n := 0
			for _, m := range c.sent {
				if m.Type == raftpb.MsgAppResp && m.From == 2 {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d answers to two copies of one append, want 1: %s", n, describe(c.sent))
			}
		})
	}
}

func describe(msgs []raftpb.Message) string {
	var b bytes.Buffer
	for _, m := range msgs {
		fmt.Fprintf(&b, "[%v %d→%d index %d] ", m.Type, m.From, m.To, m.Index)
	}
	return b.String()
}
