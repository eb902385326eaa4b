package oss

import "github.com/objectsharing/oss/internal/codec"

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
//
// ents is the caller's to give: a Ready whose entries fit one record
// (nearly every one) takes ents itself as the record's entries, where it
// grew a slice of its own one entry at a time.
func splitReady(rec walRecord, hard []byte, ents [][]byte, budget int) []walRecord {
	size := len(rec.SnapData)
	for _, e := range ents {
		size += walEntryHead + len(e)
	}
	if size <= budget {
		if len(ents) > 0 {
			rec.Entries = ents
		}
		rec.Hard = hard
		return []walRecord{rec}
	}
	var recs []walRecord
	size = len(rec.SnapData)
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

// appendWALRecord appends r's encoding to dst: byte for byte what
// codec.Marshal writes (a map of the fields that are not empty, by key,
// every head in its shortest form), without reflection. Every Ready a
// replica logs is a record (TestWALRecordEncodingMatchesLibrary).
func appendWALRecord(dst []byte, r *walRecord) []byte {
	n := 0
	for _, set := range [...]bool{true, r.Group != 0, len(r.Hard) > 0, len(r.Entries) > 0, len(r.SnapMeta) > 0,
		len(r.SnapData) > 0, r.Dropped, r.Replicas != 0, r.InStore, r.Restored} {
		if set {
			n++
		}
	}
	dst = codec.AppendHead(dst, 5, uint64(n))
	dst = append(codec.AppendHead(append(dst, 1), 3, uint64(len(r.Heap))), r.Heap...)
	if r.Group != 0 {
		dst = codec.AppendHead(append(dst, 2), 0, r.Group)
	}
	dst = appendWALBytes(dst, 3, r.Hard)
	if len(r.Entries) > 0 {
		dst = codec.AppendHead(append(dst, 4), 4, uint64(len(r.Entries)))
		for _, e := range r.Entries {
			if e == nil {
				dst = append(dst, 0xf6) // as the library writes a nil slice; no entry encodes to one
				continue
			}
			dst = append(codec.AppendHead(dst, 2, uint64(len(e))), e...)
		}
	}
	dst = appendWALBytes(dst, 5, r.SnapMeta)
	dst = appendWALBytes(dst, 6, r.SnapData)
	if r.Dropped {
		dst = append(dst, 7, 0xf5)
	}
	switch {
	case r.Replicas > 0:
		dst = codec.AppendHead(append(dst, 8), 0, uint64(r.Replicas))
	case r.Replicas < 0:
		dst = codec.AppendHead(append(dst, 8), 1, uint64(-(r.Replicas + 1)))
	}
	if r.InStore {
		dst = append(dst, 9, 0xf5)
	}
	if r.Restored {
		dst = append(dst, 10, 0xf5)
	}
	return dst
}

// appendWALBytes appends key and b as a byte string, if b is not empty.
func appendWALBytes(dst []byte, key byte, b []byte) []byte {
	if len(b) == 0 {
		return dst
	}
	return append(codec.AppendHead(append(dst, key), 2, uint64(len(b))), b...)
}

// walRecordSize is at least the length of r's encoding.
func walRecordSize(r *walRecord) int {
	n := 1 + 9 + 1 + 9 + len(r.Heap) + 8*10
	for _, b := range [][]byte{r.Hard, r.SnapMeta, r.SnapData} {
		n += 9 + len(b)
	}
	n += 9
	for _, e := range r.Entries {
		n += walEntryHead + len(e)
	}
	return n
}
