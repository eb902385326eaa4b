package consistency

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

var simSeed = flag.Uint64("sim.seed", 0, "run the replica simulation with this seed only")

// simNode is one replica and its in-memory log.
type simNode struct {
	r       *Replica
	storage *raft.MemoryStorage
	states  []*State
}

// simCluster runs replicas of one heap in a single goroutine, delivering
// messages in a random order drawn from one seeded generator.
type simCluster struct {
	t        *testing.T
	rng      *rand.Rand
	nodes    map[uint64]*simNode
	inbox    []raftpb.Message
	results  map[uuid.UUID]Result
	order    []Result // first decisions, in log order, from node 1
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
			if len(n.states) == 0 || n.states[len(n.states)-1] != rd.State {
				n.states = append(n.states, rd.State)
			}
			if id == 1 {
				for _, res := range rd.Results {
					if !res.Duplicate {
						c.order = append(c.order, res)
					}
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

// simTx is a transaction run by a simulated client against some State.
type simTx struct {
	rec  *Record
	data []byte
	seen map[uuid.UUID][]byte // values read (nil: absent)
}

func TestSimulatedHistoriesAreSerializable(t *testing.T) {
	n := uint64(200)
	switch {
	case testing.Short():
		n = 20
	case os.Getenv("OSS_LONG") != "":
		n = 5000
	}
	var seeds []uint64
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for i := uint64(1); i <= n; i++ {
			seeds = append(seeds, i)
		}
	}
	for _, seed := range seeds {
		if !t.Run(fmt.Sprint(seed), func(t *testing.T) { runSim(t, seed) }) {
			t.Fatalf("seed %d failed; replay with: go test ./consistency -run TestSimulatedHistoriesAreSerializable -sim.seed=%d", seed, seed)
		}
	}
}

func runSim(t *testing.T, seed uint64) {
	c := newSimCluster(t, seed, 3)
	rng := c.rng
	const objects = 6
	txs := map[uuid.UUID]*simTx{}
	var pending []*simTx
	var views []*State
	txn := 0
	for step := 0; step < 300; step++ {
		leader := c.nodes[1].r
		switch op := rng.IntN(10); {
		case op < 4: // a client begins a transaction on some replica's state
			n := c.nodes[uint64(1+rng.IntN(3))]
			st := n.r.State()
			txn++
			tx := &simTx{seen: map[uuid.UUID][]byte{}, rec: &Record{TxID: uuid.UUID{0: byte(seed), 1: byte(seed >> 8), 8: byte(txn >> 8), 9: byte(txn)}, Snapshot: st.Index()}}
			for i := rng.IntN(3); i > 0; i-- {
				oid := id(byte(1 + rng.IntN(objects)))
				o, ok := st.Get(oid)
				if ok {
					tx.seen[oid] = o.Value
				} else {
					tx.seen[oid] = nil
				}
				tx.rec.Reads = append(tx.rec.Reads, Read{ID: oid, Version: o.Version})
			}
			if rng.IntN(8) == 0 {
				tx.rec.Scanned = true
			}
			for i := rng.IntN(3); i > 0; i-- {
				oid := id(byte(1 + rng.IntN(objects)))
				if rng.IntN(5) == 0 {
					tx.rec.Writes = append(tx.rec.Writes, Write{ID: oid, Delete: true})
				} else {
					tx.rec.Writes = append(tx.rec.Writes, Write{ID: oid, Value: []byte(fmt.Sprintf("t%d", txn))})
				}
			}
			tx.data = mustMarshal(t, tx.rec)
			txs[tx.rec.TxID] = tx
			pending = append(pending, tx)
		case op < 6 && len(pending) > 0: // propose a batch, sometimes resending an old record
			k := 1 + rng.IntN(len(pending))
			var batch [][]byte
			for _, tx := range pending[:k] {
				batch = append(batch, tx.data)
			}
			if rng.IntN(4) == 0 && len(txs) > 0 {
				for _, tx := range txs {
					batch = append(batch, tx.data)
					break
				}
			}
			pending = pending[k:]
			if err := leader.Propose(batch...); err != nil {
				t.Fatalf("propose: %v", err)
			}
		case op < 7:
			views = append(views, c.nodes[uint64(1+rng.IntN(3))].r.State())
		default:
			c.process(1 + rng.IntN(8))
		}
	}
	for _, tx := range pending {
		if err := c.nodes[1].r.Propose(tx.data); err != nil {
			t.Fatal(err)
		}
	}
	c.settle()
	c.nodes[1].r.Tick() // a heartbeat carries the final commit index to followers
	c.settle()

	// Replay the decisions in log order on a plain map: the serial model.
	type val struct {
		v   []byte
		ver uint64
	}
	model := map[uuid.UUID]val{}
	at := map[uint64]string{0: ""} // model state rendered after each decided index
	var shape uint64
	render := func() string {
		var b bytes.Buffer
		for i := 1; i <= objects; i++ {
			if v, ok := model[id(byte(i))]; ok {
				fmt.Fprintf(&b, "%d=%s@%d ", i, v.v, v.ver)
			}
		}
		return b.String()
	}
	committed := 0
	for _, res := range c.order {
		tx := txs[res.TxID]
		if tx == nil {
			t.Fatalf("result for unknown transaction %v", res.TxID)
		}
		current := true
		for _, r := range tx.rec.Reads {
			if model[r.ID].ver != r.Version {
				current = false
			}
		}
		if tx.rec.Scanned && shape > tx.rec.Snapshot {
			current = false
		}
		switch {
		case res.Outcome == Stale:
			continue
		case current && res.Outcome != Committed, !current && res.Outcome != Conflicted:
			t.Fatalf("tx %v decided %v at %d; serial execution says current=%v", res.TxID, res.Outcome, res.Index, current)
		}
		if res.Outcome == Committed {
			committed++
			for oid, v := range tx.seen {
				if !bytes.Equal(model[oid].v, v) {
					t.Fatalf("tx %v read %q of %v, serial order has %q", res.TxID, v, oid, model[oid].v)
				}
			}
			for _, w := range tx.rec.Writes {
				_, existed := model[w.ID]
				if w.Delete {
					if existed {
						shape = res.Index
					}
					delete(model, w.ID)
				} else {
					if !existed {
						shape = res.Index
					}
					model[w.ID] = val{w.Value, res.Index}
				}
			}
		}
		at[res.Index] = render()
	}
	// Every View and every published State is the model state at its index.
	stateAt := func(idx uint64) string {
		best := uint64(0)
		for i := range at {
			if i <= idx && i > best {
				best = i
			}
		}
		return at[best]
	}
	check := func(what string, s *State) {
		var b bytes.Buffer
		for i := 1; i <= objects; i++ {
			if o, ok := s.Get(id(byte(i))); ok {
				fmt.Fprintf(&b, "%d=%s@%d ", i, o.Value, o.Version)
			}
		}
		if got, want := b.String(), stateAt(s.Index()); got != want {
			t.Fatalf("%s at index %d:\n got %s\nwant %s", what, s.Index(), got, want)
		}
	}
	for _, v := range views {
		check("view", v)
	}
	for id, n := range c.nodes {
		for _, s := range n.states {
			check(fmt.Sprintf("node %d state", id), s)
		}
	}
	final := dump(c.nodes[1].r.State())
	for id, n := range c.nodes {
		if got := dump(n.r.State()); got != final || n.r.State().Index() != c.nodes[1].r.State().Index() {
			t.Fatalf("replica %d diverged:\n%s\nvs\n%s", id, got, final)
		}
	}
	if committed == 0 {
		t.Fatalf("no transaction committed")
	}
}
