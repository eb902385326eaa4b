package oss

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/persist"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Durability says what a node keeps on disk, in Config.DataDir.
type Durability uint8

const (
	// DurabilityDefault is DurabilitySync with a DataDir, DurabilityMemory
	// without one.
	DurabilityDefault Durability = iota
	// DurabilitySync makes every commit durable on the acknowledging
	// replicas before it is acknowledged: the log is synced first, and
	// concurrent commits share a sync.
	DurabilitySync
	// DurabilityBatch syncs the log every Config.BatchInterval: a power
	// failure of a quorum loses what was acknowledged in the last
	// interval. So does a sync that fails: the node's log then stops, and
	// its replicas commit nothing until the node restarts.
	DurabilityBatch
	// DurabilityMemory keeps nothing on disk.
	DurabilityMemory
)

func (d Durability) String() string {
	return [...]string{"default", "sync", "batch", "memory"}[min(int(d), 3)]
}

// walRecord is what a heap's replica persists of one raft Ready, or a
// checkpoint of its whole state, in the node's write-ahead log.
type walRecord struct {
	Heap     string   `cbor:"1,keyasint"`
	Group    uint64   `cbor:"2,keyasint,omitempty"`
	Hard     []byte   `cbor:"3,keyasint,omitempty"` // raftpb.HardState
	Entries  [][]byte `cbor:"4,keyasint,omitempty"` // raftpb.Entry each
	SnapMeta []byte   `cbor:"5,keyasint,omitempty"` // raftpb.SnapshotMetadata
	SnapData []byte   `cbor:"6,keyasint,omitempty"` // the state at SnapMeta's index
	Dropped  bool     `cbor:"7,keyasint,omitempty"`
	Replicas int      `cbor:"8,keyasint,omitempty"`
	InStore  bool     `cbor:"9,keyasint,omitempty"` // a checkpoint in the striped store, at SnapMeta
	// Restored: a leader's snapshot replaced the state at SnapMeta, and
	// raft the log with it: the entries before this record are gone.
	Restored bool `cbor:"10,keyasint,omitempty"`
}

type groupKey struct {
	heap  string
	group uint64
}

// recoveredGroup is a replica's raft state rebuilt from the log.
type recoveredGroup struct {
	key      groupKey
	replicas int
	snap     raftpb.Snapshot
	hard     raftpb.HardState
	ents     []raftpb.Entry
	dropped  bool
	firstSeq uint64 // the first record of the group still in the log
	ckptSeq  uint64 // the record of its last checkpoint, 0 if none

	// From the striped store, when its checkpoint is the latest state.
	stateMeta []byte
	objects   []consistency.Object
	storeGen  uint64
}

// replay folds one log record into the groups recovered so far.
func replayRecord(groups map[groupKey]*recoveredGroup, seq uint64, b []byte) error {
	var rec walRecord
	if err := codec.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("record %d does not decode: %w", seq, err)
	}
	k := groupKey{rec.Heap, rec.Group}
	g := groups[k]
	if g == nil {
		g = &recoveredGroup{key: k, firstSeq: seq}
		groups[k] = g
	}
	if rec.Replicas > 0 {
		g.replicas = rec.Replicas
	}
	if rec.Dropped {
		g.dropped = true
		return nil
	}
	if rec.SnapMeta != nil {
		var meta raftpb.SnapshotMetadata
		if err := meta.Unmarshal(rec.SnapMeta); err != nil {
			return fmt.Errorf("record %d: snapshot metadata: %w", seq, err)
		}
		if meta.Index >= g.snap.Metadata.Index {
			g.snap = raftpb.Snapshot{Metadata: meta, Data: rec.SnapData}
			g.ents = slices.DeleteFunc(g.ents, func(e raftpb.Entry) bool { return rec.Restored || e.Index <= meta.Index })
			if rec.SnapData != nil || rec.InStore {
				g.ckptSeq = seq
			}
		}
	}
	if rec.Hard != nil {
		var hs raftpb.HardState
		if err := hs.Unmarshal(rec.Hard); err != nil {
			return fmt.Errorf("record %d: hard state: %w", seq, err)
		}
		g.hard = hs
	}
	for _, eb := range rec.Entries {
		var e raftpb.Entry
		if err := e.Unmarshal(eb); err != nil {
			return fmt.Errorf("record %d: entry: %w", seq, err)
		}
		if e.Index <= g.snap.Metadata.Index {
			continue
		}
		// A new leader may have replaced a suffix: later entries win.
		g.ents = slices.DeleteFunc(g.ents, func(x raftpb.Entry) bool { return x.Index >= e.Index })
		if n := len(g.ents); n > 0 && g.ents[n-1].Index+1 != e.Index || n == 0 && e.Index != g.snap.Metadata.Index+1 {
			return fmt.Errorf("record %d: heap %q: entry %d does not follow the log", seq, k.heap, e.Index)
		}
		g.ents = append(g.ents, e)
	}
	return nil
}

// storage returns the recovered raft storage of the group.
func (g *recoveredGroup) storage() (*snapStorage, error) {
	s := newSnapStorage()
	if g.hard.Commit < g.snap.Metadata.Index {
		// A commit index alone is not logged; the checkpoint proves more.
		g.hard.Commit = g.snap.Metadata.Index
	}
	if !raft.IsEmptySnap(g.snap) {
		snap := g.snap
		snap.Data = nil // the state is restored by the replica, not kept twice
		if err := s.ApplySnapshot(snap); err != nil {
			return nil, err
		}
	}
	if err := s.Append(g.ents); err != nil {
		return nil, err
	}
	if !raft.IsEmptyHardState(g.hard) {
		if err := s.SetHardState(g.hard); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// disk is a node's persistent state: its identity and its write-ahead log.
type disk struct {
	wal     *persist.WAL
	store   *persist.Store
	compact chan struct{} // a checkpoint was written: compaction may be due
	// recovered are the groups found in the log at start, by heap.
	recovered map[groupKey]*recoveredGroup
	loaded    int // objects read from the store at start
}

// openDisk loads (or creates) the node's identity in dir and opens and
// replays its write-ahead log.
func (n *Node) openDisk(fsys persist.FS, dir string) error {
	if err := fsys.MkdirAll(dir); err != nil {
		return fmt.Errorf("oss: data directory: %w", err)
	}
	id, err := loadNodeID(fsys, dir)
	if err != nil {
		return err
	}
	if id == 0 {
		if err := storeNodeID(fsys, dir, n.id); err != nil {
			return err
		}
	} else {
		n.id = id
	}
	opts := persist.WALOptions{Logger: n.log, Progress: n.progress("replaying the write-ahead log"), MaxRecord: n.limits.walRecord}
	if n.cfg.Durability == DurabilityBatch {
		opts.SyncInterval = n.cfg.BatchInterval
	}
	groups := map[groupKey]*recoveredGroup{}
	start := time.Now()
	wal, err := persist.OpenWAL(n.met.walFS(fsys), filepath.Join(dir, "wal"), opts, func(seq uint64, rec []byte) error {
		return replayRecord(groups, seq, rec)
	})
	if err != nil {
		var ce *persist.CorruptError
		if errors.As(err, &ce) {
			return fmt.Errorf("%w: %w; move %s aside and start the node with an empty data directory and Join to rebuild its replicas from its peers", ErrCorrupt, err, dir)
		}
		return fmt.Errorf("oss: write-ahead log: %w", err)
	}
	stripes := n.cfg.StripeDirs
	if len(stripes) == 0 {
		stripes = []string{filepath.Join(dir, "stripes")}
	}
	store, err := persist.OpenStore(fsys, stripes)
	if err != nil {
		var ce *persist.CorruptError
		if errors.As(err, &ce) {
			err = fmt.Errorf("%w: the striped store: %w; move %s and the stripe directories aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, err, dir)
		} else {
			err = fmt.Errorf("oss: striped store: %w", err)
		}
		return errors.Join(err, wal.Close())
	}
	n.disk = &disk{wal: wal, store: store, recovered: groups, compact: make(chan struct{}, 1)}
	if err := n.disk.loadStore(n); err != nil {
		return errors.Join(err, store.Close(), wal.Close())
	}
	if len(groups) > 0 {
		n.log.Info("recovered", "replicas", len(groups), "objects", n.disk.loaded, "took", time.Since(start).Round(time.Millisecond))
		n.met.recovered(time.Since(start))
	}
	return nil
}

// loadStore reads every stripe in parallel and hands each recovered group
// its checkpoint from the store, when that is newer than what the log
// holds.
func (d *disk) loadStore(n *Node) error {
	m := d.store.Manifest()
	type spaceInfo struct {
		meta storeMeta
		snap raftpb.SnapshotMetadata
		key  groupKey
		gen  uint64
	}
	spaces := map[string]*spaceInfo{}
	for name, blob := range m.Spaces {
		heap, group, gen, ok := parseSpace(name)
		if !ok {
			continue
		}
		si := &spaceInfo{key: groupKey{heap, group}, gen: gen}
		if err := codec.Unmarshal(blob, &si.meta); err != nil {
			return fmt.Errorf("oss: striped store: the metadata of %q does not decode: %w", heap, err)
		}
		if si.meta.State == nil {
			// Without it the replica would start from an empty state at
			// the checkpoint's index.
			return fmt.Errorf("oss: striped store: the metadata of %q holds no state", heap)
		}
		if err := si.snap.Unmarshal(si.meta.SnapMeta); err != nil {
			return fmt.Errorf("oss: striped store: the metadata of %q does not decode: %w", heap, err)
		}
		spaces[name] = si
	}
	if len(spaces) == 0 {
		return nil
	}
	var mu sync.Mutex
	objs := map[string][]consistency.Object{}
	err := d.store.LoadProgress(func(o persist.Object) {
		if _, ok := spaces[o.Space]; !ok {
			return // garbage of an older generation or a dropped heap
		}
		mu.Lock()
		objs[o.Space] = append(objs[o.Space], consistency.Object{ID: o.ID, Version: o.Version, Value: o.Value})
		d.loaded++
		mu.Unlock()
	}, n.progress("loading the striped store"))
	if err != nil {
		var ce *persist.CorruptError
		if errors.As(err, &ce) {
			return fmt.Errorf("%w: the striped store: %w; move the data directory and the stripe directories aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, err)
		}
		return fmt.Errorf("oss: striped store: %w", err)
	}
	for name, si := range spaces {
		g := d.recovered[si.key]
		if g == nil || g.dropped || si.snap.Index < g.snap.Metadata.Index {
			continue
		}
		// A leader's snapshot the store took whole before the log
		// recorded it (a crash in between) replaced the log too.
		gone := si.meta.Restored && si.snap.Index > g.snap.Metadata.Index
		g.snap = raftpb.Snapshot{Metadata: si.snap}
		g.ents = slices.DeleteFunc(g.ents, func(e raftpb.Entry) bool { return gone || e.Index <= si.snap.Index })
		g.stateMeta, g.objects, g.storeGen = si.meta.State, objs[name], si.gen
		if g.objects == nil {
			g.objects = []consistency.Object{}
		}
		if si.meta.Replicas > 0 {
			g.replicas = si.meta.Replicas
		}
	}
	return nil
}

const nodeIDFile = "NODE_ID"

func loadNodeID(fsys persist.FS, dir string) (uint64, error) {
	f, err := fsys.Open(filepath.Join(dir, nodeIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("oss: node identity: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 64)
	k, _ := f.Read(buf)
	id, err := strconv.ParseUint(strings.TrimSpace(string(buf[:k])), 16, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("oss: node identity in %s is damaged (%q); move the data directory aside to start as a new node", filepath.Join(dir, nodeIDFile), buf[:k])
	}
	return id, nil
}

func storeNodeID(fsys persist.FS, dir string, id uint64) error {
	tmp := filepath.Join(dir, nodeIDFile+".tmp")
	f, err := fsys.Create(tmp)
	if err != nil {
		return fmt.Errorf("oss: node identity: %w", err)
	}
	var b [8]byte
	for i := range b {
		b[i] = byte(id >> (56 - 8*i))
	}
	_, err = f.Write([]byte(hex.EncodeToString(b[:]) + "\n"))
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err == nil {
		err = fsys.Rename(tmp, filepath.Join(dir, nodeIDFile))
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("oss: node identity: %w", err)
	}
	return nil
}

// persist writes what a Ready asks to keep to the write-ahead log and
// returns once it is durable (or written, in batch mode).
func (h *Heap) persist(rd raft.Ready) error {
	wal := h.node.walOf()
	if wal == nil {
		return nil
	}
	if raft.IsEmptySnap(rd.Snapshot) && len(rd.Entries) == 0 &&
		(raft.IsEmptyHardState(rd.HardState) || !raft.MustSync(rd.HardState, h.lastHard, 0) && !commitsConfChange(rd)) {
		// Nothing, or only a commit index, which raft learns again after
		// a restart: no record, and no sync. A commit index that covers a
		// configuration change is kept: a replica restarted with a lower
		// one would come back in an older configuration (a bootstrapped
		// node as its sole voter).
		return nil
	}
	rec := walRecord{Heap: h.name, Group: h.group, Replicas: h.replicas}
	var hard []byte
	if !raft.IsEmptyHardState(rd.HardState) {
		hard, _ = rd.HardState.Marshal()
	}
	ents := make([][]byte, len(rd.Entries))
	for i := range rd.Entries {
		b, err := rd.Entries[i].Marshal()
		if err != nil {
			return err
		}
		ents[i] = b
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		rec.SnapMeta, _ = rd.Snapshot.Metadata.Marshal()
		if consistency.DecodedApart(rd.Snapshot.Data) {
			// A leader's snapshot decoded as it arrived: the replica
			// holds its state, which goes to the store whole before the
			// record that names it.
			if err := h.storeSnapshot(rd.Snapshot.Metadata); err != nil {
				return err
			}
			rec.InStore, rec.Restored = true, true
		} else {
			rec.SnapData = rd.Snapshot.Data
		}
	}
	recs := splitReady(rec, hard, ents, h.node.limits.walEntries)
	bufs := make([][]byte, len(recs))
	for i := range recs {
		b, err := codec.Marshal(recs[i])
		if err != nil {
			return err
		}
		bufs[i] = b
	}
	seq, err := wal.Append(bufs...)
	if err != nil {
		return err
	}
	if h.firstSeq.Load() == 0 {
		h.firstSeq.Store(seq - uint64(len(bufs)) + 1)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		h.lastHard = rd.HardState
	}
	if rec.InStore {
		h.ckptSeq.Store(seq)
		h.lastCkpt = rd.Snapshot.Metadata.Index
		h.node.truncateWAL()
	}
	return nil
}

// storeSnapshot writes the state a leader's snapshot brought, decoded as
// it arrived and now the replica's, to the store whole under a new
// generation, with meta, dropping the previous generation in the same
// manifest. The log first learns of the group if it has not yet, so a
// restart after a crash before the log records the snapshot finds the
// group and takes the store's state.
func (h *Heap) storeSnapshot(meta raftpb.SnapshotMetadata) error {
	n := h.node
	if h.firstSeq.Load() == 0 {
		b, err := codec.Marshal(walRecord{Heap: h.name, Group: h.group, Replicas: h.replicas})
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
	metaBlob, err := codec.Marshal(storeMeta{SnapMeta: sm, State: stateMeta, Replicas: h.replicas, Restored: true})
	if err != nil {
		return err
	}
	return h.writeCheckpoint(metaBlob, true)
}

// splitReady puts what a Ready keeps into log records: one, unless its
// entries (with a snapshot's state, which comes first) exceed budget
// bytes; then as many as it takes, each holding at least one entry, which
// one Append writes together. The hard state goes with the last record, so
// a log torn between them never holds a commit index past its entries.
func splitReady(rec walRecord, hard []byte, ents [][]byte, budget int) []walRecord {
	var recs []walRecord
	size := len(rec.SnapData)
	for _, e := range ents {
		if (len(rec.Entries) > 0 || rec.SnapMeta != nil) && size+walEntryHead+len(e) > budget {
			recs = append(recs, rec)
			rec = walRecord{Heap: rec.Heap, Group: rec.Group, Replicas: rec.Replicas}
			size = 0
		}
		rec.Entries = append(rec.Entries, e)
		size += walEntryHead + len(e)
	}
	rec.Hard = hard
	return append(recs, rec)
}

// checkpoint writes the objects changed since the last checkpoint (all of
// them after the state was replaced by a leader's snapshot) to the striped
// store, with the rest of the state as the space's metadata, then marks the
// checkpoint in the log, so that the records before it can go.
func (h *Heap) checkpoint() error {
	n := h.node
	applied := h.replica.State().Index()
	term, err := h.storage.Term(applied)
	if err != nil {
		return err
	}
	stateMeta, err := h.replica.SnapshotMeta()
	if err != nil {
		return err
	}
	snapMeta := raftpb.SnapshotMetadata{Index: applied, Term: term, ConfState: h.replica.ConfState()}
	sm, _ := snapMeta.Marshal()
	metaBlob, err := codec.Marshal(storeMeta{SnapMeta: sm, State: stateMeta, Replicas: h.replicas})
	if err != nil {
		return err
	}
	if err := h.writeCheckpoint(metaBlob, h.needFull); err != nil {
		return err
	}
	hs, _, _ := h.storage.InitialState()
	rec := walRecord{Heap: h.name, Group: h.group, Replicas: h.replicas, SnapMeta: sm, InStore: true}
	rec.Hard, _ = hs.Marshal()
	b, err := codec.Marshal(rec)
	if err != nil {
		return err
	}
	seq, err := n.disk.wal.Append(b)
	if err != nil {
		return err
	}
	h.ckptSeq.Store(seq)
	n.truncateWAL()
	return nil
}

// writeCheckpoint writes the replica's objects to the store with metaBlob
// as the space's metadata: every object under a new generation (the
// previous one dropped) if full, else those changed since the last
// checkpoint.
func (h *Heap) writeCheckpoint(metaBlob []byte, full bool) error {
	old := h.space()
	spaces := map[string][]byte{}
	var objs []persist.Object
	if full {
		h.storeGen++
		spaces[old] = nil // the previous generation's objects are garbage
		h.replica.State().Ascend(uuid.Nil, func(o consistency.Object) bool {
			objs = append(objs, persist.Object{ID: o.ID, Version: o.Version, Value: o.Value})
			return true
		})
	} else {
		// The state holds each changed object as of the checkpoint; one
		// it no longer holds was deleted (a tombstone's version is not
		// read back).
		st := h.replica.State()
		objs = make([]persist.Object, 0, len(h.dirty))
		for id := range h.dirty {
			o, ok := st.Get(id)
			objs = append(objs, persist.Object{ID: id, Version: o.Version, Value: o.Value, Deleted: !ok})
		}
	}
	space := h.space()
	for i := range objs {
		objs[i].Space = space
	}
	spaces[space] = metaBlob
	if _, err := h.node.disk.store.Checkpoint(objs, spaces); err != nil {
		if full {
			h.storeGen--
		}
		return err
	}
	h.needFull = false
	h.dirty = map[uuid.UUID]struct{}{} // clear would keep the largest table it ever had
	select {
	case h.node.disk.compact <- struct{}{}:
	default:
	}
	return nil
}

// checkpointView returns a view of the heap's last checkpoint in the store
// and its raft metadata, for a snapshot that streams from the store; false
// if the store holds no current checkpoint of the heap.
func (h *Heap) checkpointView() (raftpb.SnapshotMetadata, *persist.View, bool) {
	var meta raftpb.SnapshotMetadata
	if h.needFull {
		return meta, nil, false // the state was replaced since
	}
	v, ok, err := h.node.disk.store.View(h.space())
	if err != nil {
		h.log.Warn("no snapshot from the store", "err", err)
		return meta, nil, false
	}
	if !ok {
		return meta, nil, false
	}
	var sm storeMeta
	if err := codec.Unmarshal(v.Meta(), &sm); err != nil || meta.Unmarshal(sm.SnapMeta) != nil {
		v.Close()
		h.log.Warn("no snapshot from the store: its metadata does not decode")
		return meta, nil, false
	}
	return meta, v, true
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

// compactor compacts the store's stripes after checkpoints, off the heaps'
// loops, until the node closes.
func (n *Node) compactor() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.disk.compact:
		}
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

// space names a replica's objects in the store: heap, group incarnation,
// and a generation that changes when its state is replaced whole.
func (h *Heap) space() string { return spaceKey(h.name, h.group, h.storeGen) }

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

// walOf returns the node's write-ahead log, nil in memory mode.
func (n *Node) walOf() *persist.WAL {
	if n.disk == nil {
		return nil
	}
	return n.disk.wal
}

// truncateWAL drops the log segments no replica needs: those before the
// oldest of each open replica's last checkpoint (or first record).
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
	for _, h := range hs {
		s := h.ckptSeq.Load()
		if s == 0 {
			s = h.firstSeq.Load() // no checkpoint: all its records
		}
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
}

// recoveredGroups lists the groups recovered from the log other than the
// catalog, latest incarnation of each heap last.
func (d *disk) recoveredGroups() []*recoveredGroup {
	var out []*recoveredGroup
	for _, g := range d.recovered {
		if g.key.heap != catalogName && !g.dropped {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *recoveredGroup) int {
		return cmp.Or(cmp.Compare(a.key.heap, b.key.heap), cmp.Compare(a.firstSeq, b.firstSeq))
	})
	return out
}

// openRecovered opens the replicas of the heaps recovered from the log,
// each from its last checkpoint and the entries after it.
func (n *Node) openRecovered() error {
	if n.disk == nil {
		return nil
	}
	if len(n.disk.recovered) > 0 {
		start := time.Now()
		defer func() { n.met.recovered(time.Since(start)) }()
	}
	for _, g := range n.disk.recoveredGroups() {
		n.mu.Lock()
		_, open := n.heaps[g.key.heap]
		n.mu.Unlock()
		if open {
			// An older incarnation of a heap recreated under its name; the
			// later one (sorted last) wins.
			n.mu.Lock()
			old := n.heaps[g.key.heap]
			delete(n.heaps, g.key.heap)
			n.mu.Unlock()
			old.close()
		}
		var first, last raftpb.Entry
		if len(g.ents) > 0 {
			first, last = g.ents[0], g.ents[len(g.ents)-1]
		}
		n.log.Debug("recovered replica", "heap", g.key.heap, "snapshot", g.snap.Metadata.Index, "snapshot term", g.snap.Metadata.Term,
			"first", first.Index, "first term", first.Term, "last", last.Index, "last term", last.Term, "hard", g.hard.String())
		h, err := newHeap(n, g.key.heap, openMode{recovered: g, replicas: max(g.replicas, 1), group: g.key.group})
		if err != nil {
			return err
		}
		h.cataloged = true
		n.mu.Lock()
		n.heaps[g.key.heap] = h
		n.mu.Unlock()
	}
	n.disk.recovered = nil // the memory goes to the replicas
	return nil
}

// dropSpace forgets a dropped replica's objects in the store.
func (n *Node) dropSpace(h *Heap) {
	if n.disk == nil {
		return
	}
	if _, err := n.disk.store.Checkpoint(nil, map[string][]byte{h.space(): nil}); err != nil {
		n.log.Error("striped store: the drop of a heap not recorded", "heap", h.name, "err", err)
	}
}

// noteDropped records in the log that a replica is gone for good, so that
// a restart does not bring it back.
func (n *Node) noteDropped(h *Heap) {
	n.met.forget(h.name)
	wal := n.walOf()
	if wal == nil {
		return
	}
	b, err := codec.Marshal(walRecord{Heap: h.name, Group: h.group, Dropped: true})
	if err == nil {
		_, err = wal.Append(b)
	}
	if err != nil {
		n.log.Error("write-ahead log: the drop of a heap not recorded", "heap", h.name, "err", err)
	}
	n.dropSpace(h)
}

// commitsConfChange reports whether a Ready commits a configuration change.
func commitsConfChange(rd raft.Ready) bool {
	for i := range rd.CommittedEntries {
		if t := rd.CommittedEntries[i].Type; t == raftpb.EntryConfChange || t == raftpb.EntryConfChangeV2 {
			return true
		}
	}
	return false
}

// Progress is how far a long task at start has come.
type Progress struct {
	// Task says what is under way.
	Task string
	// Done and Total count bytes.
	Done, Total int64
}

// progress returns a reporter for a task: Config.OnProgress, or a log line
// about every second, and one at the end if it took that long.
func (n *Node) progress(task string) func(done, total int64) {
	if f := n.cfg.OnProgress; f != nil {
		return func(done, total int64) { f(Progress{Task: task, Done: done, Total: total}) }
	}
	var mu sync.Mutex
	start := time.Now()
	last := start
	return func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if now.Sub(last) < time.Second && (done < total || now.Sub(start) < time.Second) {
			return
		}
		last = now
		n.log.Info(task, "done", done, "total", total, "elapsed", now.Sub(start).Round(time.Millisecond))
	}
}
