package oss

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

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
}

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
		// The applied entry came from a snapshot this replica received
		// and holds no longer; the stored one is as good.
		return s.MemoryStorage.Snapshot()
	}
	data, err := s.replica.SnapshotData()
	if err != nil {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	s.cached = raftpb.Snapshot{Data: data, Metadata: raftpb.SnapshotMetadata{
		Index: applied, Term: term, ConfState: s.replica.ConfState(),
	}}
	return s.cached, nil
}
