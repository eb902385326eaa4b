package oss

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/persist"
)

// storeSnapshot writes the state a leader's snapshot brought, decoded as
// it arrived and now the replica's, to the store whole under a new
// generation, with meta, dropping the previous generation in the same
// manifest. The log first learns of the group if it has not yet, so a
// restart after a crash before the log records the snapshot finds the
// group and takes the store's state.
func (h *Heap) storeSnapshot(meta raftpb.SnapshotMetadata) error {
	n := h.node
	h.awaitCheckpoint()
	if h.firstSeq.Load() == 0 {
		b, err := codec.Marshal(walRecord{Heap: h.name, Group: h.group, Replicas: h.factor()})
		if err != nil {
			return err
		}
		seq, err := n.disk.wal.Append(b)
		if err != nil {
			return err
		}
		h.firstSeq.Store(seq)
	}
	stateMeta, err := h.replica.SnapshotMeta()
	if err != nil {
		return err
	}
	sm, _ := meta.Marshal()
	metaBlob, err := codec.Marshal(storeMeta{SnapMeta: sm, State: stateMeta, Replicas: h.factor(), Restored: true})
	if err != nil {
		return err
	}
	if err := h.writeCheckpoint(metaBlob); err != nil {
		// The replica is stuck on its store, not on its log, which is
		// all the refusal's other words (and ossd status') name.
		return fmt.Errorf("the leader's snapshot at index %d goes to the striped store before the log records it, and the store refused it: %w", meta.Index, err)
	}
	return nil
}

// Checkpoints run off the heap's loop. The loop decides when one is due
// and takes what it needs in O(1): the replica's immutable state at the
// applied index N, the state's metadata, and the set of objects changed
// since the last checkpoint (a fresh set collects the changes after N).
// The heap's checkpointer goroutine writes them to the striped store,
// marks the checkpoint in the log, takes a view of it for snapshots to
// peers, and hands the outcome back through a channel; only then does the
// loop count N as checkpointed: the log in memory is compacted only up to
// the last completed checkpoint, and the log on disk is truncated only
// before it. At most one checkpoint of a heap runs; one due meanwhile
// waits for it (the next covers every change since), and the engine asks
// for it again at every tick until it is taken, also of an idle heap. A failed one gives
// its changes back to the loop, which tries again CheckpointEvery entries
// later. Closing the heap waits for a running checkpoint.

// ckptJob is a checkpoint handed from the loop to the checkpointer.
type ckptJob struct {
	state     *consistency.State // the replica's state at meta.Index
	meta      raftpb.SnapshotMetadata
	stateMeta *consistency.MetaCapture // the replica's metadata, encoded off the loop
	metaBlob  []byte                   // storeMeta, written by the checkpointer
	full      bool                     // every object, under generation gen (prev dropped)
	dirty     map[uuid.UUID]dirtyObj   // objects changed since the last checkpoint
	gen       uint64                   // the store generation it writes
	prev      uint64                   // the generation the replica's objects had (gen if not full)
	replicas  int
	snapshots uint64 // the heap's snapshots applied when it was taken
}

// ckptResult is what the checkpointer hands back.
type ckptResult struct {
	job    *ckptJob
	stored bool          // the store holds the checkpoint
	seq    uint64        // the log record marking it, 0 if none
	view   *persist.View // of the checkpoint, for snapshots to peers; nil if none
	err    error
	took   time.Duration
}

// loggedBatch is one append of a replica's log: its first record and the
// index of its last entry (or snapshot).
type loggedBatch struct{ seq, last uint64 }

// checkpointer is a heap's side of its checkpoints. The channels are nil
// on a node without disk.
type checkpointer struct {
	jobs   chan *ckptJob   // to the goroutine; at most one in flight
	done   chan ckptResult // from it
	exited chan struct{}   // closed when the goroutine has returned

	// Owned by the loop.
	running *ckptJob
	retryAt uint64        // after a failure: the applied index of the next try
	logged  []loggedBatch // appends with entries that may follow the next checkpoint
	hardSeq uint64        // the last log record holding the hard state
	// relogging: relogHard's record is in flight; relogged: it is
	// logged, and the replica checkpoints next (checkpointRelogged)
	// without logging it again.
	relogging, relogged bool

	// started, if set (by tests, at any time), is
	// called on the goroutine as each checkpoint begins.
	started atomic.Pointer[func()]
}

// startCheckpointer starts the heap's checkpoint goroutine, on a node with
// disk. A replica recovered from the store's checkpoint serves snapshots
// to peers from it at once.
func (h *Heap) startCheckpointer(g *recoveredGroup) {
	n := h.node
	if n.disk == nil {
		return
	}
	c := &h.ckpt
	c.jobs, c.done, c.exited = make(chan *ckptJob, 1), make(chan ckptResult, 1), make(chan struct{})
	if g != nil {
		// What opening the replica logged comes after what it recovered.
		c.hardSeq = max(c.hardSeq, g.hardSeq)
		c.logged = append(g.logged(), c.logged...)
		if g.stateMeta != nil {
			if v, ok, err := n.disk.store.View(h.space()); err != nil {
				h.log.Warn("no snapshot from the store until the next checkpoint", "err", err)
			} else if ok {
				h.storage.setCheckpoint(g.snap.Metadata, v)
			}
		}
	}
	go h.runCheckpoints()
}

// runCheckpoints writes the checkpoints the loop hands over until the heap
// stops.
func (h *Heap) runCheckpoints() {
	defer close(h.ckpt.exited)
	for {
		select {
		case <-h.stop:
			return
		case j := <-h.ckpt.jobs:
			if f := h.ckpt.started.Load(); f != nil {
				(*f)()
			}
			h.ckpt.done <- h.writeJob(j) // buffered: the loop takes one per job
		}
	}
}

// checkpointAt hands the checkpoint the engine asks for (the replica's
// state stands at index) to the checkpointer, unless one is running or a
// failed one is not to be tried again yet: the engine asks again while the
// checkpoint is due and not reported.
func (h *Heap) checkpointAt(index uint64) {
	c := &h.ckpt
	if c.jobs == nil || c.running != nil || index < c.retryAt {
		return
	}
	st := h.replica.State()
	term, err := h.storage.Term(st.Index())
	if err != nil {
		h.log.Error("checkpoint", "index", st.Index(), "err", err)
		return
	}
	j := &ckptJob{
		stateMeta: h.replica.CaptureSnapshotMeta(),
		state:     st,
		meta:      raftpb.SnapshotMetadata{Index: st.Index(), Term: term, ConfState: h.replica.ConfState()},
		full:      h.needFull,
		gen:       h.storeGen,
		prev:      h.storeGen,
		replicas:  h.factor(),
		snapshots: h.snapshots.Load(),
	}
	if j.full {
		j.gen = h.nextStoreGen() // the state covers every change so far
	} else {
		j.dirty = h.dirty
	}
	h.dirty = map[uuid.UUID]dirtyObj{}
	c.running = j
	c.jobs <- j // buffered, and empty: nothing runs
}

// writeJob writes a checkpoint to the store, marks it in the log and takes
// a view of it. It runs on the checkpointer.
func (h *Heap) writeJob(j *ckptJob) ckptResult {
	n := h.node
	start := time.Now()
	r := ckptResult{job: j}
	sm, _ := j.meta.Marshal()
	j.metaBlob = encodeStoreMeta(sm, j.stateMeta, j.replicas)
	if r.err = n.storeCheckpoint(h.name, h.group, j.gen, j.prev, j.state, j.dirty, j.metaBlob); r.err != nil {
		return r
	}
	r.stored = true
	// No hard state: a later one may be in the log already. The loop
	// keeps the record holding the last one (checkpointer.hardSeq).
	b, err := codec.Marshal(walRecord{Heap: h.name, Group: h.group, Replicas: j.replicas, SnapMeta: sm, InStore: true})
	if err == nil {
		r.seq, err = n.disk.wal.Append(b)
	}
	if err != nil {
		r.err = fmt.Errorf("the log does not record it: %w", err)
	}
	r.took = time.Since(start)
	v, ok, err := n.disk.store.View(spaceKey(h.name, h.group, j.gen))
	if err != nil {
		h.log.Warn("no snapshot from the store until the next checkpoint", "err", err)
	} else if ok {
		r.view = v
	}
	return r
}

// finishCheckpoint takes a checkpoint's outcome on the loop.
func (h *Heap) finishCheckpoint(r ckptResult) {
	c := &h.ckpt
	j := r.job
	c.running = nil
	if r.stored {
		h.storeGen = j.gen // the previous generation is gone from the store
	}
	if h.snapshots.Load() != j.snapshots {
		// A leader's snapshot replaced the state meanwhile; it is in the
		// log (or the store) past this checkpoint, which no longer
		// describes the replica.
		if r.view != nil {
			r.view.Close()
		}
		return
	}
	if !r.stored {
		h.log.Error("checkpoint failed; trying again later", "index", j.meta.Index, "err", r.err)
		for id, o := range j.dirty {
			if _, later := h.dirty[id]; !later {
				h.dirty[id] = o
			}
		}
		c.retryAt = j.meta.Index + uint64(h.cfg.CheckpointEvery)
		return
	}
	if j.full {
		h.needFull = false
	}
	h.eng.Checkpointed(j.meta.Index)
	h.obs.checkpoint.Observe(r.took.Seconds())
	if r.view != nil {
		h.storage.setCheckpoint(j.meta, r.view)
	}
	if r.err != nil {
		// The store holds it, and recovery takes it from there; the log
		// keeps its records until a checkpoint is marked.
		h.log.Error("checkpoint", "index", j.meta.Index, "err", r.err)
		return
	}
	// The log needs the records from the marker on, and before it those
	// with entries after the checkpoint (written while it ran, or not yet
	// committed when it was taken) and the last with the hard state.
	keep := r.seq
	if s := c.keepAfter(j.meta.Index); s != 0 {
		keep = min(keep, s)
	}
	if c.hardSeq != 0 {
		keep = min(keep, c.hardSeq)
	}
	h.ckptSeq.Store(keep)
	h.node.checkpointed()
}

// noteLogged records an append of the replica's log: its first record,
// the index of its last entry or snapshot, and whether it holds the hard
// state (in its last record, last).
func (c *checkpointer) noteLogged(first, last, index uint64, hard bool) {
	if hard {
		c.hardSeq = last
	}
	if index != 0 {
		c.logged = append(c.logged, loggedBatch{seq: first, last: index})
	}
}

// keepAfter forgets the appends that hold nothing after index and returns
// the first record of the earliest one left, 0 if none.
func (c *checkpointer) keepAfter(index uint64) uint64 {
	k := 0
	for k < len(c.logged) && c.logged[k].last <= index {
		k++
	}
	c.logged = slices.Delete(c.logged, 0, k)
	if len(c.logged) == 0 {
		return 0
	}
	return slices.MinFunc(c.logged, func(a, b loggedBatch) int { return cmp.Compare(a.seq, b.seq) }).seq
}

// awaitCheckpoint waits for a running checkpoint and takes its outcome,
// before the loop replaces what it writes (a leader's snapshot). A heap
// closing stops its checkpointer, which may return before it takes a job
// handed to it (the loop goes on until it sees the stop): that job never
// runs, and nothing is waited for.
func (h *Heap) awaitCheckpoint() {
	c := &h.ckpt
	if c.running == nil {
		return
	}
	select {
	case r := <-c.done:
		h.finishCheckpoint(r)
	case <-c.exited:
		select {
		case r := <-c.done:
			h.finishCheckpoint(r)
		default:
			c.running = nil
		}
	}
}

// stopCheckpoints waits, when the heap stops, for its checkpointer to
// return, and lets go of what a last checkpoint handed back.
func (h *Heap) stopCheckpoints() {
	c := &h.ckpt
	if c.jobs == nil {
		return
	}
	<-c.exited
	select {
	case r := <-c.done:
		if r.stored {
			h.storeGen = r.job.gen // what dropping the heap removes
		}
		if r.view != nil {
			r.view.Close()
		}
	default:
	}
}

// checkpointed wakes the compactor: a checkpoint may let the log shrink
// and the stripes be compacted.
func (n *Node) checkpointed() {
	select {
	case n.disk.compact <- struct{}{}:
	default:
	}
}

// writeCheckpoint writes the replica's whole state to the store under a
// new generation, the previous one dropped, with metaBlob as the space's
// metadata. It runs on the loop, for a leader's snapshot, with no
// checkpoint running.
func (h *Heap) writeCheckpoint(metaBlob []byte) error {
	gen := h.nextStoreGen()
	if err := h.node.storeCheckpoint(h.name, h.group, gen, h.storeGen, h.replica.State(), nil, metaBlob); err != nil {
		return err
	}
	h.storeGen = gen
	h.needFull = false
	h.dirty = map[uuid.UUID]dirtyObj{} // clear would keep the largest table it ever had
	h.node.checkpointed()
	return nil
}

// A dirtyObj is an object changed since the last checkpoint, as its last
// change left it: its version and value, or version 0 if it was deleted
// (a live object's version is the index of an entry, at least 1). The
// loop records each change set's objects so (outcomes), and a checkpoint
// writes them as they are, where looking each up in the State it
// checkpoints cost a twentieth of a busy heap's processor: the lookups
// miss the cache. The map holds the values the State holds, no copies.
type dirtyObj struct {
	version uint64
	value   []byte
}

func dirtyOf(c consistency.Change) dirtyObj {
	if c.Deleted {
		return dirtyObj{}
	}
	return dirtyObj{version: c.Version, value: c.Value}
}

// storeCheckpoint writes a replica's checkpoint to the store as generation
// gen of its space, with metaBlob as the space's metadata: every object of
// st if gen is new (generation prev, the replica's until now, dropped),
// else (gen == prev) the objects in dirty as their last changes up to
// st's index left them (the loop hands it a State and the changes that
// led to it).
func (n *Node) storeCheckpoint(heap string, group, gen, prev uint64, st *consistency.State, dirty map[uuid.UUID]dirtyObj, metaBlob []byte) error {
	space := spaceKey(heap, group, gen)
	spaces := map[string][]byte{space: metaBlob}
	var objs []persist.Object
	if gen != prev {
		spaces[spaceKey(heap, group, prev)] = nil // the previous generation's objects are garbage
		objs = make([]persist.Object, 0, st.Len())
		st.Ascend(uuid.Nil, func(o consistency.Object) bool {
			objs = append(objs, persist.Object{Space: space, ID: o.ID, Version: o.Version, Value: o.Value})
			return true
		})
	} else {
		objs = make([]persist.Object, 0, len(dirty))
		for id, o := range dirty {
			if o.version == 0 {
				objs = append(objs, persist.Object{Space: space, ID: id, Version: st.Index(), Deleted: true})
				continue
			}
			objs = append(objs, persist.Object{Space: space, ID: id, Version: o.version, Value: o.value})
		}
	}
	_, err := n.disk.store.Checkpoint(objs, spaces)
	return err
}

// streamView writes the snapshot of a checkpoint at index held in the
// store, reading the stripes in parallel.
func streamView(w io.Writer, v *persist.View, index uint64) error {
	var sm storeMeta
	if err := codec.Unmarshal(v.Meta(), &sm); err != nil {
		return fmt.Errorf("oss: checkpoint metadata: %w", err)
	}
	return consistency.WriteSnapshot(w, sm.State, index, v.Len(), func(yield func(consistency.Object) error) error {
		return v.Scan(func(o persist.Object) error {
			return yield(consistency.Object{ID: uuid.UUID(o.ID), Version: o.Version, Value: o.Value})
		})
	})
}

// compactMin is the size below which a stripe is not compacted.
const compactMin = 64 << 20

// compactor truncates the log and compacts the store's stripes after
// checkpoints, off the heaps' loops, until the node closes.
func (n *Node) compactor() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.disk.compact:
		}
		n.truncateWAL()
		start := time.Now()
		reclaimed, err := n.disk.store.Compact(compactMin)
		if err != nil {
			n.log.Error("striped store: compaction", "err", err)
			continue
		}
		if reclaimed > 0 {
			n.log.Info("striped store compacted", "reclaimed", reclaimed, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

// storeMeta is a heap's metadata in the store's manifest: the state beside
// its objects, as of the checkpoint's index.
type storeMeta struct {
	SnapMeta []byte `cbor:"1,keyasint"` // raftpb.SnapshotMetadata
	State    []byte `cbor:"2,keyasint"` // consistency SnapshotMeta
	Replicas int    `cbor:"3,keyasint"`
	// Restored: the state came whole from a leader's snapshot at
	// SnapMeta, which replaced the log before it.
	Restored bool `cbor:"4,keyasint,omitempty"`
}

// encodeStoreMeta is codec.Marshal(storeMeta{SnapMeta: sm, State: the
// encoding of state, Replicas: replicas}), byte for byte, with the state's
// encoding (up to DefaultDedupWindow decisions, megabytes) written in
// place rather than encoded apart and copied in.
func encodeStoreMeta(sm []byte, state *consistency.MetaCapture, replicas int) []byte {
	n := state.Len()
	b := make([]byte, 0, 1+1+9+len(sm)+1+9+n+1+9)
	b = append(b, 0xa3, 0x01) // a map of 3: keys 1 to 3 in order
	if sm == nil {
		b = append(b, 0xf6)
	} else {
		b = append(codec.AppendHead(b, 2, uint64(len(sm))), sm...) // a byte string
	}
	b = state.AppendTo(codec.AppendHead(append(b, 0x02), 2, uint64(n)))
	b = append(b, 0x03)
	if replicas < 0 { // a negative integer
		return codec.AppendHead(b, 1, uint64(-1-replicas))
	}
	return codec.AppendHead(b, 0, uint64(replicas))
}

// space names a replica's objects in the store: heap, group incarnation,
// and a generation that changes when its state is replaced whole.
func (h *Heap) space() string { return spaceKey(h.name, h.group, h.storeGen) }

// A space's name is never used again once removed (persist.Store.
// Checkpoint: its records stay in the stripes until compacted, and a
// space of that name would take them back). A replica's generations
// only grow, but a replica of the same group opened again on the node
// (after its retirement, retire.go) starts anew: its generations, and
// the first of a replica without a checkpoint in the store, come from
// the store's manifest generation (persist.Manifest.Gen), which counts
// the store's checkpoints and only grows. Every generation a replica
// wrote was at most the manifest generation its checkpoint committed,
// so one taken past the manifest of the moment is one no space of the
// node has had.

// nextStoreGen returns the generation of the replica's next full
// checkpoint: past its own and past every one the store has known.
func (h *Heap) nextStoreGen() uint64 { return max(h.storeGen+1, h.node.freshStoreGen()) }

// freshStoreGen returns a generation no space of the store has had; 0
// without a store.
func (n *Node) freshStoreGen() uint64 {
	if n.disk == nil {
		return 0
	}
	return n.disk.store.Manifest().Gen + 1
}

func spaceKey(heap string, group, gen uint64) string {
	return fmt.Sprintf("%s\x00%016x\x00%d", heap, group, gen)
}

func parseSpace(s string) (heap string, group, gen uint64, ok bool) {
	parts := strings.Split(s, "\x00")
	if len(parts) != 3 {
		return "", 0, 0, false
	}
	g, err1 := strconv.ParseUint(parts[1], 16, 64)
	n, err2 := strconv.ParseUint(parts[2], 10, 64)
	return parts[0], g, n, err1 == nil && err2 == nil
}

// truncateWAL drops the log segments no replica needs: those before the
// oldest of each open replica's first record its last checkpoint needs
// (or first record). A replica that still needs a segment before the
// last two is asked to let go of it (unpinLog): one that applies few
// entries (the catalog, an idle heap) checkpoints seldom or never by
// CheckpointEvery, and would otherwise hold every segment logged after
// its first record.
func (n *Node) truncateWAL() {
	n.mu.Lock()
	hs := make([]*Heap, 0, len(n.heaps)+1)
	if n.catalog.Load() != nil {
		hs = append(hs, n.catalog.Load())
	}
	for _, h := range n.heaps {
		hs = append(hs, h)
	}
	n.mu.Unlock()
	keep := uint64(0)
	needs := make([]uint64, len(hs))
	for i, h := range hs {
		s := h.ckptSeq.Load()
		if s == 0 {
			s = h.firstSeq.Load() // no checkpoint: all its records
		}
		needs[i] = s
		if s == 0 {
			continue // nothing in the log
		}
		if keep == 0 || s < keep {
			keep = s
		}
	}
	if keep == 0 {
		return
	}
	if err := n.disk.wal.TruncateBefore(keep); err != nil {
		n.log.Error("write-ahead log: truncate", "err", err)
	}
	starts := n.disk.wal.SegmentStarts()
	if len(starts) < 3 {
		return
	}
	// Asked once a segment: the next ask comes when the log has moved on.
	bound := starts[len(starts)-2]
	for i, h := range hs {
		if needs[i] != 0 && needs[i] < bound && h.unpinAsked.Load() < bound {
			h.unpinAsked.Store(bound)
			h.unpin.Store(bound)
		}
	}
}

// unpinLog lets go of the log's records before b, which the node's
// compactor asks for (truncateWAL): the replica checkpoints now, and if
// its last record with the hard state precedes b, logs that again first
// (relogHard; no record of a replica without entries carries it, nor
// one of a lone leader's, whose commit index moves in writes of its own,
// which are not logged). It waits for a running checkpoint, for a state
// to checkpoint, and for the engine's refused writes to be made again.
// It does not wait for the log's writes in flight: the record goes on
// the chain behind them, with the latest hard state handed to the log,
// and is durable only if they are. A heap under steady load has a write
// in flight at almost every tick; waiting for a tick with none, its
// first record held the log until the load paused. A replica waiting for
// its first snapshot has no state to checkpoint (unpinWaiting).
func (h *Heap) unpinLog(b uint64) {
	c := &h.ckpt
	if c.jobs == nil || c.running != nil || c.relogging {
		return
	}
	if h.replica.State().Index() == 0 {
		h.unpinWaiting(b)
		return
	}
	if !c.relogged && c.hardSeq != 0 && c.hardSeq < b && !raft.IsEmptyHardState(h.lastHard) {
		if h.rewriting {
			return
		}
		h.unpin.CompareAndSwap(b, 0)
		h.relogHard()
		return
	}
	c.relogged = false
	h.unpin.CompareAndSwap(b, 0)
	h.checkpointAt(h.replica.State().Index())
}

// unpinWaiting lets go of the log's records before b for a replica
// waiting for its first snapshot (a learner placed on the node whose
// leader has not sent it one): they hold what recovery reads of it, that
// it exists and its hard state, and nothing to checkpoint. It logs its
// hard state again (relogHard); once that record is logged, the records
// before it are no longer needed (relogged). A replica with entries or a
// snapshot in the log (waiting) keeps its records.
func (h *Heap) unpinWaiting(b uint64) {
	if !h.waiting() || h.rewriting {
		return
	}
	h.unpin.CompareAndSwap(b, 0)
	h.relogHard()
}

// waiting reports whether the replica waits for its first snapshot with
// nothing in the log but its hard state: no state, no entries or snapshot
// logged, no checkpoint.
func (h *Heap) waiting() bool {
	return h.replica.State().Index() == 0 && len(h.ckpt.logged) == 0 && h.ckptSeq.Load() == 0
}

// relogHard appends the replica's hard state, synced, as a record of its
// own on the replica's chain, behind every write of it, those in flight
// too: it holds the last hard state handed to the log (lastHard), and
// the chain fails it if one of them fails. The last record with the hard
// state is then this one or a later one, and the records before it need
// not keep the hard state. Once it is logged the replica checkpoints
// (relogged, checkpointRelogged), or, waiting for its first snapshot,
// needs no record before it.
func (h *Heap) relogHard() {
	hard, err := h.lastHard.Marshal()
	if err != nil {
		return
	}
	b, err := codec.Marshal(walRecord{Heap: h.name, Group: h.group, Replicas: h.factor(), Hard: hard})
	if err != nil {
		h.log.Error("write-ahead log: the hard state not logged again", "err", err)
		return
	}
	lw := &logWrite{bufs: [][]byte{b}, sync: true, hard: h.lastHard, own: true}
	h.inflight++
	h.ckpt.relogging = true
	epoch := h.epoch
	h.node.disk.wal.AppendAsync(h.chain, true, func(last uint64, err error) {
		h.noteWritten(writeDone{lw: lw, last: last, err: err, epoch: epoch})
	}, b)
}

// relogged takes the log's answer to relogHard's record, on the loop.
func (h *Heap) relogged(d writeDone) {
	h.ckpt.relogging = false
	switch {
	case d.epoch != h.epoch:
		// A refused write came first: the next ask tries again.
	case d.err != nil:
		h.log.Warn("write-ahead log: the hard state not logged again; the log keeps its older record", "err", d.err)
		if h.inflight == 0 {
			// The failure ended the chain, and no write of the engine's
			// is behind it on it.
			h.chain = new(persist.Chain)
		}
	default:
		h.logged(d.lw, d.last)
		if h.waiting() {
			// The record holds all recovery reads of the replica: the
			// log keeps it, and no record of the replica before it.
			h.firstSeq.Store(d.last)
			h.node.checkpointed()
			return
		}
		// The checkpoint waits for the loop to be between Readies
		// (checkpointRelogged): this answer may come inside one
		// (writeFirst, as a snapshot is installed), when the replica's
		// state is ahead of the raft storage whose term the checkpoint
		// records.
		h.ckpt.relogged = true
	}
}

// checkpointRelogged checkpoints a replica whose hard state was logged
// again (relogged), once no checkpoint runs; the loop calls it between
// Readies.
func (h *Heap) checkpointRelogged() {
	if !h.ckpt.relogged || h.ckpt.running != nil {
		return
	}
	h.ckpt.relogged = false
	h.checkpointAt(h.replica.State().Index())
}
