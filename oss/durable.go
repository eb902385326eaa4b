package oss

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/engine"
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
	// DurabilityMemory keeps nothing on disk. A DataDir is then only
	// locked; Start refuses one that holds a durable node's data
	// (ErrInvalidArgument), which the node would leave unread, starting
	// empty as a new member.
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
	if err := persist.MakeDir(fsys, dir); err != nil {
		return fmt.Errorf("oss: data directory: %w", err)
	}
	id, err := loadNodeID(fsys, dir)
	if err != nil {
		return err
	}
	if id != 0 {
		if err := logNotLost(fsys, dir); err != nil {
			return err
		}
		n.id = id
	}
	n.made = &madeIdentity{fsys: fsys, dir: dir}
	if err := n.made.checkNodeName(n.cfg.Name); err != nil { // nodename.go
		return err
	}
	// The data directory's lock is taken on the operating system's
	// file system alone (openDataDir), and before this.
	n.resetKey = loadResetKey(fsys, dir, n.lock != nil, n.log) // resetkey.go
	start := time.Now()
	groups, wal, store, err := n.openLogAndStore(fsys, dir)
	if err != nil {
		return err
	}
	if err := noStateWithout(id, groups, store.Manifest(), dir); err != nil {
		return errors.Join(err, store.Close(), wal.Close())
	}
	if err := n.openCluster(fsys, dir, groups); err != nil { // cluster.go
		return errors.Join(err, store.Close(), wal.Close())
	}
	if id == 0 {
		// Written once the log has its first segment (from then on an
		// identity without a log is damage: logNotLost), and once the
		// node's network is up (keepIdentity).
		n.newIdentity(fsys, dir).node = true
	}
	n.disk = &disk{wal: wal, store: store, recovered: groups, compact: make(chan struct{}, 1)}
	if err := n.disk.loadStore(n); err != nil {
		return errors.Join(err, store.Close(), wal.Close())
	}
	if len(groups) > 0 {
		entries := 0
		for _, g := range groups {
			entries += len(g.ents)
		}
		// Objects from the checkpoints; the log's entries after them are
		// applied as each replica starts.
		n.log.Info("recovered", "replicas", len(groups), "checkpoint_objects", n.disk.loaded, "log_entries", entries, "took", time.Since(start).Round(time.Millisecond))
		n.met.recovered(time.Since(start))
	}
	return nil
}

// openLogAndStore opens and replays the node's write-ahead log and opens
// its striped store.
func (n *Node) openLogAndStore(fsys persist.FS, dir string) (map[groupKey]*recoveredGroup, *persist.WAL, *persist.Store, error) {
	opts := persist.WALOptions{Logger: n.log, Progress: n.progress("replaying the write-ahead log"), MaxRecord: n.limits.walRecord,
		SegmentBytes: n.cfg.walSegmentBytes}
	if n.cfg.Durability == DurabilityBatch {
		opts.SyncInterval = n.cfg.BatchInterval
	}
	groups := map[groupKey]*recoveredGroup{}
	wal, err := persist.OpenWAL(n.met.walFS(fsys), filepath.Join(dir, "wal"), opts, func(seq uint64, rec []byte) error {
		if err := replayRecord(groups, seq, rec); err != nil {
			return fmt.Errorf("%w: %w", errBadRecord, err)
		}
		return nil
	})
	if err != nil {
		var ce *persist.CorruptError
		if errors.As(err, &ce) || errors.Is(err, errBadRecord) {
			return nil, nil, nil, fmt.Errorf("%w: %w; move %s aside and start the node with an empty data directory and Join to rebuild its replicas from its peers", ErrCorrupt, err, dir)
		}
		return nil, nil, nil, fmt.Errorf("oss: write-ahead log: %w", err)
	}
	store, err := persist.OpenStore(fsys, storeDirs(dir, n.cfg.StripeDirs))
	if err != nil {
		return nil, nil, nil, errors.Join(storeError(err, dir), wal.Close())
	}
	if err := recordStripeDirs(fsys, dir, n.cfg.StripeDirs); err != nil { // stripemoved.go
		return nil, nil, nil, errors.Join(err, store.Close(), wal.Close())
	}
	return groups, wal, store, nil
}

// storeDirs are the striped store's directories: stripes, or the data
// directory's "stripes" if none are given.
func storeDirs(dataDir string, stripes []string) []string {
	if len(stripes) == 0 {
		return []string{filepath.Join(dataDir, "stripes")}
	}
	return stripes
}

// checkStripeDirs refuses, reading only, stripe directories that the
// store would refuse to open (persist.CheckStripeDirs), with OpenStore's
// error as the node says it.
func checkStripeDirs(fsys persist.FS, dataDir string, stripes []string) error {
	if err := checkStoreKept(fsys, dataDir, stripes); err != nil { // stripemoved.go
		return err
	}
	if err := persist.CheckStripeDirs(fsys, storeDirs(dataDir, stripes)); err != nil {
		return storeError(err, dataDir)
	}
	return nil
}

// storeError is the node's error for the striped store's refusal to open,
// err; dir is the data directory.
func storeError(err error, dir string) error {
	var ce *persist.CorruptError
	switch {
	case errors.Is(err, persist.ErrStripeDirs):
		// Nothing is damaged: no ErrCorrupt, whose remedy (start
		// empty) would throw a whole replica away.
		return fmt.Errorf("oss: striped store: %w; start the node with the stripe directories (Config.StripeDirs, ossd --stripe-dirs) it ran with, in their order, each on its disk", err)
	case errors.As(err, &ce):
		return fmt.Errorf("%w: the striped store: %w; if the stripe directories (Config.StripeDirs, ossd --stripe-dirs) are not those the node ran with, in their order, each on its disk, start it with those; otherwise move %s and the stripe directories aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, err, dir)
	}
	return fmt.Errorf("oss: striped store: %w", err)
}

const nodeIDFile = "NODE_ID"

// loadNodeID reads the node's raft ID from its identity file (idFile),
// 0 if it has none. A file of the ID alone, as nodes wrote before the
// file carried a checksum, is read as it is.
func loadNodeID(fsys persist.FS, dir string) (uint64, error) { return nodeIDOnDisk.load(fsys, dir) }

// errBadRecord marks a log record that checks out but that the node
// cannot take: it does not decode, or its entries do not follow the
// group's (an earlier segment lost, or damage the checksums missed).
var errBadRecord = errors.New("a record that checks out cannot be replayed")

// logNotLost returns ErrCorrupt if the log of a node with an identity
// has no segment: the log's first segment is made durable before the
// identity is written, and the log never removes its last, so the log was
// lost (deleted, or the directory replaced). A node that started on
// without it would be the member it was, under its raft ID, holding none
// of what it acknowledged: with its peers' logs it could elect a leader
// that lacks committed entries, or start a new cluster alone.
func logNotLost(fsys persist.FS, dir string) error {
	wal := filepath.Join(dir, "wal")
	names, err := fsys.ReadDir(wal)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("oss: write-ahead log: %w", err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, ".wal") {
			return nil
		}
	}
	return fmt.Errorf("%w: %s holds a node identity (%s) but %s holds no write-ahead log: it was lost; move the data directory aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, dir, nodeIDFile, wal)
}

// noStateWithout returns ErrCorrupt if what the node keeps contradicts
// itself: a log with records but no identity (id 0; the identity is
// written before the first record, so it was lost, and a node that took a
// new one would recover its replicas under a raft ID their groups do not
// know), or a striped store holding checkpoints while the log holds no
// record at all (the log always keeps the records since each open
// replica's checkpoint, so it was emptied: truncated or replaced).
func noStateWithout(id uint64, groups map[groupKey]*recoveredGroup, m persist.Manifest, dir string) error {
	if id == 0 && len(groups) > 0 {
		return fmt.Errorf("%w: %s holds a write-ahead log but no node identity (%s); move the data directory aside to start as a new node", ErrCorrupt, dir, nodeIDFile)
	}
	if len(groups) == 0 && len(m.Spaces) > 0 {
		return fmt.Errorf("%w: the striped store holds checkpoints but the write-ahead log in %s holds no record: it was emptied; move the data directory and the stripe directories aside and start the node empty, with Join, to rebuild its replicas from its peers", ErrCorrupt, filepath.Join(dir, "wal"))
	}
	return nil
}

func storeNodeID(fsys persist.FS, dir string, id uint64) error {
	return nodeIDOnDisk.store(fsys, dir, id)
}

// logWrite is an engine Write encoded as the log's records, and what the
// loop notes once they are durable.
type logWrite struct {
	seq  uint64 // the engine's Write.Seq
	bufs [][]byte
	// sync: the records move the term or the vote, and are synced before
	// raft's answers that rest on them go out, also with DurabilityBatch:
	// a vote taken back by a power failure would let this replica vote
	// twice in a term, and two leaders of one term commit different
	// entries.
	sync    bool
	hard    raftpb.HardState // held by its last record, if not empty
	last    uint64           // the index of its last entry or snapshot
	inStore uint64           // the index of a snapshot stored whole, checkpointed once logged
	own     bool             // the replica's own record, no Write of the engine's (relogHard)
}

// writeDone is the log's answer to a logWrite.
type writeDone struct {
	lw    *logWrite
	last  uint64 // the sequence number of its last record
	err   error
	epoch uint64
	// answered: the write's answers to peers went out as it ended
	// (answerEarly).
	answered bool
}

// encodeWrite encodes what a Write asks to keep as the log's records; nil
// if nothing needs writing. A leader's snapshot decoded as it arrived goes
// to the store first.
func (h *Heap) encodeWrite(w engine.Write) (*logWrite, error) {
	if f := h.encodeFault.Load(); f != nil {
		if err := (*f)(w); err != nil {
			return nil, err
		}
	}
	if raft.IsEmptySnap(w.Snapshot) && len(w.Entries) == 0 &&
		(raft.IsEmptyHardState(w.HardState) || !raft.MustSync(w.HardState, h.lastHard, 0) && !w.KeepsConf) {
		// Nothing, or only a commit index, which raft learns again after
		// a restart: no record, and no sync. A commit index that covers a
		// configuration change is kept: a replica restarted with a lower
		// one would come back in an older configuration (a bootstrapped
		// node as its sole voter).
		return nil, nil
	}
	lw := &logWrite{seq: w.Seq, sync: votes(w.HardState, h.lastHard), hard: w.HardState, last: w.Snapshot.Metadata.Index}
	rec := walRecord{Heap: h.name, Group: h.group, Replicas: h.factor()}
	var hard []byte
	if !raft.IsEmptyHardState(w.HardState) {
		hard, _ = w.HardState.Marshal()
	}
	ents, err := marshalEntries(w.Entries)
	if err != nil {
		return nil, err
	}
	if n := len(w.Entries); n > 0 {
		lw.last = w.Entries[n-1].Index
	}
	if !raft.IsEmptySnap(w.Snapshot) {
		rec.SnapMeta, _ = w.Snapshot.Metadata.Marshal()
		if consistency.DecodedApart(w.Snapshot.Data) {
			// A leader's snapshot decoded as it arrived: the replica
			// holds its state, which goes to the store whole before the
			// record that names it.
			if err := h.storeSnapshot(w.Snapshot.Metadata); err != nil {
				return nil, err
			}
			rec.InStore, rec.Restored = true, true
			lw.inStore = w.Snapshot.Metadata.Index
		} else {
			rec.SnapData = w.Snapshot.Data
		}
	}
	recs := splitReady(rec, hard, ents, h.node.limits.walEntries)
	lw.bufs = make([][]byte, len(recs))
	for i := range recs {
		lw.bufs[i] = appendWALRecord(make([]byte, 0, walRecordSize(&recs[i])), &recs[i])
	}
	if !raft.IsEmptyHardState(w.HardState) {
		h.lastHard = w.HardState
	}
	return lw, nil
}

// marshalEntries encodes each entry into one buffer they share: one
// allocation for a Ready's entries, not one an entry. Each entry's size
// is computed once: the buffer is filled from its end, the last entry
// first, as MarshalToSizedBuffer writes an entry at the end of the
// slice it is given and returns its size.
func marshalEntries(es []raftpb.Entry) ([][]byte, error) {
	if len(es) == 0 {
		return nil, nil
	}
	size := 0
	for i := range es {
		size += es[i].Size()
	}
	buf := make([]byte, size)
	ents := make([][]byte, len(es))
	end := size
	for i := len(es) - 1; i >= 0; i-- {
		n, err := es[i].MarshalToSizedBuffer(buf[:end])
		if err != nil {
			return nil, err
		}
		ents[i] = buf[end-n : end : end]
		end -= n
	}
	return ents, nil
}

// logged notes a logWrite durable, its last record at seq.
func (h *Heap) logged(lw *logWrite, seq uint64) {
	if h.stuck.Load() != nil {
		h.stuck.Store(nil)
	}
	first := seq - uint64(len(lw.bufs)) + 1
	if h.firstSeq.Load() == 0 {
		h.firstSeq.Store(first)
	}
	hard := !raft.IsEmptyHardState(lw.hard)
	if hard {
		h.hardDone = lw.hard
	}
	h.ckpt.noteLogged(first, seq, lw.last, hard)
	if lw.inStore != 0 {
		h.ckptSeq.Store(seq)
		h.eng.Checkpointed(lw.inStore)
		h.node.checkpointed()
	}
}

// persistNow makes a Write durable before it returns, outside the loop's
// pipeline (a first voter's initial snapshot).
func (h *Heap) persistNow(w engine.Write) error {
	wal := h.node.walOf()
	if wal == nil {
		return nil
	}
	lw, err := h.encodeWrite(w)
	if err != nil || lw == nil {
		return err
	}
	seq, err := wal.AppendSync(lw.bufs...)
	if err != nil {
		return err
	}
	h.logged(lw, seq)
	return nil
}

// writeAsync hands a Ready's Writes to the log, in order, without
// waiting: writesDone reports them to the engine as the log acknowledges
// them. A Write with nothing to write, or any on a node without a log, is
// reported at once (the engine still hears of them in order).
func (h *Heap) writeAsync(ws []engine.Write) bool {
	wal := h.node.walOf()
	for _, w := range ws {
		if wal == nil {
			h.eng.Written(w.Seq)
			continue
		}
		lw, err := h.encodeWrite(w)
		if err != nil {
			h.diskStuck(h.rewriting, err)
			return false
		}
		if lw == nil {
			h.eng.Written(w.Seq)
			continue
		}
		h.inflight++
		epoch := h.epoch
		answers := w.Answers
		if w.Snapshot.Metadata.Index != 0 {
			// A leader's snapshot installed: its answers wait for
			// the loop, which stores it in memory first (rare).
			answers = nil
		}
		done := func(last uint64, err error) {
			// A follower's acknowledgement goes out from the log's
			// writer as the write ends, not a loop's turn later.
			answered := err == nil && len(answers) > 0 && h.answerEarly(answers)
			h.noteWritten(writeDone{lw: lw, last: last, err: err, epoch: epoch, answered: answered})
		}
		if h.offPath(w) {
			wal.AppendAsyncOffPath(h.chain, lw.sync, done, lw.bufs...)
		} else {
			wal.AppendAsync(h.chain, lw.sync, done, lw.bufs...)
		}
	}
	return true
}

// offPathEntries is the most entries a leader's write off its commits'
// path carries (offPath).
const offPathEntries = 2

// offPath reports whether w is off its commits' critical path: a leader's
// few entries, in a group of three voters or more, whose followers'
// acknowledgements commit them as soon as its own sync would. A larger
// write (many commits at once) syncs as any other: then every member's
// sync counts, and a sync through the kernel's asynchronous fsync waits
// for a processor to poll for its completion.
func (h *Heap) offPath(w engine.Write) bool {
	return len(w.Entries) > 0 && len(w.Entries) <= offPathEntries && h.eng.Lead() == h.self &&
		len(h.eng.ConfState().Voters) >= 3
}

// noteWritten queues the log's answer for the loop; the log's writer
// calls it, and it must not block.
func (h *Heap) noteWritten(d writeDone) {
	h.wmu.Lock()
	h.wdone = append(h.wdone, d)
	h.wmu.Unlock()
	select {
	case h.wwake <- struct{}{}:
	default:
	}
}

// writesDone reports the log's answers to the engine, in order. Answers
// of an epoch before the last refusal are stale: the engine offers those
// writes again.
func (h *Heap) writesDone() {
	h.wmu.Lock()
	done := h.wdone
	h.wdone = h.wfree
	h.wmu.Unlock()
	for _, d := range done {
		h.inflight--
		if d.lw.own {
			h.relogged(d)
			continue
		}
		switch {
		case d.epoch != h.epoch:
		case d.err != nil:
			h.diskStuck(h.rewriting, d.err)
		default:
			if h.rewriting {
				h.rewriting = false
				h.log.Info("the log can be written again")
			}
			h.logged(d.lw, d.last)
			if d.answered {
				h.eng.Answered(d.lw.seq)
			}
			h.eng.Written(d.lw.seq)
		}
	}
	clear(done)
	h.wfree = done[:0]
	// The log answered: what arrived while it wrote goes to raft now,
	// one batch a sync (a follower receiving appends always has a write
	// in flight, so waiting for none would hold proposals indefinitely).
	h.proposeHeld()
}

// writeFirst makes a WriteFirst Ready's writes, and every write before
// them, durable before it returns; false if the log refused one (the
// engine then holds the Ready).
func (h *Heap) writeFirst(ws []engine.Write) bool {
	h.diskWait.Store(true) // the store's write and the log's (askAbandon)
	defer h.diskWait.Store(false)
	epoch := h.epoch
	h.writeAsync(ws)
	for h.inflight > 0 && h.epoch == epoch {
		<-h.wwake
		h.writesDone()
	}
	return h.epoch == epoch
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

// dropSpace forgets a dropped replica's objects in the store. One that
// fails leaves the space in the manifest: a replica of the group opened
// again on the node writes spaces of its own (freshStoreGen), never into
// this one, and the next start drops it (dropLeftSpaces) while the log
// ends the group dropped.
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
		// Synced before the store drops the space, also with
		// DurabilityBatch: a power failure in between would leave the
		// log's checkpoint of the replica without its space in the store,
		// which a restart refuses as damage (missingCheckpoints).
		_, err = wal.AppendSync(b)
	}
	if err != nil {
		// Its checkpoint stays: a restart, which the log does not tell of
		// the drop, recovers the replica from it (and drops it again).
		n.log.Error("write-ahead log: the drop of a heap not recorded", "heap", h.name, "err", err)
		return
	}
	n.mu.Lock()
	hook := n.dropLoggedHook
	n.mu.Unlock()
	if hook != nil {
		hook(h)
	}
	n.dropSpace(h)
}
