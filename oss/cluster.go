package oss

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
)

// peerInfo is a live node as the directory sees it.
type peerInfo struct {
	Name    string
	ID      uint64 // the node's raft ID in every group, new at every start
	Role    pki.Role
	Leaving bool // announced a graceful leave and is handing over
}

// directory tells a node which nodes are alive: membership on a network,
// the node alone without one, a test's table on transporttest.
type directory interface {
	live() []peerInfo // every live node, this one included
}

type selfDirectory struct{ n *Node }

func (d selfDirectory) live() []peerInfo { return []peerInfo{d.n.selfInfo()} }

func (n *Node) selfInfo() peerInfo {
	return peerInfo{Name: n.cfg.Name, ID: n.id, Role: n.cfg.Role, Leaving: n.leaving.Load()}
}

// learn records the name of a node ID.
func (n *Node) learn(id uint64, name string) {
	n.namesMu.Lock()
	n.names[id] = name
	n.namesMu.Unlock()
}

// lookup returns the name of the node with the given raft ID: the one
// committed state gives, or else the one membership last gave.
func (n *Node) lookup(id uint64) (string, bool) {
	if name, ok := n.boundName(id); ok {
		return name, true
	}
	n.namesMu.Lock()
	name, ok := n.names[id]
	n.namesMu.Unlock()
	if ok {
		return name, true
	}
	for _, p := range n.live() {
		n.learn(p.ID, p.Name)
		if p.ID == id {
			name, ok = p.Name, true
		}
	}
	return name, ok
}

// liveSet returns the live nodes by ID and notes, for every ID asked about
// later with downFor, since when it has been missing.
func (n *Node) liveSet() map[uint64]peerInfo {
	live := n.live()
	set := make(map[uint64]peerInfo, len(live))
	set[n.id] = n.selfInfo()
	n.namesMu.Lock()
	for _, p := range live {
		if p.ID != n.id {
			set[p.ID] = p
		}
		n.names[p.ID] = p.Name
		n.wasLive[p.ID] = true
		delete(n.missing, p.ID)
	}
	n.namesMu.Unlock()
	return set
}

// goneSince is missingSince for a node this node has seen live, and
// nothing for one it has not: a node that asks to join before membership
// has told the leader of it is new, not gone.
func (n *Node) goneSince(id uint64, live map[uint64]peerInfo, now time.Time) (time.Time, bool) {
	n.namesMu.Lock()
	seen := n.wasLive[id]
	n.namesMu.Unlock()
	if !seen {
		return time.Time{}, false
	}
	return n.missingSince(id, live, now)
}

// missingSince returns since when the node has been missing from the live
// set as this node observed it, from the first time it asked (now, if this
// is the first); false if the node is alive.
func (n *Node) missingSince(id uint64, live map[uint64]peerInfo, now time.Time) (time.Time, bool) {
	if _, ok := live[id]; ok {
		return time.Time{}, false
	}
	n.namesMu.Lock()
	defer n.namesMu.Unlock()
	since, ok := n.missing[id]
	if !ok {
		n.missing[id] = now
		since = now
	}
	return since, true
}

// rendezvous ranks server nodes for a heap, best first (engine.Rank).
func rendezvous(heap string, peers []peerInfo) []peerInfo {
	byID := make(map[uint64]peerInfo, len(peers))
	ms := make([]engine.Member, len(peers))
	for i, p := range peers {
		byID[p.ID] = p
		ms[i] = member(p)
	}
	ranked := engine.Rank(heap, ms)
	out := make([]peerInfo, len(ranked))
	for i, m := range ranked {
		out[i] = byID[m.ID]
	}
	return out
}

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

// callRequest is a node-to-node request.
type callRequest struct {
	Op   string `cbor:"1,keyasint"`
	Heap string `cbor:"2,keyasint"`
	ID   uint64 `cbor:"3,keyasint"`
	// Addr is the address the caller advertises: a join of a name live
	// at another address is a second node of that name.
	Addr string `cbor:"4,keyasint,omitempty"`
}

// callResponse answers a callRequest.
type callResponse struct {
	OK     bool   `cbor:"1,keyasint"`
	Leader string `cbor:"2,keyasint,omitempty"` // the leader, when the callee is not it
	// Member: the leader has the caller in the group's configuration
	// already. A caller that believed it was a member and is told
	// otherwise was removed while it was cut off.
	Member bool `cbor:"3,keyasint,omitempty"`
	// Refused says why the leader will never take this join.
	Refused string `cbor:"4,keyasint,omitempty"`
}

const (
	opJoin   = "join"
	opStatus = "status"
)

// handleCall serves a peer's request: "join" asks the leader of a heap to
// add the caller as a learner (a member already is left as it is), under
// a raft ID that must be the caller's (admitJoin).
func (n *Node) handleCall(ctx context.Context, from string, req []byte) ([]byte, error) {
	var r callRequest
	if err := codec.Unmarshal(req, &r); err != nil {
		return nil, fmt.Errorf("oss: malformed request: %w", err)
	}
	if r.Op == opStatus {
		return codec.Marshal(n.localStatus())
	}
	if r.Op != opJoin {
		return nil, fmt.Errorf("oss: unknown request %q", r.Op)
	}
	if r.ID == 0 {
		return nil, errors.New("oss: join: zero node ID")
	}
	if err := n.authorizeJoin(from, r.Heap); err != nil {
		return nil, err
	}
	h := n.replicaOf(r.Heap)
	var resp callResponse
	switch {
	case h == nil:
	case h.leaderIs(h.self):
		final, err := n.admitJoin(ctx, h, from, &r)
		if err != nil {
			n.log.Warn("join refused", "peer", from, "heap", r.Heap, "id", fmt.Sprintf("%016x", r.ID), "err", err)
			if !final {
				return nil, err
			}
			resp.Refused = err.Error()
			return codec.Marshal(resp)
		}
		resp.OK = h.requestJoin(r.ID)
		if cs := h.conf.Load(); cs != nil {
			resp.Member = slices.Contains(cs.Voters, r.ID) || slices.Contains(cs.Learners, r.ID) ||
				slices.Contains(cs.VotersOutgoing, r.ID) || slices.Contains(cs.LearnersNext, r.ID)
		}
	default:
		resp.Leader, _ = n.lookup(h.leader.Load())
	}
	return codec.Marshal(resp)
}

// replicaOf returns the node's open replica of a heap, the catalog
// included, or nil.
func (n *Node) replicaOf(name string) *Heap {
	n.mu.Lock()
	defer n.mu.Unlock()
	if name == catalogName {
		return n.catalog.Load()
	}
	return n.heaps[name]
}

// joinGroup asks the heap's leader to add this node as a learner and waits
// until the replica is a member of its group and has caught up.
func (n *Node) joinGroup(ctx context.Context, h *Heap, hint []groupMember) error {
	if h.inConf.Load() {
		return nil
	}
	if n.tr == nil {
		return fmt.Errorf("oss: heap %q: no network to join its group over", h.name)
	}
	var first []string
	for _, m := range hint {
		first = append(first, m.Name)
	}
	var lastErr error
	for attempt := 0; !h.inConf.Load(); attempt++ {
		if err := n.askJoin(ctx, h, first, h.inConf.Load, nil); err != nil {
			if errors.Is(err, errJoinRefused) {
				return fmt.Errorf("oss: heap %q: %w", h.name, err)
			}
			if lastErr == nil || ctx.Err() == nil {
				lastErr = err // not a call the caller's own end cut short: the last answer says why
			}
		}
		if h.inConf.Load() {
			break
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("oss: heap %q: join its group: %w (last error: %v)", h.name, ctx.Err(), lastErr)
			}
			return fmt.Errorf("oss: heap %q: join its group: %w (no leader answered)", h.name, ctx.Err())
		case <-h.stop:
			return ErrClosed
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		}
	}
	return h.readIndex(ctx)
}

// pollUntil polls cond until it holds, ctx ends or d passes.
func pollUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// publishLeads keeps the heaps this node leads in its membership metadata.
func (n *Node) publishLeads() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last []string
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		var leads []string
		n.mu.Lock()
		for name, h := range n.heaps {
			if h.leaderIs(h.self) {
				leads = append(leads, name)
			}
		}
		n.mu.Unlock()
		slices.Sort(leads)
		if !slices.Equal(leads, last) {
			n.members.setLeads(leads)
			last = leads
		}
	}
}

// replicaStatus is one replica's view of its group, as a status call
// returns it.
type replicaStatus struct {
	Heap     string   `cbor:"1,keyasint"`
	Leader   string   `cbor:"2,keyasint,omitempty"`
	Voters   []string `cbor:"3,keyasint"`
	Learners []string `cbor:"4,keyasint,omitempty"`
	Joint    bool     `cbor:"5,keyasint,omitempty"`
	Applied  uint64   `cbor:"6,keyasint"`
	Leading  bool     `cbor:"7,keyasint,omitempty"`
}

func (n *Node) localStatus() []replicaStatus {
	n.mu.Lock()
	hs := make([]*Heap, 0, len(n.heaps)+1)
	if n.catalog.Load() != nil {
		hs = append(hs, n.catalog.Load())
	}
	for _, h := range n.heaps {
		hs = append(hs, h)
	}
	n.mu.Unlock()
	out := make([]replicaStatus, 0, len(hs))
	for _, h := range hs {
		g := h.Stats()
		out = append(out, replicaStatus{Heap: h.name, Leader: g.Leader, Voters: g.Voters, Learners: g.Learners,
			Joint: g.Joint, Applied: g.Applied, Leading: h.leaderIs(h.self)})
	}
	return out
}

// ClusterStatus is the state of the cluster as one node gathers it.
type ClusterStatus struct {
	// Node is the node that gathered it.
	Node    string
	Members []Member
	// Heaps are the heaps of the catalog, the catalog itself first.
	Heaps []HeapStatus
	// Unreachable lists members that did not answer.
	Unreachable []string `json:",omitempty"`
}

// HeapStatus describes a heap: its entry in the catalog and its group, as
// the replicas that answered report it (every member's for Node.Status,
// this node's alone for Node.Heaps).
type HeapStatus struct {
	Name string
	// Replicas is the number of voters the heap keeps.
	Replicas int
	// Leader, Voters, Learners and Joint are the group as its leader
	// reports it, or as the most advanced replica that answered if no
	// leader did; empty if no replica answered.
	Leader           string
	Voters, Learners []string
	Joint            bool `json:",omitempty"`
	// Applied is the reporting replica's applied index.
	Applied uint64
	// ReplicaApplied is the applied index of every replica that answered.
	ReplicaApplied map[string]uint64 `json:",omitempty"`
}

// Status asks every live member for its replicas and returns the cluster's
// members and heaps. Members that do not answer within ctx (or a second)
// are listed as unreachable.
func (n *Node) Status(ctx context.Context) ClusterStatus {
	st := ClusterStatus{Node: n.cfg.Name, Members: n.Members()}
	type answer struct {
		node string
		reps []replicaStatus
		err  error
	}
	var live []string
	for _, m := range st.Members {
		if m.Name != n.cfg.Name {
			live = append(live, m.Name)
		}
	}
	answers := make(chan answer, len(live))
	req, _ := codec.Marshal(callRequest{Op: opStatus})
	for _, name := range live {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			b, err := n.tr.Call(cctx, name, req)
			var reps []replicaStatus
			if err == nil {
				err = codec.Unmarshal(b, &reps)
			}
			answers <- answer{name, reps, err}
		}()
	}
	all := map[string][]replicaStatus{n.cfg.Name: n.localStatus()}
	for range live {
		a := <-answers
		if a.err != nil {
			st.Unreachable = append(st.Unreachable, a.node)
			continue
		}
		all[a.node] = a.reps
	}
	slices.Sort(st.Unreachable)
	entries := append([]heapEntry{{Name: catalogName, Replicas: catalogReplicas}}, n.catalogEntries()...)
	st.Heaps = heapStatuses(entries, all)
	return st
}

// Heaps lists the heaps in the catalog as this node knows them, without
// asking other members: the catalog as the local replica has it, and the
// group of each heap this node keeps a replica of as that replica sees
// it.
func (n *Node) Heaps() []HeapStatus {
	return heapStatuses(n.catalogEntries(), map[string][]replicaStatus{n.cfg.Name: n.localStatus()})
}

// heapStatuses describes the heaps of entries from what the replicas of
// nodes reported.
func heapStatuses(entries []heapEntry, all map[string][]replicaStatus) []HeapStatus {
	var out []HeapStatus
	for _, e := range entries {
		hs := HeapStatus{Name: e.Name, Replicas: e.Replicas, ReplicaApplied: map[string]uint64{}}
		var best *replicaStatus
		for node, reps := range all {
			for i := range reps {
				r := &reps[i]
				if r.Heap != e.Name {
					continue
				}
				hs.ReplicaApplied[node] = r.Applied
				if best == nil || (r.Leading && !best.Leading) || (r.Leading == best.Leading && r.Applied > best.Applied) {
					best = r
				}
			}
		}
		if best != nil {
			hs.Leader, hs.Voters, hs.Learners, hs.Joint, hs.Applied = best.Leader, best.Voters, best.Learners, best.Joint, best.Applied
		}
		out = append(out, hs)
	}
	return out
}

// peerRole returns the role the named peer's certificate carries, as the
// transport verified it; on a network without certificates (tests on
// transporttest), the role its directory entry gives. A peer not
// connected, or not known, is a client: it may do least.
func (n *Node) peerRole(name string) pki.Role {
	if name == n.cfg.Name {
		return n.cfg.Role
	}
	if n.quic != nil {
		if id, ok := n.quic.PeerIdentity(name); ok {
			return pki.Role(id.Role)
		}
		return pki.RoleClient
	}
	for _, p := range n.directory().live() {
		if p.Name == name {
			return p.Role
		}
	}
	return pki.RoleClient
}
