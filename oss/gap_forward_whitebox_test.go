package oss

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/transport"
	"go.etcd.io/raft/v3/raftpb"
)

// forwardSizes is a transport.ControlSender over a transport without one:
// it records the size of every forwarded proposal (MsgProp) by the method
// that sent it, and sends everything with Send.
type forwardSizes struct {
	transport.Transport
	mu   *sync.Mutex
	sent map[bool][]int // by control
}

func (f forwardSizes) note(control bool, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if env.decode(msg) != nil || m.Unmarshal(env.Msg) != nil || m.Type != raftpb.MsgProp {
		return
	}
	f.mu.Lock()
	f.sent[control] = append(f.sent[control], len(msg))
	f.mu.Unlock()
}

func (f forwardSizes) Send(ctx context.Context, to string, msg []byte) error {
	f.note(false, msg)
	return f.Transport.Send(ctx, to, msg)
}

func (f forwardSizes) SendControl(ctx context.Context, to string, msg []byte) error {
	f.note(true, msg)
	return f.Transport.Send(ctx, to, msg)
}

// A follower forwards a small proposal on the control stream, where its
// log write's acknowledgement goes too, and a large one on the message
// stream with the appends.
func TestSmallForwardsTakeTheControlStream(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sent := map[bool][]int{}
	c := startTestNodes(t, 11)
	c.wrap = func(name string, tr transport.Transport) transport.Transport {
		return forwardSizes{Transport: tr, mu: &mu, sent: sent}
	}
	for i, name := range []string{"a", "b", "c"} {
		c.add(name, i > 0, nil)
		c.open(name, "bank")
	}
	forwarded := func(control bool, size int) func() bool {
		return func() bool {
			lead := c.waitLeader()
			for name, h := range c.heaps {
				if name != lead {
					if err := commitOfSize(h, uuid.New(), size); err != nil {
						t.Fatalf("commit of %d bytes on %s: %v", size, name, err)
					}
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			return len(sent[control]) > 0
		}
	}
	waitCond(t, "a small proposal forwarded on the control stream", forwarded(true, 200))
	waitCond(t, "a large proposal forwarded on the message stream", forwarded(false, 2*controlProposalBytes))
	mu.Lock()
	defer mu.Unlock()
	for _, n := range sent[true] {
		if n > controlProposalBytes {
			t.Errorf("a forward of %d bytes on the control stream (limit %d)", n, controlProposalBytes)
		}
	}
	for _, n := range sent[false] {
		if n <= controlProposalBytes {
			t.Errorf("a forward of %d bytes on the message stream (limit %d)", n, controlProposalBytes)
		}
	}
}
