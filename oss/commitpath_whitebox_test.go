package oss

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"

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
}

func (h ackHandler) HandleMessage(from string, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if after := h.after.Load(); after != 0 && env.decode(msg) == nil && env.Heap == "bank" &&
		m.Unmarshal(env.Msg) == nil && m.Type == raftpb.MsgAppResp && !m.Reject && m.Index > after {
		h.acks.Add(1)
	}
	h.Handler.HandleMessage(from, msg)
}

// A leader's appends reach its followers while its own log write is still
// being made: with the leader's log sync held, its followers write the
// commit's entry and acknowledge it; once the sync is let go the commit
// completes, and every replica holds it.
func TestFollowersWriteWhileTheLeaderSyncs(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 31, nil)
	after := map[string]*atomic.Uint64{}
	acks := map[string]*atomic.Int64{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return ackHandler{Handler: hd, after: after[name], acks: acks[name]}
	}
	names := []string{"a", "b", "c"}
	faults := map[string]*persist.FaultFS{}
	for i, name := range names {
		after[name], acks[name] = new(atomic.Uint64), new(atomic.Int64)
		faults[name] = &persist.FaultFS{FS: persist.NewMemFS()}
		c.fss[name] = faults[name]
		c.add(name, i > 0, func(cfg *Config) {
			cfg.DataDir = "/data/" + name
			// No election while the leader's loop waits for its sync.
			cfg.TickInterval = 100 * time.Millisecond
		})
	}
	for _, name := range names {
		c.open(name, "bank")
	}
	ids := seedBank(t, c.heaps["a"])
	var lead string
	waitCond(t, "one leader of the heap for all", func() bool {
		lead = c.heaps["a"].Stats().Leader
		for _, name := range names {
			if c.heaps[name].Stats().Leader != lead {
				return false
			}
		}
		return lead != ""
	})
	h := c.heaps[lead]

	held, release := make(chan struct{}), make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(let) // before the nodes close
	var armed atomic.Bool
	faults[lead].SetRule(func(op persist.Op, name string) error {
		if armed.Load() && op == persist.OpSync && strings.Contains(name, "/wal/") {
			holdOnce.Do(func() { close(held) })
			<-release
		}
		return nil
	})
	after[lead].Store(h.Stats().Applied)
	armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- transfer(context.Background(), h, ids[0], ids[1], 1) }()
	waitCond(t, "the leader's log sync", func() bool {
		select {
		case <-held:
			return true
		default:
			return false
		}
	})
	waitCond(t, "the followers' acknowledgements while the leader's own sync is held", func() bool { return acks[lead].Load() > 0 })
	let()
	if err := await.Recv(t, done, "the commit whose leader's sync was held to return"); err != nil {
		t.Fatalf("the commit after its leader's sync was let go: %v", err)
	}
	c.checkBank(ids)
}
