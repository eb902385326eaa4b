package oss

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/objectsharing/oss/internal/codec"
)

// appendWALRecord writes what the library writes for every record, with
// each field empty or not, at every head size, after what dst holds.
func TestWALRecordEncodingMatchesLibrary(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	sizes := []int{0, 1, 23, 24, 255, 256, 65536}
	blob := func() []byte {
		if rng.IntN(3) == 0 {
			return nil
		}
		return bytes.Repeat([]byte{byte(rng.Uint32())}, sizes[rng.IntN(len(sizes))])
	}
	for i := range 1000 {
		r := walRecord{
			Heap:     strings.Repeat("h", sizes[rng.IntN(len(sizes)-1)]),
			Group:    []uint64{0, 1, 23, 24, 1 << 40, ^uint64(0)}[rng.IntN(6)],
			Hard:     blob(),
			SnapMeta: blob(),
			SnapData: blob(),
			Dropped:  rng.IntN(2) == 0,
			Replicas: []int{0, 1, 3, 24, -1, -25, 1 << 20}[rng.IntN(7)],
			InStore:  rng.IntN(2) == 0,
			Restored: rng.IntN(2) == 0,
		}
		for range []int{0, 0, 1, 2, 23, 24}[rng.IntN(6)] {
			r.Entries = append(r.Entries, blob())
		}
		want, err := codec.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got := appendWALRecord([]byte("dst"), &r)
		if !bytes.Equal(got, append([]byte("dst"), want...)) {
			t.Fatalf("seed %d, record %d: % x, the library % x", seed, i, got[:min(len(got), 60)], want[:min(len(want), 60)])
		}
		if n := walRecordSize(&r); n < len(want) {
			t.Fatalf("seed %d, record %d: walRecordSize %d, the encoding %d bytes", seed, i, n, len(want))
		}
	}
}

// marshalEntries encodes each entry as Marshal does, into one buffer.
func TestMarshalEntriesMatchesEach(t *testing.T) {
	var es []raftpb.Entry
	for i := range 40 {
		es = append(es, raftpb.Entry{Term: uint64(i), Index: uint64(1000 + i), Type: raftpb.EntryType(i % 2), Data: bytes.Repeat([]byte{byte(i)}, i*7)})
	}
	got, err := marshalEntries(es)
	if err != nil {
		t.Fatal(err)
	}
	for i := range es {
		want, _ := es[i].Marshal()
		if !bytes.Equal(got[i], want) {
			t.Fatalf("entry %d: % x, Marshal % x", i, got[i], want)
		}
	}
	if allocs := testing.AllocsPerRun(20, func() { marshalEntries(es) }); allocs != 2 {
		t.Errorf("marshalEntries of %d entries: %v allocations, want 2", len(es), allocs)
	}
}
