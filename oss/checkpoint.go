package oss

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
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
		objs = make([]persist.Object, 0, len(h.dirty))
		for id, c := range h.dirty {
			objs = append(objs, persist.Object{ID: id, Version: c.Version, Value: c.Value, Deleted: c.Deleted})
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
	clear(h.dirty)
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
