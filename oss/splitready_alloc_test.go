package oss

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// splitReadyLoop is splitReady as it was before a Ready that fits one
// record took its entries whole: every record's entries appended one by
// one.
func splitReadyLoop(rec walRecord, hard []byte, ents [][]byte, budget int) []walRecord {
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

// splitReady gives the records the one-by-one split gave, for any
// entries, snapshot and budget, whether or not they fit one record.
func TestSplitReadyMatchesTheSplitOneByOne(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for range 2000 {
		base := walRecord{Heap: "h", Group: 3, Replicas: 3}
		if rng.IntN(4) == 0 {
			base.SnapMeta, base.SnapData = []byte{1}, bytes.Repeat([]byte{'s'}, rng.IntN(3000))
		}
		var ents [][]byte
		for range rng.IntN(12) {
			ents = append(ents, bytes.Repeat([]byte{'e'}, 1+rng.IntN(600)))
		}
		var hard []byte
		if rng.IntN(2) == 0 {
			hard = []byte{8, 1}
		}
		budget := 1 + rng.IntN(6000)
		got, want := splitReady(base, hard, ents, budget), splitReadyLoop(base, hard, ents, budget)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: %d entries, budget %d: %d records, want %d", seed, len(ents), budget, len(got), len(want))
		}
	}
}

// A Ready whose entries fit one record is one allocation, the record's
// slice: its entries are the slice the caller gave (the split grew a
// slice of its own, three allocations for four entries).
func TestSplitReadyOfOneRecordAllocatesOnce(t *testing.T) {
	ents := [][]byte{make([]byte, 150), make([]byte, 150), make([]byte, 150), make([]byte, 150)}
	base, hard := walRecord{Heap: "h", Group: 3, Replicas: 3}, []byte{8, 1}
	if allocs := testing.AllocsPerRun(100, func() { splitReady(base, hard, ents, 1<<20) }); allocs != 1 {
		t.Errorf("a Ready of four entries in one record: %v allocations, want 1", allocs)
	}
}

// BenchmarkSplitReady splits a Ready of four entries of 150 bytes, as a
// replica's log write in the peer benchmark's a has.
func BenchmarkSplitReady(b *testing.B) {
	ents := [][]byte{make([]byte, 150), make([]byte, 150), make([]byte, 150), make([]byte, 150)}
	base, hard := walRecord{Heap: "h", Group: 3, Replicas: 3}, []byte{8, 1}
	b.ReportAllocs()
	for b.Loop() {
		splitReady(base, hard, ents, 1<<20)
	}
}
