package oss

import (
	"sync/atomic"

	"go.etcd.io/raft/v3/raftpb"
)

// catalogGate is what a restarted node's catalog replica applies before
// the node acts on its heap directory (engine.Sync's CatalogCommit): an
// older directory may still list a heap whose replica the node closed as
// dropped before it stopped. The gate is the last index of the catalog's
// recovered log, since a commit index alone is not logged and any entry
// of it may have committed.
//
// Not every entry of it did. A tail that never committed is cut when a
// leader with a shorter log appends over it, and in a quiet cluster the
// catalog may then commit nothing past the tail's last index for as long
// as it likes: the node opened no heap placed on it and closed none
// dropped meanwhile (found by probing the library). So the gate is also
// passed at an entry of a later term than the recovered log's last:
// committed, it was appended by a leader elected since, whose log holds
// every entry that ever committed before it (raft's leader completeness),
// so what of the recovered log committed has been applied by then.
type catalogGate struct {
	index  atomic.Uint64 // the catalog index to apply; 0 once there is none
	term   atomic.Uint64 // the term of the recovered log's last entry
	passed atomic.Bool
}

// recovered sets the gate from the catalog's recovered log.
func (g *catalogGate) recovered(r *recoveredGroup) {
	index, term := max(r.hard.Commit, r.snap.Metadata.Index), r.snap.Metadata.Term
	if k := len(r.ents); k > 0 && r.ents[k-1].Index >= index {
		index, term = r.ents[k-1].Index, r.ents[k-1].Term
	}
	g.index.Store(index)
	g.term.Store(term)
}

// pass notes entries the catalog replica applied, up to applied; it
// reports whether the gate was passed now (not before).
func (g *catalogGate) pass(ents []raftpb.Entry, applied uint64) bool {
	if g.passed.Load() {
		return false
	}
	index := g.index.Load()
	for _, e := range ents {
		if e.Term > g.term.Load() && e.Index < index {
			index = e.Index
			g.index.Store(index)
			break
		}
	}
	if applied < index {
		return false
	}
	g.passed.Store(true)
	return true
}

// catalogApplied is the catalog replica's loop's, after it applied
// entries up to applied: once the gate is passed, the node acts on the
// directory at once, since the entry that passed it may be no commit the
// catalog's watch hears (a leader's empty entry). Not before the node
// has opened the replicas recovered with the catalog (openCatalog, which
// then does the same if the gate was passed meanwhile): a sync before
// would open a heap this node is a first voter of afresh.
func (n *Node) catalogApplied(ents []raftpb.Entry, applied uint64) {
	if n.catalogGate.pass(ents, applied) {
		n.syncPassed()
	}
}

// syncPassed has the node act on its catalog, off the caller's goroutine,
// if it restarted, has opened what it recovered, and the gate is passed.
func (n *Node) syncPassed() {
	if n.catalogGate.term.Load() != 0 && n.catalogGate.passed.Load() && n.recovered.Load() {
		go n.syncCatalog() // counted in n.wg, or nothing once the node closes
	}
}
