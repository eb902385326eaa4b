package oss

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
)

// A checkpoint's metadata, written with the replica's state encoded in
// place, is byte for byte what the library writes for storeMeta: states
// whose encodings take heads of every size, raft metadata absent, empty
// and present, and any number of replicas.
func TestStoreMetaMatchesLibrary(t *testing.T) {
	t.Parallel()
	type root struct {
		_       struct{} `cbor:",toarray"`
		Name    string
		ID      uuid.UUID
		Version uint64
	}
	type decision struct {
		_            struct{} `cbor:",toarray"`
		TxID         uuid.UUID
		Index        uint64
		Outcome      consistency.Outcome
		ConflictID   uuid.UUID
		ConflictRoot string
		ConflictScan bool
	}
	type state struct {
		Index   uint64     `cbor:"1,keyasint"`
		Shape   uint64     `cbor:"2,keyasint"`
		Objects []struct{} `cbor:"3,keyasint"`
		Roots   []root     `cbor:"4,keyasint"`
		Seen    []decision `cbor:"5,keyasint"`
	}
	const index = 5000
	for _, roots := range []int{0, 1, 3, 600, 3000} {
		st := state{Index: index, Shape: 7}
		for i := range roots {
			st.Roots = append(st.Roots, root{Name: fmt.Sprintf("root-%d", i), ID: uuid.UUID{byte(i), byte(i >> 8), 1}, Version: uint64(1 + i%index)})
			st.Seen = append(st.Seen, decision{TxID: uuid.UUID{2, byte(i), byte(i >> 8)}, Index: uint64(1 + i), Outcome: consistency.Committed})
		}
		data, err := codec.Marshal(&st)
		if err != nil {
			t.Fatal(err)
		}
		r, err := replicaAt(index, data, []consistency.Object{})
		if err != nil {
			t.Fatal(err)
		}
		c := r.CaptureSnapshotMeta()
		whole, err := r.SnapshotMeta()
		if err != nil {
			t.Fatal(err)
		}
		for _, sm := range [][]byte{nil, {}, bytes.Repeat([]byte{9}, 30), bytes.Repeat([]byte{8}, 300)} {
			for _, replicas := range []int{0, 1, 3, 23, 24, 255, 256, 70000, -1, -30} {
				got := encodeStoreMeta(sm, c, replicas)
				want, err := codec.Marshal(storeMeta{SnapMeta: sm, State: whole, Replicas: replicas})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%d roots, raft metadata of %d bytes (nil %v), %d replicas:\n got %x\nwant %x", roots, len(sm), sm == nil, replicas, got, want)
				}
			}
		}
	}
}
