package oss

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
