package oss

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/persist"
)

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
	hardSeq  uint64 // the last record holding the hard state
	// entSeq is the record that holds each entry in ents.
	entSeq map[uint64]uint64
	// inStore: the latest snapshot the log records is one the striped
	// store holds (a checkpoint, or a leader's snapshot stored whole).
	inStore bool

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
	if g.dropped && !rec.Dropped {
		// The replica was retired (retire.go) and opened again since,
		// empty: what follows is all of it.
		*g = recoveredGroup{key: k, firstSeq: seq}
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
			g.inStore = rec.InStore
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
		g.hardSeq = seq
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
		// The first entry need not follow the snapshot seen so far: the
		// log keeps records written while a checkpoint ran, before its
		// marker, for their entries past it, and the marker (or the
		// store's checkpoint) comes later. storage checks the head.
		if n := len(g.ents); n > 0 && g.ents[n-1].Index+1 != e.Index {
			return fmt.Errorf("record %d: heap %q: entry %d does not follow the log", seq, k.heap, e.Index)
		}
		g.ents = append(g.ents, e)
		if g.entSeq == nil {
			g.entSeq = map[uint64]uint64{}
		}
		g.entSeq[e.Index] = seq
	}
	return nil
}

// lastIndex returns the last index the group's records hold.
func (g *recoveredGroup) lastIndex() uint64 {
	last := max(g.snap.Metadata.Index, g.hard.Commit)
	if n := len(g.ents); n > 0 {
		last = max(last, g.ents[n-1].Index)
	}
	return last
}

// keepSeq returns the first record the group's recovery needs from its
// last checkpoint on: the checkpoint's, or an earlier one holding an entry
// after it or the hard state; 0 if it has no checkpoint.
func (g *recoveredGroup) keepSeq() uint64 {
	if g.ckptSeq == 0 {
		return 0
	}
	keep := g.ckptSeq
	if len(g.ents) > 0 {
		if s := g.entSeq[g.ents[0].Index]; s != 0 {
			keep = min(keep, s)
		}
	}
	if g.hardSeq != 0 {
		keep = min(keep, g.hardSeq)
	}
	return keep
}

// logged returns the appends that hold the group's entries, as a
// replica's checkpointer tracks them.
func (g *recoveredGroup) logged() []loggedBatch {
	var out []loggedBatch
	for _, e := range g.ents {
		s := g.entSeq[e.Index]
		if n := len(out); n > 0 && out[n-1].seq == s {
			out[n-1].last = e.Index
			continue
		}
		out = append(out, loggedBatch{seq: s, last: e.Index})
	}
	return out
}

// storage returns the recovered raft storage of the group.
func (g *recoveredGroup) storage() (*snapStorage, error) {
	s := newSnapStorage()
	if g.hard.Commit < g.snap.Metadata.Index {
		// A commit index alone is not logged; the checkpoint proves more.
		g.hard.Commit = g.snap.Metadata.Index
	}
	if len(g.ents) > 0 && g.ents[0].Index != g.snap.Metadata.Index+1 {
		return nil, fmt.Errorf("%w: heap %q: the log's entries begin at %d, after its snapshot at %d; move the data directory aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, g.key.heap, g.ents[0].Index, g.snap.Metadata.Index)
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

// loadStore reads every stripe in parallel and hands each recovered group
// its checkpoint from the store, when that is newer than what the log
// holds.
func (d *disk) loadStore(n *Node) error {
	spaces, err := storeSpaces(d.store.Manifest())
	if err != nil {
		return err
	}
	if len(spaces) == 0 {
		return d.missingCheckpoints(n.manifestPath())
	}
	var mu sync.Mutex
	objs := map[string][]consistency.Object{}
	err = d.store.LoadProgress(func(o persist.Object) {
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
	d.dropLeftSpaces(n, spaces)
	return d.missingCheckpoints(n.manifestPath())
}

// dropLeftSpaces drops from the store the spaces of the groups the log
// ends dropped: a power failure or a failed store write between the
// log's record of a drop and the store's left them there. Left, they
// would be read into a replica of the group opened on the node again
// (retire.go) at its next restart. One that fails stays a leak, told in
// the log, and is tried again at the next start.
func (d *disk) dropLeftSpaces(n *Node, spaces map[string]*spaceInfo) {
	drops := map[string][]byte{}
	for name, si := range spaces {
		if g := d.recovered[si.key]; g != nil && g.dropped {
			drops[name] = nil
		}
	}
	if len(drops) == 0 {
		return
	}
	if _, err := d.store.Checkpoint(nil, drops); err != nil {
		n.log.Error("striped store: the spaces of dropped replicas left in it not dropped", "spaces", len(drops), "err", err)
		return
	}
	n.log.Info("striped store: dropped the spaces of dropped replicas left in it", "spaces", len(drops))
}

// manifestPath is the file of the striped store's manifest, for errors:
// it is kept in the first stripe directory.
func (n *Node) manifestPath() string {
	return filepath.Join(storeDirs(n.cfg.DataDir, n.cfg.StripeDirs)[0], "MANIFEST")
}

// missingCheckpoints returns ErrCorrupt if the log records a checkpoint in
// the striped store that the store does not hold (its manifest or its
// directory gone, or an older copy put back): the log was cut at that
// checkpoint, so the objects it holds are nowhere else on this node, and
// starting without them would serve an empty or older heap as current.
// The error names manifest, the file that lacks it.
func (d *disk) missingCheckpoints(manifest string) error {
	for _, g := range d.recovered {
		if g.inStore && !g.dropped && g.objects == nil {
			return fmt.Errorf("%w: the log records a checkpoint of heap %q at index %d that the striped store does not hold (its manifest %s is missing or older): if the stripe directories (Config.StripeDirs, ossd --stripe-dirs) are not those the node ran with, in their order, start it with those; otherwise move the data directory and the stripe directories aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, g.key.heap, g.snap.Metadata.Index, manifest)
		}
	}
	return nil
}

// spaceInfo is what the store's manifest says of one of its spaces: a
// heap group's checkpoint.
type spaceInfo struct {
	meta storeMeta
	snap raftpb.SnapshotMetadata
	key  groupKey
	gen  uint64
}

// storeSpaces decodes the metadata of the spaces m lists, by space name.
func storeSpaces(m persist.Manifest) (map[string]*spaceInfo, error) {
	spaces := map[string]*spaceInfo{}
	for name, blob := range m.Spaces {
		heap, group, gen, ok := parseSpace(name)
		if !ok {
			continue
		}
		si := &spaceInfo{key: groupKey{heap, group}, gen: gen}
		if err := codec.Unmarshal(blob, &si.meta); err != nil {
			return nil, fmt.Errorf("oss: striped store: the metadata of %q does not decode: %w", heap, err)
		}
		if si.meta.State == nil {
			// Without it the replica would start from an empty state at
			// the checkpoint's index.
			return nil, fmt.Errorf("oss: striped store: the metadata of %q holds no state", heap)
		}
		if err := si.snap.Unmarshal(si.meta.SnapMeta); err != nil {
			return nil, fmt.Errorf("oss: striped store: the metadata of %q does not decode: %w", heap, err)
		}
		spaces[name] = si
	}
	return spaces, nil
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
	for k, g := range n.disk.recovered {
		if g.dropped && k.heap != catalogName {
			n.mu.Lock()
			if n.retired == nil {
				n.retired = map[groupKey]uint64{}
			}
			n.retired[k] = g.lastIndex() // retired, or its heap dropped
			n.mu.Unlock()
		}
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
