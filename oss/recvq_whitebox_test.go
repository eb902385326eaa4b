package oss

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport/transporttest"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// A heap's queue of raft messages from peers is bounded in bytes, not
// only in messages: a peer that floods large appends to a node whose heap
// loop is stalled makes it hold at most the recvQueue limit (4 frames) of
// them; the rest are dropped at once, never waiting, and counted; the heap
// goes on once its loop does. Before, the queue took 4096 messages of up
// to a frame each: 32 GiB with the default 8 MiB frame.
func TestReceiveQueueIsBoundedInBytes(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	const frame = 64 << 10
	names := []string{"a", "b", "c"}
	c := &testCluster{t: t, net: transporttest.NewNetwork(41), nodes: map[string]*Node{}, heaps: map[string]*Heap{},
		eps: map[string]*transporttest.Endpoint{}, fss: map[string]persist.FS{},
		tweak: func(cfg *Config) { cfg.MaxFrameBytes = frame }}
	c.net.Start()
	for i, name := range names {
		c.add(name, i > 0, nil)
	}
	t.Cleanup(func() {
		for name := range c.nodes {
			c.kill(name)
		}
		c.net.Stop()
	})
	for _, name := range names {
		c.open(name, "bank")
	}
	g := c.waitGroup(t, "bank")
	var follower string
	for _, name := range names {
		if name != g.Leader {
			follower = name
		}
	}
	n, lead := c.nodes[follower], c.nodes[g.Leader]
	h := c.heaps[follower]
	limit := n.limits.recvQueue
	if limit != 4*frame {
		t.Fatalf("the queue's limit is %d, want 4 frames", limit)
	}

	// Park the follower's loop: it applies a commit, then waits for the
	// watch lock to deliver its change set.
	h.watchMu.Lock()
	parked := true
	defer func() {
		if parked {
			h.watchMu.Unlock()
		}
	}()
	id := uuid.New()
	committed := make(chan error, 1)
	go func() {
		committed <- update(context.Background(), c.heaps[g.Leader], func(tx *Tx) error { return Put(tx, id, 1) })
	}()
	await.Until(t, "the follower to apply the commit", func() bool { return h.state.Load().Version(id) != 0 })

	// Cut off from the others, the follower's queue takes the flood
	// alone: the leader's heartbeats to it, dropped too while its loop is
	// parked, would count among the drops on a machine slow enough that
	// the flood outlasts a tick.
	c.net.Partition([]string{follower})
	quiesce(t, c.net)
	before := h.recvq.dropped.Load()

	// The leader floods it with appends of a frame each (from an old
	// term, which raft ignores once it steps them).
	const flood = 40
	for i := range flood {
		m := raftpb.Message{Type: raftpb.MsgApp, From: lead.id, To: n.id, Term: 1,
			Entries: []raftpb.Entry{{Term: 1, Index: uint64(i + 1), Data: make([]byte, frame-2<<10)}}}
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env := raftEnvelope{Heap: "bank", Group: h.group, Msg: b}
		n.receive(g.Leader, env.appendTo(nil))
		if q := h.recvq.bytes.Load(); q > limit {
			t.Fatalf("after %d appends of %d bytes the queue holds %d bytes, limit %d", i+1, len(b), q, limit)
		}
	}
	// The queue holds 4 frames and each append costs more than 3/4 of
	// one: at most 4 of them got in, every other one was counted.
	if d := h.recvq.dropped.Load() - before; d < flood-4 || d > flood {
		t.Fatalf("%d of %d appends dropped: the queue holds at most 4 of them", d, flood)
	}

	// The loop goes on; so does the heap.
	c.net.Heal()
	h.watchMu.Unlock()
	parked = false
	if err := await.Recv(t, committed, "the commit to return"); err != nil {
		t.Fatal(err)
	}
	after := uuid.New()
	untilCommitted(t, "a commit after the flood", h, func(tx *Tx) error { return Put(tx, after, 2) })
}

// quiesce waits until a partition just made holds for every delivery: the
// network's goroutine delivers one message at a time, deciding under its
// lock whether a message gets through, so once it has delivered one more
// (between any two nodes: the others' heartbeats keep coming) the
// delivery it may have been running as the partition was made is over.
func quiesce(t *testing.T, net *transporttest.Network) {
	t.Helper()
	start := net.Stats().Delivered
	await.Until(t, "a delivery after the partition", func() bool { return net.Stats().Delivered != start })
}
