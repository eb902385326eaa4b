package consistency

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// simNode is one replica and its in-memory log.
type simNode struct {
	r       *Replica
	storage *raft.MemoryStorage
}

// simCluster runs replicas of one heap in a single goroutine, delivering
// messages in a random order drawn from one seeded generator.
type simCluster struct {
	t        *testing.T
	rng      *rand.Rand
	nodes    map[uint64]*simNode
	inbox    []raftpb.Message
	results  map[uuid.UUID]Result
	isolated map[uint64]bool
}

func newSimCluster(t *testing.T, seed uint64, n int) *simCluster {
	return newSimClusterWith(t, seed, n, nil)
}

// newSimClusterWith is newSimCluster with each replica's configuration
// adjusted by configure.
func newSimClusterWith(t *testing.T, seed uint64, n int, configure func(*Config)) *simCluster {
	c := &simCluster{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), nodes: map[uint64]*simNode{}, results: map[uuid.UUID]Result{}}
	var peers []raft.Peer
	for i := 1; i <= n; i++ {
		peers = append(peers, raft.Peer{ID: uint64(i)})
	}
	for i := 1; i <= n; i++ {
		st := raft.NewMemoryStorage()
		cfg := &Config{ID: uint64(i), Storage: st, DedupWindow: 64}
		if configure != nil {
			configure(cfg)
		}
		r, err := NewReplica(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Bootstrap(peers); err != nil {
			t.Fatal(err)
		}
		c.nodes[uint64(i)] = &simNode{r: r, storage: st}
	}
	c.settle() // apply the bootstrap configuration before campaigning
	if err := c.nodes[1].r.Campaign(); err != nil {
		t.Fatal(err)
	}
	c.settle()
	if st := c.nodes[1].r.Status(); st.RaftState != raft.StateLeader {
		t.Fatalf("node 1 is %v after campaigning", st.RaftState)
	}
	return c
}

// process handles every node's Ready once and delivers up to max messages.
func (c *simCluster) process(max int) {
	for id := uint64(1); id <= uint64(len(c.nodes)); id++ {
		n := c.nodes[id]
		for n.r.HasReady() {
			rd := n.r.Ready()
			if rd.Err != nil {
				c.t.Fatalf("node %d: %v", id, rd.Err)
			}
			if !raft.IsEmptySnap(rd.Snapshot) {
				if err := n.storage.ApplySnapshot(rd.Snapshot); err != nil {
					c.t.Fatal(err)
				}
			}
			if !raft.IsEmptyHardState(rd.HardState) {
				n.storage.SetHardState(rd.HardState)
			}
			if err := n.storage.Append(rd.Entries); err != nil {
				c.t.Fatal(err)
			}
			c.inbox = append(c.inbox, rd.Messages...)
			if id == 1 {
				for _, res := range rd.Results {
					c.results[res.TxID] = res
				}
			}
			n.r.Advance(rd)
		}
	}
	c.rng.Shuffle(len(c.inbox), func(i, j int) { c.inbox[i], c.inbox[j] = c.inbox[j], c.inbox[i] })
	k := min(max, len(c.inbox))
	for _, m := range c.inbox[:k] {
		if c.isolated[m.To] || c.isolated[m.From] {
			continue
		}
		_ = c.nodes[m.To].r.Step(m)
	}
	c.inbox = append(c.inbox[:0], c.inbox[k:]...)
}

func (c *simCluster) settle() {
	for i := 0; i < 10000; i++ {
		busy := len(c.inbox) > 0
		for _, n := range c.nodes {
			busy = busy || n.r.HasReady()
		}
		if !busy {
			return
		}
		c.process(len(c.inbox))
	}
	c.t.Fatal("cluster did not settle")
}
