package oss

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
)

// ackHandler counts, for the node it wraps, the acknowledgements of
// appends to heap "bank" past index after that it receives.
type ackHandler struct {
	transport.Handler
	after *atomic.Uint64 // 0: not counting
	acks  *atomic.Int64
	max   *atomic.Uint64 // if not nil, the highest index acknowledged
}

func (h ackHandler) HandleMessage(from string, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if after := h.after.Load(); after != 0 && env.decode(msg) == nil && env.Heap == "bank" &&
		m.Unmarshal(env.Msg) == nil && m.Type == raftpb.MsgAppResp && !m.Reject && m.Index > after {
		h.acks.Add(1)
		for h.max != nil {
			if old := h.max.Load(); m.Index <= old || h.max.CompareAndSwap(old, m.Index) {
				break
			}
		}
	}
	h.Handler.HandleMessage(from, msg)
}

// placementOrder returns the servers named, as placement ranks them
// for heap (engine.Rank): the first is where it puts the heap's leader.
func placementOrder(heap string, names ...string) []string {
	members := make([]engine.Member, len(names))
	for i, name := range names {
		members[i] = engine.Member{Name: name, Server: true}
	}
	var order []string
	for _, m := range engine.Rank(heap, members) {
		order = append(order, m.Name)
	}
	return order
}

// heldSync is a three-node durable cluster with heap "bank" seeded,
// whose leader's log syncs can be held: once armed, every sync of the
// leader's log waits until let is called (held is closed at the first).
type heldSync struct {
	c      *testCluster
	h      *Heap // the leader's
	ids    []uuid.UUID
	after  *atomic.Uint64 // acknowledgements counted past it, at the leader
	acks   *atomic.Int64
	maxAck *atomic.Uint64 // the highest index acknowledged to the leader
	held   chan struct{}
	let    func()
	armed  atomic.Bool
}

func newHeldSync(t *testing.T, seed uint64) *heldSync {
	c := startTestNodesWith(t, seed, nil)
	after, acks, maxAck := map[string]*atomic.Uint64{}, map[string]*atomic.Int64{}, map[string]*atomic.Uint64{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return ackHandler{Handler: hd, after: after[name], acks: acks[name], max: maxAck[name]}
	}
	// The node placement puts the heap's leader on starts the cluster
	// and creates the heap, so it leads from the start: the leader's
	// place does not move while the test holds its syncs (placement
	// moves leadership once its replicas have ticked engine.TransferTicks,
	// 15 s here, which a run at load reaches).
	names := placementOrder("bank", "a", "b", "c")
	faults := map[string]*persist.FaultFS{}
	for i, name := range names {
		after[name], acks[name], maxAck[name] = new(atomic.Uint64), new(atomic.Int64), new(atomic.Uint64)
		faults[name] = &persist.FaultFS{FS: persist.NewMemFS()}
		c.fss[name] = faults[name]
		c.add(name, i > 0, func(cfg *Config) {
			cfg.DataDir = "/data/" + name
			// No election while the leader's loop waits for its sync:
			// an election timeout of 3 s (at 100 ms a tick, a follower
			// at load 33 once called one, and the acknowledgements went
			// to the new leader).
			cfg.TickInterval = 300 * time.Millisecond
		})
	}
	for _, name := range names {
		c.open(name, "bank")
	}
	ids := seedBank(t, c.heaps[names[0]])
	lead := names[0]
	waitCond(t, "one leader of the heap for all, where placement puts it", func() bool {
		for _, name := range names {
			if c.heaps[name].Stats().Leader != lead {
				return false
			}
		}
		return true
	})
	// Every replica has applied the seed: the leader's own write of it is
	// off the commit's path, so its commit may return before that write
	// is durable. Armed then, the test would hold that write, and the
	// leader, whose state would lack the accounts, could not run a
	// transfer: it would never propose one.
	waitCond(t, "every replica to apply the seeded bank", func() bool {
		commit := c.heaps[lead].Stats().LeaderCommit
		for _, name := range names {
			if c.heaps[name].Stats().Applied < commit {
				return false
			}
		}
		return commit != 0
	})
	hs := &heldSync{c: c, h: c.heaps[lead], ids: ids, after: after[lead], acks: acks[lead], maxAck: maxAck[lead], held: make(chan struct{})}
	release := make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	hs.let = func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(hs.let) // before the nodes close
	faults[lead].SetRule(func(op persist.Op, name string) error {
		if hs.armed.Load() && op == persist.OpSync && strings.Contains(name, "/wal/") {
			holdOnce.Do(func() { close(hs.held) })
			<-release
		}
		return nil
	})
	return hs
}

// arm holds the leader's log syncs from now on and counts the
// acknowledgements of entries past those it has applied.
func (hs *heldSync) arm() {
	hs.after.Store(hs.h.Stats().Applied)
	hs.armed.Store(true)
}

// waitHeld waits until a sync of the leader's log is held.
func (hs *heldSync) waitHeld(t *testing.T) {
	waitCond(t, "the leader's log sync", func() bool {
		select {
		case <-hs.held:
			return true
		default:
			return false
		}
	})
}

// A leader's appends reach its followers while its own log write is still
// being made: with the leader's log sync held, its followers write the
// commit's entry and acknowledge it; once the sync is let go the commit
// completes, and every replica holds it.
func TestFollowersWriteWhileTheLeaderSyncs(t *testing.T) {
	t.Parallel()
	hs := newHeldSync(t, 31)
	hs.arm()
	done := make(chan error, 1)
	go func() { done <- transfer(context.Background(), hs.h, hs.ids[0], hs.ids[1], 1) }()
	hs.waitHeld(t)
	waitCond(t, "the followers' acknowledgements while the leader's own sync is held", func() bool { return hs.acks.Load() > 0 })
	hs.let()
	if err := await.Recv(t, done, "the commit whose leader's sync was held to return"); err != nil {
		t.Fatalf("the commit after its leader's sync was let go: %v", err)
	}
	hs.c.checkBank(hs.ids)
}
