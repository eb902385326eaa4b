package consistency

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// A Record is a transaction's commit record: what it read, at which
// snapshot, and what it writes. It is the payload of a normal raft entry.
// Every replica decides a record the same way when it applies the entry: the
// record commits if everything it read is unchanged at that point of the log.
type Record struct {
	// TxID identifies the transaction. A record applied twice (a resend after
	// a lost reply or a leader change) takes effect at most once; the second
	// copy reports the first one's outcome.
	TxID uuid.UUID `cbor:"1,keyasint"`
	// Snapshot is the applied index of the snapshot the transaction read.
	Snapshot uint64 `cbor:"2,keyasint"`
	// Reads are the objects read, with the version seen (0: absent).
	Reads []Read `cbor:"3,keyasint,omitempty"`
	// RootReads are the named roots read, with the version seen (0: absent).
	RootReads []RootRead `cbor:"4,keyasint,omitempty"`
	// Scanned is set when the transaction enumerated the heap's objects. It
	// then conflicts with any creation or deletion after Snapshot (no
	// phantoms).
	Scanned bool `cbor:"5,keyasint,omitempty"`
	// Writes are the object writes, in the order they take effect.
	Writes []Write `cbor:"6,keyasint,omitempty"`
	// RootWrites are the named root writes.
	RootWrites []RootWrite `cbor:"7,keyasint,omitempty"`
	// Refused marks a refusal: the heap's leader refused the transaction
	// TxID (its proposer lacked a permission) and appended this record,
	// of TxID and Snapshot only, in its place. Every replica decides it
	// Refused, so the proposer learns that nothing was written, and a
	// copy of the transaction's own record proposed later is a duplicate
	// of the refusal.
	Refused bool `cbor:"8,keyasint,omitempty"`
}

// Refusal returns the record a heap's leader appends in place of rec
// when it refuses it: rec's transaction ID and snapshot, marked Refused.
func Refusal(rec *Record) *Record {
	return &Record{TxID: rec.TxID, Snapshot: rec.Snapshot, Refused: true}
}

// IsRefusal reports whether data is a valid commit record marked Refused.
func IsRefusal(data []byte) bool {
	s := scratchPool.Get().(*recScratch)
	defer scratchPool.Put(s)
	r, err := s.decode(data)
	defer s.release()
	return err == nil && r.Refused
}

// Read is one object read: its ID and the version seen, 0 if it was absent.
type Read struct {
	_       struct{} `cbor:",toarray"`
	ID      uuid.UUID
	Version uint64
}

// RootRead is one named root read: its name and the version seen, 0 if it
// was absent.
type RootRead struct {
	_       struct{} `cbor:",toarray"`
	Name    string
	Version uint64
}

// Write is one object write. Delete removes the object; otherwise Value is
// its new CBOR encoded value.
type Write struct {
	_      struct{} `cbor:",toarray"`
	ID     uuid.UUID
	Delete bool
	Value  []byte
}

// RootWrite sets the named root Name to ID, or removes it when Delete is set.
type RootWrite struct {
	_      struct{} `cbor:",toarray"`
	Name   string
	Delete bool
	ID     uuid.UUID
}

// ErrMalformedRecord is returned when a commit record cannot be decoded.
var ErrMalformedRecord = errors.New("consistency: malformed commit record")

// Marshal encodes the record in deterministic CBOR: what the CBOR
// library's core deterministic encoding writes for it (see
// recordcodec.go). It never fails; the error is kept for the callers.
func (r *Record) Marshal() ([]byte, error) {
	if r == nil {
		return []byte{cborNull}, nil // as the library encodes a nil pointer
	}
	return r.appendTo(make([]byte, 0, r.size())), nil
}

// UnmarshalRecord decodes a commit record, enforcing the decoding limits.
// The record shares no memory with data.
func UnmarshalRecord(data []byte) (*Record, error) {
	return unmarshalRecord(data, true)
}

// unmarshalRecord decodes a commit record. With own false the values of
// its writes may share data's memory: for apply, which copies each value
// into the state and lets go of the record before it returns.
func unmarshalRecord(data []byte, own bool) (*Record, error) {
	r := new(Record)
	if err := unmarshalRecordTo(r, data, own, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// unmarshalRecordTo is unmarshalRecord into r, which it overwrites
// whole, with the arrays buf lends it (decodeRecordTo).
func unmarshalRecordTo(r *Record, data []byte, own bool, buf *recBuf) error {
	if !decodeRecordTo(r, data, own, buf) {
		*r = Record{}
		if err := decMode.Unmarshal(data, r); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformedRecord, err)
		}
	}
	if r.TxID == uuid.Nil {
		return fmt.Errorf("%w: no transaction ID", ErrMalformedRecord)
	}
	return nil
}
