package oss

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"io"

	"github.com/objectsharing/oss/consistency"
)

// snapStorage is a heap's raft log in memory. Raft asks it for a snapshot
// only to catch up a peer that is behind the log's first entry; it makes
// one then, of the replica's applied state, instead of keeping one at every
// compaction. Only the heap's loop calls it (raft runs there).
type snapStorage struct {
	*raft.MemoryStorage
	replica *consistency.Replica // set once the replica exists

	cached raftpb.Snapshot // the last snapshot made, reused at the same index
	// stream writes the state of cached (whose Data is streamMarker) to a
	// peer, object by object.
	stream func(io.Writer) error
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
	applied := s.replica.State().Index()
	if applied == 0 {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	if s.cached.Metadata.Index == applied {
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
	s.cached = raftpb.Snapshot{Data: streamMarker, Metadata: raftpb.SnapshotMetadata{
		Index: applied, Term: term, ConfState: s.replica.ConfState(),
	}}
	s.stream = write
	return s.cached, nil
}
