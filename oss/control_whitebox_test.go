package oss

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// classifying is a transport.ControlSender over a transport without one:
// it records the type of every raft message sent by each method, and
// sends them all with Send.
type classifying struct {
	transport.Transport
	mu   *sync.Mutex
	sent map[bool]map[raftpb.MessageType]int // by control, by type
}

func (c classifying) note(control bool, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if env.decode(msg) != nil || m.Unmarshal(env.Msg) != nil {
		return
	}
	c.mu.Lock()
	c.sent[control][m.Type]++
	c.mu.Unlock()
}

func (c classifying) Send(ctx context.Context, to string, msg []byte) error {
	c.note(false, msg)
	return c.Transport.Send(ctx, to, msg)
}

func (c classifying) SendControl(ctx context.Context, to string, msg []byte) error {
	c.note(true, msg)
	return c.Transport.Send(ctx, to, msg)
}

// On a transport with a control stream, a heap sends appends and the
// large proposals a follower forwards (past controlProposalBytes) with
// Send, and every other raft message (heartbeats, votes, responses) with
// SendControl, so that they never wait behind an append.
func TestRaftControlMessagesTakeTheControlStream(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	var mu sync.Mutex
	sent := map[bool]map[raftpb.MessageType]int{false: {}, true: {}}
	c := startTestNodes(t, 7)
	c.wrap = func(name string, tr transport.Transport) transport.Transport {
		return classifying{Transport: tr, mu: &mu, sent: sent}
	}
	for i, name := range []string{"a", "b", "c"} {
		c.add(name, i > 0, nil)
		c.open(name, "bank")
	}
	leader := c.waitLeader()
	for name, h := range c.heaps {
		if err := commitOfSize(h, uuid.New(), 2*controlProposalBytes); err != nil {
			t.Fatalf("commit on %s (leader %s): %v", name, leader, err)
		}
	}
	waitCond(t, "the replicas to converge", c.converged)
	waitCond(t, "a heartbeat and its answer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return sent[true][raftpb.MsgHeartbeat] > 0 && sent[true][raftpb.MsgHeartbeatResp] > 0
	})

	mu.Lock()
	defer mu.Unlock()
	for typ := range sent[false] {
		if typ != raftpb.MsgApp && typ != raftpb.MsgProp {
			t.Errorf("%v sent with Send, not SendControl: %v", typ, sent)
		}
	}
	for typ := range sent[true] {
		if typ == raftpb.MsgApp || typ == raftpb.MsgProp || typ == raftpb.MsgSnap {
			t.Errorf("%v sent with SendControl: %v", typ, sent)
		}
	}
	for _, want := range []struct {
		control bool
		typ     raftpb.MessageType
	}{{false, raftpb.MsgApp}, {false, raftpb.MsgProp}, {true, raftpb.MsgAppResp}, {true, raftpb.MsgHeartbeat}, {true, raftpb.MsgHeartbeatResp}} {
		if sent[want.control][want.typ] == 0 {
			t.Errorf("no %v sent (control %v): %v", want.typ, want.control, sent)
		}
	}
}
