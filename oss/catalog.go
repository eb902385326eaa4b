package oss

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
)

// The catalog is the system heap that holds the heap directory. Its name
// cannot be opened by applications.
const (
	catalogName     = "oss:catalog"
	catalogReplicas = 5
	systemPrefix    = "oss:"
)

var catalogSpace = uuid.MustParse("6f2c1d5e-8a41-4b7e-9a0e-0c55c7a1e001")

// entryID is the catalog object that describes a heap.
func entryID(name string) uuid.UUID { return uuid.NewSHA1(catalogSpace, []byte(name)) }

// heapEntry is a heap's record in the catalog.
type heapEntry struct {
	Name string `cbor:"1,keyasint"`
	// Replicas is the number of voters the heap keeps.
	Replicas int `cbor:"2,keyasint"`
	// Voters are the group's first voters; later configurations live in
	// the heap's own log.
	Voters []groupMember `cbor:"3,keyasint"`
	// Group identifies this incarnation of the heap's raft group: a heap
	// dropped and created again under the same name is a new group, and
	// messages of the old one are not delivered to it.
	Group uint64 `cbor:"4,keyasint"`
}

// groupMember names a node of a group by name and raft ID.
type groupMember struct {
	_    struct{} `cbor:",toarray"`
	Name string
	ID   uint64
}

// catalogEntry reads a heap's entry from the local catalog replica.
func (n *Node) catalogEntry(name string) (heapEntry, bool) {
	var e heapEntry
	obj, ok := n.catalog.Load().state.Load().Get(entryID(name))
	if !ok || codec.Unmarshal(obj.Value, &e) != nil || e.Name != name {
		return heapEntry{}, false
	}
	return e, true
}

// catalogEntries lists the heaps in the local catalog replica.
func (n *Node) catalogEntries() []heapEntry {
	return entriesOf(n.catalog.Load().state.Load())
}

// entriesOf returns the heap entries of one state of the catalog.
func entriesOf(st *consistency.State) []heapEntry {
	var out []heapEntry
	st.Ascend(uuid.Nil, func(o consistency.Object) bool {
		var e heapEntry
		if codec.Unmarshal(o.Value, &e) == nil && e.Name != "" && entryID(e.Name) == o.ID {
			out = append(out, e)
		}
		return true
	})
	slices.SortFunc(out, func(a, b heapEntry) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// findEntry returns the entry of a heap in the catalog. A heap the local
// catalog replica does not know may have been created elsewhere a moment
// ago: the replica then catches up with the catalog's leader and looks
// again before the heap is reported missing.
func (n *Node) findEntry(ctx context.Context, name string) (heapEntry, error) {
	if e, ok := n.catalogEntry(name); ok {
		return e, nil
	}
	if err := n.catalog.Load().readIndex(ctx); err != nil {
		return heapEntry{}, fmt.Errorf("oss: heap %q: catalog: %w", name, err)
	}
	if e, ok := n.catalogEntry(name); ok {
		return e, nil
	}
	return heapEntry{}, fmt.Errorf("oss: heap %q: %w", name, ErrNoHeap)
}

// ensureEntry returns the heap's catalog entry, creating it if needed with
// replicas voters placed over the live servers; with exclusive, an entry
// that exists is an error matching ErrHeapExists. Whether the entry
// exists is read in the transaction that creates it, so of two nodes
// creating the same heap one commits and the other finds its entry.
func (n *Node) ensureEntry(ctx context.Context, name string, replicas int, exclusive bool) (heapEntry, error) {
	if e, ok := n.catalogEntry(name); ok && !exclusive {
		return e, nil
	}
	var e heapEntry
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		id := entryID(name)
		ok, err := tx.Exists(id)
		if err != nil {
			return err
		}
		if ok && exclusive {
			return ErrHeapExists
		}
		if ok {
			e, err = Get[heapEntry](tx, id)
			return err
		}
		e = heapEntry{Name: name, Replicas: replicas, Group: newNodeID()}
		ranked := rendezvous(name, n.live())
		for _, p := range ranked[:oddVoters(e.Replicas, len(ranked))] {
			e.Voters = append(e.Voters, groupMember{Name: p.Name, ID: p.ID})
		}
		if len(e.Voters) == 0 {
			return fmt.Errorf("oss: heap %q: no live server node to place it on", name)
		}
		return Put(tx, id, e)
	})
	if errors.Is(err, ErrHeapExists) {
		return heapEntry{}, fmt.Errorf("oss: create heap %q: %w", name, ErrHeapExists)
	}
	if err != nil {
		return heapEntry{}, fmt.Errorf("oss: heap %q: catalog: %w", name, err)
	}
	return e, nil
}

// openReplica returns the node's replica of a heap in the catalog, opening
// it if needed: as one of its first voters if the entry names this node,
// otherwise empty, to be filled by the leader once this node is a member.
func (n *Node) openReplica(e heapEntry) (*Heap, error) {
	return n.openOnce(e.Name, func() (*Heap, error) {
		o := openMode{replicas: e.Replicas, group: e.Group}
		for _, m := range e.Voters {
			n.learn(m.ID, m.Name)
			if m.ID == n.id {
				o.spec = &groupSpec{voters: e.Voters}
			}
		}
		h, err := newHeap(n, e.Name, o)
		if err != nil {
			return nil, err
		}
		h.cataloged = true
		h.catalogAt = n.catalog.Load().state.Load().Index()
		return h, nil
	})
}

// openOnce returns the node's replica of a heap, opening it with open if
// it has none. open runs outside n.mu, which every raft message the node
// routes needs, since opening a replica writes (and syncs) the log; an
// open of a heap another open is under way for waits for that one and
// returns its replica. A replica opened as the node closes is closed.
func (n *Node) openOnce(name string, open func() (*Heap, error)) (*Heap, error) {
	n.mu.Lock()
	for {
		if n.closed {
			n.mu.Unlock()
			return nil, ErrClosed
		}
		if h, ok := n.heaps[name]; ok {
			n.mu.Unlock()
			return h, nil
		}
		ch, busy := n.opening[name]
		if !busy {
			break
		}
		n.mu.Unlock()
		<-ch
		n.mu.Lock()
	}
	if n.opening == nil {
		n.opening = map[string]chan struct{}{}
	}
	done := make(chan struct{})
	n.opening[name] = done
	n.mu.Unlock()
	defer close(done)
	h, err := open()
	n.mu.Lock()
	delete(n.opening, name)
	if err == nil && n.closed {
		n.mu.Unlock()
		h.close()
		return nil, ErrClosed
	}
	if err == nil {
		n.heaps[name] = h
	}
	n.mu.Unlock()
	return h, err
}

// syncCatalog brings the node's replicas in line with the catalog: it opens
// the heaps this node is a first voter of and closes those dropped.
func (n *Node) syncCatalog() {
	n.applyRevocations()
	st := n.catalog.Load().state.Load()
	entries := entriesOf(st)
	groups := make(map[string]uint64, len(entries))
	for _, e := range entries {
		groups[e.Name] = e.Group
	}
	defer n.catalogSynced.Store(st.Index())
	if st.Index() >= n.catalogCommit {
		// Close the replicas of heaps dropped, or dropped and created
		// again; not before the catalog has caught up with the replicas
		// recovered with it, and not those opened from a later state of
		// the catalog than the one read here (a heap may have just been
		// created, or found after a catalog read).
		n.mu.Lock()
		var dropped []*Heap
		for name, h := range n.heaps {
			if g, ok := groups[name]; h.cataloged && h.catalogAt <= st.Index() && (!ok || g != h.group) {
				dropped = append(dropped, h)
				delete(n.heaps, name)
			}
		}
		n.mu.Unlock()
		for _, h := range dropped {
			n.log.Info("heap dropped", "heap", h.name)
			h.close()
			n.noteDropped(h)
		}
	}
	for _, e := range entries {
		if slices.ContainsFunc(e.Voters, func(m groupMember) bool { return m.ID == n.id }) {
			if _, err := n.openReplica(e); err != nil && !errors.Is(err, ErrClosed) {
				n.log.Error("replica not opened", "heap", e.Name, "err", err)
			}
		}
	}
}

// watchCatalog keeps the node's replicas in line with the catalog until the
// node closes.
func (n *Node) watchCatalog(w *Watch) {
	defer w.Close()
	for {
		if _, err := w.Next(n.ctx); err != nil {
			return
		}
		n.syncCatalog()
	}
}
