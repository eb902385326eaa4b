package oss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
)

// The catalog is the system heap that holds the heap directory. Its name
// cannot be opened by applications.
const (
	catalogName     = "oss:catalog"
	catalogReplicas = 5
	systemPrefix    = "oss:"
)

// entryID is the catalog object that describes a heap (engine.EntryID).
func entryID(name string) uuid.UUID { return engine.EntryID(name) }

// heapEntry is a heap's record in the catalog (engine.Entry, whose
// encoding is the catalog's format).
type heapEntry = engine.Entry

// groupMember names a node of a group by name and raft ID.
type groupMember = engine.Voter

// catalogEntry reads a heap's entry from the local catalog replica.
func (n *Node) catalogEntry(name string) (heapEntry, bool) {
	return entryIn(n.catalog.Load().state.Load(), name)
}

// entryIn reads a heap's entry from one state of the catalog.
func entryIn(st *consistency.State, name string) (heapEntry, bool) {
	obj, ok := st.Get(entryID(name))
	if !ok {
		return heapEntry{}, false
	}
	e, ok := engine.DecodeEntry(obj)
	if !ok || e.Name != name {
		return heapEntry{}, false
	}
	return e, true
}

// catalogEntries lists the heaps in the local catalog replica.
func (n *Node) catalogEntries() []heapEntry {
	return entriesOf(n.catalog.Load().state.Load())
}

// entriesOf returns the heap entries of one state of the catalog, by name.
func entriesOf(st *consistency.State) []heapEntry { return engine.Entries(st) }

// findEntry returns the entry of a heap in the catalog. A heap the local
// catalog replica does not know may have been created elsewhere a moment
// ago: the replica then catches up with the catalog's leader and looks
// again before the heap is reported missing. A catalog with no leader in
// reach is asked again until ctx ends (catalogAgain).
func (n *Node) findEntry(ctx context.Context, name string) (heapEntry, error) {
	if e, ok := n.catalogEntry(name); ok {
		return e, nil
	}
	for attempt := 0; ; attempt++ {
		err := n.catalog.Load().readIndex(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoQuorum) || !catalogAgain(ctx, attempt) {
			return heapEntry{}, fmt.Errorf("oss: heap %q: catalog: %w", name, unanswered(ctx, err))
		}
	}
	if e, ok := n.catalogEntry(name); ok {
		return e, nil
	}
	return heapEntry{}, fmt.Errorf("oss: heap %q: %w: create it with Node.CreateHeap or Node.CreateHeapIfNotExists (from the shell: %s)", name, ErrNoHeap, shellCommand("ossd heaps create", name)) // shellword.go
}

// unanswered gives a call on the catalog that its context ended before
// it was answered, or before its commit was proposed (the context's own
// error), the error Heap and CreateHeap promise when ctx ends first: one
// matching ErrNoQuorum, and the context's error too. Nothing was written.
// Such a call used to return the context's error alone when ctx ended
// while it waited for the catalog's read index, or between two tries.
func unanswered(ctx context.Context, err error) error {
	if ctx.Err() == nil || err != ctx.Err() {
		return err
	}
	return fmt.Errorf("%w: the catalog's leader did not answer before the context ended: %w", ErrNoQuorum, err)
}

// catalogAgain waits before a heap's open asks the catalog again, after
// the catalog had no leader in reach, with the backoff of joinGroup; false
// if ctx ended first. An election of the catalog (under load, or as its
// leader leaves) used to fail CreateHeapIfNotExists and Heap with most of
// the caller's context left, while the join and catch-up that follow wait
// out a leaderless group.
func catalogAgain(ctx context.Context, attempt int) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		return true
	}
}

// ensureEntry returns the heap's catalog entry, creating it if needed with
// replicas voters placed over the live servers; with exclusive, an entry
// that exists is an error matching ErrHeapExists. Whether the entry
// exists is read in the transaction that creates it, so of two nodes
// creating the same heap one commits and the other finds its entry. A
// transaction the catalog refused for want of a leader (ErrNoQuorum:
// nothing written) is tried again until ctx ends; so is one whose outcome
// is unknown: the next try reads the entry the last may have written.
// Once a try's outcome was unknown, a later one that fails for certain
// does not say that nothing was written: the call then ends with that
// unknown outcome. created reports that this call wrote the entry: a try
// that committed it, or a later try that found the entry a try of
// unknown outcome proposed (with exclusive, finding it is no
// ErrHeapExists: the call created the heap). Each try draws the new
// entry's group at random (newNodeID), so the entry found is that try's
// if it has its group; an entry another node created meanwhile has
// another, and the call did not create it (its own try did not commit,
// or committed and was dropped since). With exclusive (CreateHeap), a
// try of unknown outcome used not to be tried again: CreateHeap on a
// node whose catalog had no leader in reach for the engine's
// NoLeaderTicks (four election timeouts) failed with ErrCommitUnknown, where Heap and
// CreateHeapIfNotExists waited for a leader until ctx ended.
func (n *Node) ensureEntry(ctx context.Context, name string, replicas int, exclusive bool) (e heapEntry, created bool, err error) {
	if e, ok := n.catalogEntry(name); ok && !exclusive {
		return e, false, nil
	}
	var unknown error   // the first try whose outcome was unknown
	var groups []uint64 // the groups of the entries such tries proposed
	for attempt := 0; ; attempt++ {
		e, created, err = n.createEntry(ctx, name, replicas, exclusive)
		if f := n.entryTried; f != nil {
			f(err)
		}
		if errors.Is(err, ErrCommitUnknown) {
			if unknown == nil {
				unknown = err
			}
			if created {
				groups = append(groups, e.Group)
			}
			e, created = heapEntry{}, false
		}
		if errors.Is(err, ErrHeapExists) {
			if slices.Contains(groups, e.Group) {
				return e, true, nil // a try of unknown outcome wrote it
			}
			e = heapEntry{}
		}
		again := errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrCommitUnknown)
		if !again || !catalogAgain(ctx, attempt) {
			if err != nil && unknown != nil && !errors.Is(err, ErrCommitUnknown) {
				// Not %w: the last try's error says nothing was written.
				err = fmt.Errorf("%w (tried again: %v)", unknown, err)
				return e, false, unknownEntry(groups, err)
			}
			if errors.Is(err, ErrCommitUnknown) {
				return e, created, unknownEntry(groups, err)
			}
			return e, created || err == nil && slices.Contains(groups, e.Group), err
		}
	}
}

// entryUnknown is ensureEntry's ErrCommitUnknown when tries of unknown
// outcome proposed new entries: groups are theirs, of which at most one
// committed (RestoreHeap drops that one, if any, and no other).
type entryUnknown struct {
	groups []uint64
	err    error
}

func (e *entryUnknown) Error() string { return e.err.Error() }
func (e *entryUnknown) Unwrap() error { return e.err }

// unknownEntry is err, of unknown outcome, with the groups of the
// entries proposed, if any.
func unknownEntry(groups []uint64, err error) error {
	if len(groups) == 0 {
		return err
	}
	return &entryUnknown{groups: groups, err: err}
}

// createEntry is one try of ensureEntry. With an unknown outcome, e and
// created are what the try's last run proposed: created, the new entry e.
func (n *Node) createEntry(ctx context.Context, name string, replicas int, exclusive bool) (heapEntry, bool, error) {
	var e heapEntry
	created := false
	err := n.catalog.Load().Update(ctx, func(tx *Tx) error {
		id := entryID(name)
		ok, err := tx.Exists(id)
		if err != nil {
			return err
		}
		if ok && exclusive {
			if e, err = Get[heapEntry](tx, id); err != nil {
				return err
			}
			return ErrHeapExists
		}
		created = !ok // fn may run again: its last run committed
		if ok {
			e, err = Get[heapEntry](tx, id)
			return err
		}
		if err := newHeapName(name); err != nil {
			return err
		}
		e = heapEntry{Name: name, Replicas: replicas, Group: newNodeID(), Voters: firstVoters(name, replicas, n.live())}
		if len(e.Voters) == 0 {
			return fmt.Errorf("oss: heap %q: no live server node to place it on", name)
		}
		return Put(tx, id, e)
	})
	if errors.Is(err, ErrHeapExists) {
		// The entry found, which ensureEntry compares with its tries'.
		return e, false, fmt.Errorf("oss: create heap %q: %w", name, ErrHeapExists)
	}
	if err != nil && !errors.Is(err, ErrInvalidHeapName) {
		err = fmt.Errorf("oss: heap %q: catalog: %w", name, unanswered(ctx, err))
	}
	if errors.Is(err, ErrCommitUnknown) {
		return e, created, err // what the try proposed, if created: it may have committed
	}
	if err != nil {
		return heapEntry{}, false, err
	}
	return e, created, nil
}

// newHeapName refuses a name that an existing heap keeps but a new one
// may not take. One ending in "*": a grant on it would be a grant on
// every heap its name begins with ("*": on all of them), so no grant
// could name it alone. One holding a C1 control character (U+0080 to
// U+009F), which validHeapName lets through with the C0 ones refused,
// or a bidirectional formatting character (U+061C, U+200E, U+200F,
// U+202A to U+202E, U+2066 to U+2069): a terminal may take U+009B for
// the start of an escape sequence, and U+202E shows the rest of a line
// reversed, so a name in a list could pass for another (C1 names were
// taken until 2026-12-05, against ErrInvalidHeapName's "control
// character", bidirectional ones until 2026-12-07). A heap made before
// either check still opens, also on a node whose catalog replica has
// not applied its entry yet: the entry is looked for in the creating
// transaction, not in that replica. Other format characters (U+200D,
// which joins emoji; U+2028) are printable names' and are taken.
func newHeapName(name string) error {
	if strings.HasSuffix(name, "*") {
		return fmt.Errorf("%w %q: a new heap's name may not end in \"*\", which grants read as a prefix (\"*\": every heap)", ErrInvalidHeapName, name)
	}
	for i, r := range name {
		switch {
		case unicode.IsControl(r):
			return badRune(name, i, r, "a control character", "a new heap's name") // node.go
		case unicode.Is(unicode.Bidi_Control, r):
			return badRune(name, i, r, "a bidirectional formatting character", "a new heap's name")
		}
	}
	return nil
}

// openReplica returns the node's replica of a heap in the catalog, opening
// it if needed: as one of its first voters if the entry names this node,
// otherwise empty, to be filled by the leader once this node is a member.
// e may be older than the catalog once the replica is in the node's
// table: a sync that ran while it opened did not see it, and it would
// keep e's factor (or a dropped group) until a later catalog commit. The
// node syncs again then (syncCatalogLater).
func (n *Node) openReplica(e heapEntry) (*Heap, error) {
	h, err := n.openFrom(e)
	if err != nil {
		return h, err
	}
	if cur, ok := n.catalogEntry(e.Name); !ok || cur.Group != e.Group || cur.Replicas != e.Replicas {
		n.syncCatalogLater()
	}
	return h, nil
}

// openFrom opens the node's replica of a heap from its entry e, as
// openReplica says, if it has none.
func (n *Node) openFrom(e heapEntry) (*Heap, error) {
	return n.openOnce(e.Name, func() (*Heap, error) {
		o := openMode{replicas: e.Replicas, group: e.Group}
		for _, m := range e.Voters {
			n.learn(m.ID, m.Name)
		}
		// Opened empty after its retirement (retire.go): given up, as
		// the retired one was, until a leader adds it back or an
		// application's open (which joins) uses it.
		o.retired, o.retiredAt = n.wasRetired(e.Name, e.Group)
		if e.FirstVoter(n.id) && !o.retired {
			o.spec = &groupSpec{voters: e.Voters}
		}
		h, err := newHeap(n, e.Name, o)
		if err != nil {
			return nil, err
		}
		h.cataloged = true
		h.catalogAt = n.catalog.Load().state.Load().Index()
		// Opened here for the node itself (a first voter the catalog
		// names, a replica a leader added) or for a caller whose open
		// catches up next: the first open of it waits for a read index
		// either way, as for a replica recovered from disk.
		h.catchUp.Store(true)
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
// the heaps this node is a first voter of, closes those dropped and gives
// those whose replication factor changed (or that were recovered from
// disk) the entry's, as engine.Sync decides. It counts in the node's
// goroutines, which Close waits for before it closes the log and the
// store: the replicas it takes out of the node's table are closed, and
// their drop logged, before.
func (n *Node) syncCatalog() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.wg.Add(1)
	n.mu.Unlock()
	defer n.wg.Done()
	n.applyRevocations()
	n.syncTo(n.catalog.Load().state.Load())
}

// syncTo is syncCatalog's work on the catalog's state st. Syncs run
// concurrently (the catalog's watch, the node's own writes, opens), each
// on the state it loaded: one of an older state than a sync that gave a
// replica its factor leaves that factor (Heap.factorAt).
func (n *Node) syncTo(st *consistency.State) {
	defer n.noteSynced(st.Index())
	in := engine.SyncInput{Self: n.id, Index: st.Index(), Entries: entriesOf(st), CatalogCommit: n.catalogGate.index.Load()}
	n.mu.Lock()
	for name, h := range n.heaps {
		in.Open = append(in.Open, engine.Replica{Name: name, Group: h.group, Cataloged: h.cataloged, CatalogAt: h.catalogAt, Replicas: h.knownFactor()})
	}
	plan := engine.Sync(in)
	for _, e := range plan.Factors {
		if h := n.heaps[e.Name]; st.Index() >= h.factorAt {
			h.factorAt = st.Index()
			h.setFactor(e.Replicas)
		}
	}
	dropped := make([]*Heap, 0, len(plan.Close))
	for _, name := range plan.Close {
		dropped = append(dropped, n.heaps[name])
		delete(n.heaps, name)
	}
	n.mu.Unlock()
	for _, h := range dropped {
		n.log.Info("heap dropped", "heap", h.name)
		h.dropped.Store(true) // before the close, for the calls it ends
		h.close()
		n.noteDropped(h)
	}
	for _, e := range plan.Open {
		if retired, _ := n.wasRetired(e.Name, e.Group); retired {
			continue // no first voter any more: opened when a leader or an application asks (retire.go)
		}
		if _, err := n.openReplica(e); err != nil && !errors.Is(err, ErrClosed) {
			n.log.Error("replica not opened", "heap", e.Name, "err", err)
		}
	}
}

// noteSynced records that the node acted on the catalog at index, unless
// it had at a later one (catalogSynced).
func (n *Node) noteSynced(index uint64) {
	for {
		was := n.catalogSynced.Load()
		if index <= was || n.catalogSynced.CompareAndSwap(was, index) {
			return
		}
	}
}

// syncCatalogLater runs syncCatalog on a goroutine of its own, counted
// in the node's (Close waits for it), for a caller on a raft message's
// path or holding an open: nothing once the node closes.
func (n *Node) syncCatalogLater() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.syncCatalog()
	}()
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
