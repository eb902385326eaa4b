package sim

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/check"
)

// The catalog of a simulated cluster is a replicated heap like the others,
// on every node, whose objects are engine.Entry values naming the heaps'
// groups. Clients create a heap as oss's ensureEntry does (the entry is
// read and written in one transaction, so of two creates one commits and
// the other conflicts) and drop it as DropHeap does; every node follows
// its catalog replica with engine.Sync after each Ready that published a
// new catalog state, opening replicas as a first voter and closing those
// of dropped groups, and opens an empty replica, a learner to be, when the
// leader of a group its catalog names reaches it.

const (
	catalogHeap = "oss:catalog"
	// heapReplicas is the replication factor of the heaps clients create.
	heapReplicas = 3
	// catalogEvery: one client transaction in catalogEvery changes the
	// catalog.
	catalogEvery = 40
)

// heapNames are the names clients create and drop heaps under: few, so
// that names are dropped and created again.
var heapNames = []string{"h0", "h1"}

// group is one raft group: the catalog's, or one incarnation of a heap,
// with the history of its transactions and its serial model.
type group struct {
	heap     string
	id       uint64 // the catalog entry's Group; 0 for the catalog
	replicas int
	model    *model
	history  []check.Txn
	copies   map[uuid.UUID]int // copies of each record applied, the most on one replica
	// planWait is when the reconciler plans again after a step;
	// lastTransfer the tick leadership last moved for placement.
	planWait     time.Duration
	lastTransfer uint64
	// compactEvery and keepEntries are its replicas' engine.Config's.
	compactEvery, keepEntries uint64
	missing                   map[uint64]time.Duration // since when a member has been missing
}

func (s *sim) newGroup(heap string, id uint64, replicas int) *group {
	g := &group{heap: heap, id: id, replicas: replicas, model: newModel(), copies: map[uuid.UUID]int{},
		compactEvery: compactEvery, keepEntries: keepEntries}
	if heap == catalogHeap {
		g.compactEvery, g.keepEntries = catalogCompactEvery, catalogKeepEntries
	}
	s.groups = append(s.groups, g)
	s.byGroup[id] = g
	return g
}

// heapsOf returns the groups of the heaps in a catalog state.
func (s *sim) heapsOf(st *consistency.State) []*group {
	var out []*group
	for _, e := range engine.Entries(st) {
		out = append(out, s.byGroup[e.Group])
	}
	return out
}

// wrap puts a raft message of g in an envelope naming the group, as oss
// does: a replica of another incarnation of the heap does not take it.
func wrap(g *group, msg []byte) []byte {
	b := binary.AppendUvarint(make([]byte, 0, len(msg)+len(g.heap)+12), g.id)
	b = binary.AppendUvarint(b, uint64(len(g.heap)))
	b = append(b, g.heap...)
	return append(b, msg...)
}

func unwrap(b []byte) (gid uint64, heap string, msg []byte, ok bool) {
	gid, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, "", nil, false
	}
	b = b[k:]
	l, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < l {
		return 0, "", nil, false
	}
	b = b[k:]
	return gid, string(b[:l]), b[l:], true
}

// syncCatalog brings a node's heap replicas in line with its catalog
// replica, as engine.Sync decides.
func (s *sim) syncCatalog(n *node) {
	n.resync = false
	st := n.cat.state
	in := engine.SyncInput{Self: n.id, Index: st.Index(), Entries: engine.Entries(st), CatalogCommit: n.catalogCommit}
	if s.opts.Mutations.SyncBeforeCatalogCommit {
		in.CatalogCommit = 0
	}
	for _, r := range n.replicas() {
		if r != n.cat {
			in.Open = append(in.Open, engine.Replica{Name: r.g.heap, Group: r.g.id, Cataloged: true, CatalogAt: r.catalogAt})
		}
	}
	p := engine.Sync(in)
	if s.opts.Mutations.OpenBeforeCatalogCommit && in.Index < in.CatalogCommit {
		in.CatalogCommit = 0
		p.Open = engine.Sync(in).Open
	}
	for _, name := range p.Close {
		if s.opts.Mutations.KeepDropped && !slices.ContainsFunc(in.Entries, func(e engine.Entry) bool { return e.Name == name }) {
			continue
		}
		r := n.reps[name]
		s.closeReplica(n, r)
		n.closed[r.g.id] = true
		s.paths["catalog: close"]++
	}
	for _, e := range p.Open {
		s.openHeap(n, e, "as first voter")
	}
}

// catalogApplied lowers a restarted node's catalog gate (catalogCommit)
// to an entry its catalog replica applied of a later term than its
// recovered log's last, as oss's catalogGate does: a leader elected
// since appended it, and raft's leader completeness puts every entry that
// ever committed before it at a lower index. A tail of the recovered log
// that never committed is cut by a leader with a shorter log, and in a
// quiet cluster the catalog may never reach its last index: the node
// then opened no heap whose leader reached it (seed 7340396: a heap's
// learner never opened its replica, and the heap stayed on one voter).
// applied is the index the replica applied up to; catalogApplied
// reports whether the gate was passed now (not before).
func (s *sim) catalogApplied(n *node, ents []raftpb.Entry, applied uint64) bool {
	if n.catalogTerm == 0 || n.catalogCommit == 0 {
		return false
	}
	for _, e := range ents {
		if e.Term > n.catalogTerm && e.Index < n.catalogCommit && !s.opts.Mutations.CatalogGateByIndex {
			n.catalogCommit = e.Index
			s.paths["catalog: gate passed at a later term"]++
			break
		}
	}
	if applied < n.catalogCommit {
		return false
	}
	n.catalogTerm = 0
	return true
}

// openHeap opens a node's replica of a heap in its catalog under the
// node's raft ID: bootstrapped with the entry's voters if the node is one,
// else empty. A replica the disk refuses is asked for again on the next
// tick.
func (s *sim) openHeap(n *node, e engine.Entry, why string) *replica {
	g := s.byGroup[e.Group]
	if g == nil {
		s.fail(fmt.Errorf("sim: %s: the catalog names group %x of heap %s, which no client proposed", n.name, e.Group, e.Name))
		return nil
	}
	if n.closed[g.id] {
		s.bad = append(s.bad, check.Anomaly{Kind: "dropped-group-reopened",
			Explain: fmt.Sprintf("%s opened a replica of heap %s (group %x) %s after it closed that group as dropped, at catalog index %d", n.name, g.heap, g.id, why, n.cat.state.Index())})
	}
	var peers []raft.Peer
	if e.FirstVoter(n.id) {
		for _, v := range e.Voters {
			peers = append(peers, raft.Peer{ID: v.ID})
		}
	}
	r, err := s.newReplica(n, g, n.id, peers, 0)
	if err != nil {
		n.resync = true
		s.paths["catalog: open refused by the disk"]++
		return nil
	}
	r.catalogAt = n.cat.state.Index()
	s.paths["catalog: open "+why]++
	return r
}

// closeReplica closes a node's replica for good: its clients' waits end,
// and the record that says whose its directory is goes (if the disk
// refuses, a restart finds the replica and the catalog closes it again).
func (s *sim) closeReplica(n *node, r *replica) {
	r.wal.Close()
	s.forget(r)
	if n.reps[r.g.heap] == r {
		delete(n.reps, r.g.heap)
		n.byName = nil
	}
	delete(n.durable, r.dir)
	if err := n.disk.Remove(r.dir + "/meta"); err == nil {
		_ = n.disk.SyncDir(r.dir)
	}
}

// catalogClient changes the catalog from a node, as an application's
// Heap or DropHeap call does: it creates a heap whose entry its node's
// catalog replica does not hold, with first voters placed over the
// servers up, reading the entry in the transaction that writes it, or
// drops one that it holds.
func (s *sim) catalogClient(c int, n *node) {
	st := n.cat.state
	name := heapNames[s.rng.IntN(len(heapNames))]
	id := engine.EntryID(name)
	o, exists := st.Get(id)
	rec := &consistency.Record{Snapshot: st.Index(), Reads: []consistency.Read{{ID: id, Version: o.Version}}}
	switch {
	case !exists:
		var live []engine.Member
		for _, m := range s.nodes {
			if m.up {
				live = append(live, engine.Member{ID: m.id, Name: m.name, Server: true})
			}
		}
		e := engine.Entry{Name: name, Replicas: heapReplicas, Voters: engine.FirstVoters(name, heapReplicas, live), Group: s.rng.Uint64()}
		for e.Group == 0 || s.byGroup[e.Group] != nil {
			e.Group = s.rng.Uint64()
		}
		b, err := codec.Marshal(e)
		if err != nil {
			s.fail(err)
			return
		}
		rec.Writes = []consistency.Write{{ID: id, Value: b}}
		s.newGroup(name, e.Group, e.Replicas)
	case s.rng.IntN(4) == 0:
		rec.Writes = []consistency.Write{{ID: id, Delete: true}}
	default:
		return // it exists: nothing to write
	}
	s.txn++
	rec.TxID = uuid.UUID{0: 'c', 8: byte(s.txn >> 24), 9: byte(s.txn >> 16), 10: byte(s.txn >> 8), 11: byte(s.txn)}
	data, err := rec.Marshal()
	if err != nil {
		s.fail(err)
		return
	}
	s.catalog.model.records[rec.TxID] = rec
	s.busy[c] = true
	deadline := s.now + time.Duration(300+s.rng.IntN(1700))*time.Millisecond
	s.waiting[rec.TxID] = &pending{rep: n.cat, txn: check.Txn{Process: c}, deadline: s.impatient(deadline), queued: true}
	n.cat.queue = append(n.cat.queue, engine.Proposal{TxID: rec.TxID, Data: data})
}

// catalogDecided notes a catalog record committed, the first time a
// replica decides it: heaps created, created again and dropped. A create
// while the name has an entry would give one name two groups.
func (s *sim) catalogDecided(res consistency.Result) {
	rec := s.catalog.model.records[res.TxID]
	for _, w := range rec.Writes {
		var e engine.Entry
		if w.Delete {
			s.paths["catalog: drop"]++
			continue
		}
		if err := codec.Unmarshal(w.Value, &e); err != nil {
			s.fail(err)
			return
		}
		prev := s.catalog.model.at(w.ID, res.Index-1)
		if prev.index != 0 && prev.value != nil {
			var p engine.Entry
			_ = codec.Unmarshal(prev.value, &p)
			s.bad = append(s.bad, check.Anomaly{Kind: "two-groups",
				Explain: fmt.Sprintf("heap %s created as group %x at catalog index %d while its entry named group %x", e.Name, e.Group, res.Index, p.Group)})
		}
		if slices.ContainsFunc(s.groups, func(g *group) bool { return g.heap == e.Name && g.id != e.Group && s.created[g.id] }) {
			s.paths["catalog: recreate"]++
		}
		s.created[e.Group] = true
		s.paths["catalog: create"]++
	}
}

// catalogAnomalies holds the nodes' replicas against the final catalog:
// every first voter of a heap has a replica of its group, and no replica
// of a group the catalog does not name stays open.
func (s *sim) catalogAnomalies(st *consistency.State) []check.Anomaly {
	var bad []check.Anomaly
	entries := engine.Entries(st)
	for _, e := range entries {
		for _, v := range e.Voters {
			n := s.names[v.ID]
			if n == nil || n.id != v.ID {
				continue
			}
			if r := n.reps[e.Name]; r == nil || r.g.id != e.Group {
				bad = append(bad, check.Anomaly{Kind: "first-voter-without-replica",
					Explain: fmt.Sprintf("%s is a first voter of heap %s (group %x) and has no replica of it", n.name, e.Name, e.Group)})
			}
		}
	}
	for _, n := range s.nodes {
		for _, r := range n.replicas() {
			if r != n.cat && !slices.ContainsFunc(entries, func(e engine.Entry) bool { return e.Name == r.g.heap && e.Group == r.g.id }) {
				bad = append(bad, check.Anomaly{Kind: "dropped-replica-open",
					Explain: fmt.Sprintf("%s keeps a replica of heap %s (group %x), which the catalog at index %d does not name", n.name, r.g.heap, r.g.id, st.Index())})
			}
		}
	}
	return bad
}

// resurrected holds the final lists of each heap against what was
// appended to other incarnations of its name: values are unique, so a
// value appended to a dropped group and seen in the new one came through.
func (s *sim) resurrected(finals map[*group]map[[2]int]bool) []check.Anomaly {
	var bad []check.Anomaly
	for _, g := range s.groups[1:] {
		in := finals[g]
		if in == nil {
			continue
		}
		for _, o := range s.groups[1:] {
			if o == g || o.heap != g.heap {
				continue
			}
			for _, t := range o.history {
				for _, m := range t.Mops {
					if m.Kind == check.Append && in[[2]int{m.Key, m.Value}] {
						bad = append(bad, check.Anomaly{Kind: "dropped-commit-resurrected",
							Explain: fmt.Sprintf("heap %s (group %x) holds %d in list %d, appended (%v) to group %x of that name", g.heap, g.id, m.Value, m.Key, t.Status, o.id)})
					}
				}
			}
		}
	}
	return bad
}
