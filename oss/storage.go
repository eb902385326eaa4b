package oss

import (
	"io"
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
// heap's loop calls it (raft runs there), so it never touches the store: a
// checkpoint hands it a view of itself when it completes (setCheckpoint).
type snapStorage struct {
	*raft.MemoryStorage
	replica *consistency.Replica // set once the replica exists

	// ckpt, on durable nodes, is a view of the heap's last checkpoint in
	// the store, and ckptMeta its raft metadata; nil if there is none.
	ckpt     *sharedView
	ckptMeta raftpb.SnapshotMetadata

	cached raftpb.Snapshot // the last snapshot made, reused at the same index
	// stream writes the state of cached (whose Data is streamMarker) to a
	// peer, object by object; view, if not nil, is the checkpoint it reads.
	stream func(io.Writer) error
	view   *sharedView
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
	// A checkpoint serves while the log follows on from it and the
	// configuration has not changed since: a member added later is not in
	// its configuration, and raft refuses a snapshot that does not name
	// the node it is for.
	if m := s.ckptMeta; s.ckpt != nil && m.Index+1 >= first && m.ConfState.Equivalent(s.replica.ConfState()) == nil {
		if s.view != s.ckpt {
			s.setView(s.ckpt)
			s.cached = raftpb.Snapshot{Data: streamMarker, Metadata: m}
		}
		return s.cached, nil
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

// ApplySnapshot implements raft.Storage. The state lives in the replica;
// the storage keeps the snapshot's metadata only, not a second copy of
// the state. The last checkpoint no longer describes the replica.
func (s *snapStorage) ApplySnapshot(snap raftpb.Snapshot) error {
	s.setCheckpoint(raftpb.SnapshotMetadata{}, nil)
	snap.Data = nil
	return s.MemoryStorage.ApplySnapshot(snap)
}

// setView makes sv (or the replica's state, if nil) what cached streams
// from, letting go of the view before.
func (s *snapStorage) setView(sv *sharedView) {
	if s.view != nil {
		s.view.release()
		s.view = nil
	}
	s.stream = nil
	if sv != nil {
		sv.refs.Add(1)
		s.view = sv
	}
}

// setCheckpoint makes v, a view of the checkpoint at meta, the one
// snapshots stream from, letting go of the one before; nil forgets it.
func (s *snapStorage) setCheckpoint(meta raftpb.SnapshotMetadata, v *persist.View) {
	if s.ckpt != nil {
		s.ckpt.release()
		s.ckpt = nil
	}
	s.ckptMeta = meta
	if v != nil {
		s.ckpt = &sharedView{v: v}
		s.ckpt.refs.Store(1)
	}
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

// close lets go of the views it holds.
func (s *snapStorage) close() {
	s.setView(nil)
	s.setCheckpoint(raftpb.SnapshotMetadata{}, nil)
}
