package oss

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/persist"
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
	// its replicas commit nothing until the node restarts. A replica's
	// term and vote are synced at once all the same, so that a power
	// failure never lets it vote twice in one term.
	DurabilityBatch
	// DurabilityMemory keeps nothing on disk.
	DurabilityMemory
)

func (d Durability) String() string {
	return [...]string{"default", "sync", "batch", "memory"}[min(int(d), 3)]
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
	seq, err := h.appendRecords(wal, rd.HardState, bufs)
	if err != nil {
		return err
	}
	first := seq - uint64(len(bufs)) + 1
	if h.firstSeq.Load() == 0 {
		h.firstSeq.Store(first)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		h.lastHard = rd.HardState
	}
	last := rd.Snapshot.Metadata.Index
	if n := len(rd.Entries); n > 0 {
		last = rd.Entries[n-1].Index
	}
	h.ckpt.noteLogged(first, seq, last, hard != nil)
	if rec.InStore {
		h.ckptSeq.Store(seq)
		h.eng.Checkpointed(rd.Snapshot.Metadata.Index)
		h.node.checkpointed()
	}
	return nil
}

// appendRecords appends a Ready's records to the log. Those that move the
// term or the vote are synced before raft's answers that rest on them go
// out, also with DurabilityBatch: a vote taken back by a power failure
// would let this replica vote twice in a term, and two leaders of one
// term commit different entries.
func (h *Heap) appendRecords(wal *persist.WAL, hard raftpb.HardState, bufs [][]byte) (uint64, error) {
	if votes(hard, h.lastHard) {
		return wal.AppendSync(bufs...)
	}
	return wal.Append(bufs...)
}

// votes reports whether hard moves the term or the vote on from last.
func votes(hard, last raftpb.HardState) bool {
	return !raft.IsEmptyHardState(hard) && (hard.Term != last.Term || hard.Vote != last.Vote)
}

// walOf returns the node's write-ahead log, nil in memory mode.
func (n *Node) walOf() *persist.WAL {
	if n.disk == nil {
		return nil
	}
	return n.disk.wal
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
