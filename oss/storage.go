package oss

import (
	"io"
	"math"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/persist"
)

// snapStorage is a heap's raft log in memory. Raft asks it for a snapshot
// only to catch up a peer that is behind the log's first entry; it makes
// one then instead of keeping one at every compaction: on a durable node
// from the heap's last checkpoint in the store (the log in memory is never
// compacted past it) if the configuration has not changed since, otherwise
// from the replica's applied state. Only the
// heap's loop calls it (raft runs there).
type snapStorage struct {
	*raft.MemoryStorage
	replica *consistency.Replica // set once the replica exists

	// fromStore, on durable nodes, returns a view of the heap's last
	// checkpoint and its raft metadata, or false.
	fromStore func() (raftpb.SnapshotMetadata, *persist.View, bool)

	cached raftpb.Snapshot // the last snapshot made, reused at the same index
	// stream writes the state of cached (whose Data is streamMarker) to a
	// peer, object by object; view, if not nil, is the checkpoint it reads.
	stream func(io.Writer) error
	view   *sharedView

	held int // bytes of entry data in memory, as appended (see Append)
}

// sharedView is a store view that several snapshot streams may read; it
// is closed when the last lets go.
type sharedView struct {
	v    *persist.View
	refs atomic.Int32
}

func (s *sharedView) release() {
	if s.refs.Add(-1) == 0 {
		s.v.Close()
	}
}

// streamMarker stands for a snapshot's state in the raft message: the
// state itself is encoded as it is sent (see Heap.sendSnapshot).
var streamMarker = []byte("oss: snapshot state streamed")

func newSnapStorage() *snapStorage {
	return &snapStorage{MemoryStorage: raft.NewMemoryStorage()}
}

// Snapshot implements raft.Storage.
func (s *snapStorage) Snapshot() (raftpb.Snapshot, error) {
	if s.replica == nil {
		return s.MemoryStorage.Snapshot()
	}
	first, _ := s.MemoryStorage.FirstIndex()
	if s.fromStore != nil {
		// A checkpoint serves while the log follows on from it and the
		// configuration has not changed since: a member added later is
		// not in its configuration, and raft refuses a snapshot that
		// does not name the node it is for.
		cs := s.replica.ConfState()
		usable := func(m raftpb.SnapshotMetadata) bool {
			return m.Index+1 >= first && m.ConfState.Equivalent(cs) == nil
		}
		if s.view != nil && usable(s.cached.Metadata) {
			return s.cached, nil
		}
		if meta, v, ok := s.fromStore(); ok {
			if usable(meta) {
				s.setView(v)
				s.cached = raftpb.Snapshot{Data: streamMarker, Metadata: meta}
				return s.cached, nil
			}
			v.Close()
		}
	}
	applied := s.replica.State().Index()
	if applied == 0 {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	if s.view == nil && s.cached.Metadata.Index == applied {
		return s.cached, nil
	}
	term, err := s.MemoryStorage.Term(applied)
	if err != nil {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	index, write, err := s.replica.SnapshotStream()
	if err != nil || index != applied {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	s.setView(nil)
	s.cached = raftpb.Snapshot{Data: streamMarker, Metadata: raftpb.SnapshotMetadata{
		Index: applied, Term: term, ConfState: s.replica.ConfState(),
	}}
	s.stream = write
	return s.cached, nil
}

// setView makes v (or the replica's state, if nil) what cached streams
// from, letting go of the view before.
func (s *snapStorage) setView(v *persist.View) {
	if s.view != nil {
		s.view.release()
		s.view = nil
	}
	s.stream = nil
	if v == nil {
		return
	}
	sv := &sharedView{v: v}
	sv.refs.Store(1)
	s.view = sv
}

// openStream returns what writes cached's state to one peer. Streams from
// a view hold it until they end.
func (s *snapStorage) openStream() (write func(io.Writer) error, fromStore bool) {
	if sv := s.view; sv != nil {
		sv.refs.Add(1)
		meta := s.cached.Metadata
		return func(w io.Writer) error {
			defer sv.release()
			return streamView(w, sv.v, meta.Index)
		}, true
	}
	return s.stream, false
}

// Append implements raft.Storage, counting the bytes the log holds.
// Entries that replace others are counted again until the next Compact
// counts afresh.
func (s *snapStorage) Append(ents []raftpb.Entry) error {
	if err := s.MemoryStorage.Append(ents); err != nil {
		return err
	}
	for i := range ents {
		s.held += len(ents[i].Data)
	}
	return nil
}

// Compact implements raft.Storage.
func (s *snapStorage) Compact(at uint64) error {
	if err := s.MemoryStorage.Compact(at); err != nil {
		return err
	}
	s.held = s.bytesAfter(at)
	return nil
}

// heldBytes is the bytes of entry data the log holds in memory.
func (s *snapStorage) heldBytes() int { return s.held }

// bytesAfter is the bytes of data of the entries after index.
func (s *snapStorage) bytesAfter(index uint64) int {
	last, _ := s.LastIndex()
	ents, err := s.Entries(index+1, last+1, math.MaxUint64)
	if err != nil {
		return 0
	}
	n := 0
	for i := range ents {
		n += len(ents[i].Data)
	}
	return n
}

// tailStart is the index before the last entries up to applied that make
// at most maxEntries entries and maxBytes bytes of data: compacting there
// keeps that tail.
func (s *snapStorage) tailStart(applied, maxEntries uint64, maxBytes int) uint64 {
	first, _ := s.FirstIndex()
	lo := first
	if applied >= maxEntries && applied-maxEntries+1 > lo {
		lo = applied - maxEntries + 1
	}
	if lo > applied {
		return applied
	}
	ents, err := s.Entries(lo, applied+1, math.MaxUint64)
	if err != nil {
		return applied - min(applied, maxEntries)
	}
	n, i := 0, len(ents)
	for i > 0 && n+len(ents[i-1].Data) <= maxBytes {
		n += len(ents[i-1].Data)
		i--
	}
	return applied - uint64(len(ents)-i)
}

// ApplySnapshot implements raft.Storage. The state lives in the replica;
// the storage keeps the snapshot's metadata only, not a second copy of
// the state.
func (s *snapStorage) ApplySnapshot(snap raftpb.Snapshot) error {
	snap.Data = nil
	if err := s.MemoryStorage.ApplySnapshot(snap); err != nil {
		return err
	}
	s.held = 0
	return nil
}

// close lets go of a cached view.
func (s *snapStorage) close() { s.setView(nil) }
