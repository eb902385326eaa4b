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

	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
)

// ackLog records, at a leader, the acknowledgements of appends to heap
// "bank" it receives, and whether the followers' syncs had been let go
// when each arrived.
type ackLog struct {
	transport.Handler
	mu   sync.Mutex
	acks []ackSeen
	let  *atomic.Bool
}

type ackSeen struct {
	index uint64
	let   bool // the followers' held syncs had been let go
}

func (l *ackLog) HandleMessage(from string, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if env.decode(msg) == nil && env.Heap == "bank" && m.Unmarshal(env.Msg) == nil && m.Type == raftpb.MsgAppResp && !m.Reject {
		let := l.let.Load()
		l.mu.Lock()
		l.acks = append(l.acks, ackSeen{m.Index, let})
		l.mu.Unlock()
	}
	l.Handler.HandleMessage(from, msg)
}

// covered reports whether an acknowledgement of index or beyond arrived,
// and whether one did before the syncs were let go.
func (l *ackLog) covered(index uint64) (any, early bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.acks {
		if a.index >= index {
			any = true
			early = early || !a.let
		}
	}
	return any, early
}

// writeGate is an encodeFault that notes the last entry a replica's writes
// carried and, once closed at an index, holds the replica's loop in the
// encoding of any write past it until opened.
type writeGate struct {
	last   atomic.Uint64 // the last entry of a write encoded
	at     atomic.Uint64 // 0: open
	inside chan struct{} // closed when the loop first waits
	open   chan struct{}
	once   sync.Once
}

func newWriteGate() *writeGate {
	return &writeGate{inside: make(chan struct{}), open: make(chan struct{})}
}

func (g *writeGate) fault(w engine.Write) error {
	n := len(w.Entries)
	if n == 0 {
		return nil
	}
	if at := g.at.Load(); at != 0 && w.Entries[n-1].Index > at {
		g.once.Do(func() { close(g.inside) })
		<-g.open
	}
	for last := w.Entries[n-1].Index; ; {
		if old := g.last.Load(); old >= last || g.last.CompareAndSwap(old, last) {
			return nil
		}
	}
}

// A follower's acknowledgement of its log write goes out from the log's
// writer the moment the write is durable, not once the follower's loop
// has heard of it, and never before. The followers' log syncs are held
// while a commit's entry is written; their loops are then held in the
// encoding of the next commit's write; the syncs are let go. The leader
// receives an acknowledgement of the first entry while both loops are
// still held (without the writer sending it, none comes until a loop
// goes on), and none arrived while the syncs were held.
func TestFollowerAcknowledgesFromItsLogWriter(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 53, nil)
	names := placementOrder("bank", "a", "b", "c")
	lead, followers := names[0], names[1:]
	acks := &ackLog{let: new(atomic.Bool)}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		if name != lead {
			return hd
		}
		acks.Handler = hd
		return acks
	}
	faults := map[string]*persist.FaultFS{}
	for i, name := range names {
		faults[name] = &persist.FaultFS{FS: persist.NewMemFS()}
		c.fss[name] = faults[name]
		c.add(name, i > 0, func(cfg *Config) {
			cfg.DataDir = "/data/" + name
			// No election while the followers' loops are held: an
			// election timeout of 5 s.
			cfg.TickInterval = 500 * time.Millisecond
		})
	}
	for _, name := range names {
		c.open(name, "bank")
	}
	ids := seedBank(t, c.heaps[lead])
	waitCond(t, "one leader of the heap for all, where placement puts it, and every replica applied", func() bool {
		commit := c.heaps[lead].Stats().LeaderCommit
		for _, name := range names {
			if st := c.heaps[name].Stats(); st.Leader != lead || st.Applied < commit {
				return false
			}
		}
		return commit != 0
	})

	gates := map[string]*writeGate{}
	for _, name := range names {
		gates[name] = newWriteGate()
		fault := gates[name].fault
		c.heaps[name].encodeFault.Store(&fault)
	}
	var armed atomic.Bool
	held := map[string]chan struct{}{}
	release := make(chan struct{})
	var releaseOnce sync.Once
	let := func() {
		releaseOnce.Do(func() {
			acks.let.Store(true)
			close(release)
		})
	}
	openGates := func() {
		for _, name := range followers {
			g := gates[name]
			if g.at.Swap(0) != 0 {
				close(g.open)
			}
		}
	}
	t.Cleanup(func() { let(); openGates() })
	for _, name := range followers {
		held[name] = make(chan struct{})
		var once sync.Once
		faults[name].SetRule(func(op persist.Op, file string) error {
			if armed.Load() && op == persist.OpSync && strings.Contains(file, "/wal/") {
				once.Do(func() { close(held[name]) })
				<-release
			}
			return nil
		})
	}

	armed.Store(true)
	start := gates[lead].last.Load()
	first := make(chan error, 1)
	go func() { first <- transfer(context.Background(), c.heaps[lead], ids[0], ids[1], 1) }()
	for _, name := range followers {
		waitCond(t, "a sync of "+name+"'s log, held", func() bool {
			select {
			case <-held[name]:
				return true
			default:
				return false
			}
		})
	}
	waitCond(t, "the leader to write the commit's entry", func() bool { return gates[lead].last.Load() > start })
	idx := gates[lead].last.Load()
	for _, name := range followers {
		waitCond(t, name+" to hand its log the write of the commit's entry", func() bool { return gates[name].last.Load() >= idx })
		gates[name].at.Store(idx)
	}
	second := make(chan error, 1)
	go func() { second <- transfer(context.Background(), c.heaps[lead], ids[2], ids[3], 1) }()
	for _, name := range followers {
		waitCond(t, name+"'s loop held in the encoding of the next commit's write", func() bool {
			select {
			case <-gates[name].inside:
				return true
			default:
				return false
			}
		})
	}
	if got, _ := acks.covered(idx); got {
		t.Fatalf("an acknowledgement of entry %d arrived while every follower's sync of it was held", idx)
	}
	let()
	waitCond(t, "an acknowledgement of the entry while the followers' loops are held", func() bool {
		got, _ := acks.covered(idx)
		return got
	})
	openGates()
	for _, ch := range []chan error{first, second} {
		if err := await.Recv(t, ch, "a commit to return"); err != nil {
			t.Fatalf("a commit whose followers' syncs and loops were held: %v", err)
		}
	}
	if _, early := acks.covered(idx); early {
		t.Fatalf("an acknowledgement of entry %d arrived before the followers' syncs were let go", idx)
	}
	for _, name := range names {
		c.heaps[name].encodeFault.Store(nil)
	}
	c.checkBank(ids)
}
