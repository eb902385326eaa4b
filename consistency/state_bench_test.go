package consistency

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
)

// benchIDs makes n object IDs, random or ascending (a counter first, as
// in a version 7 UUID), starting after the first from of them.
func benchIDs(rng *rand.Rand, from, n int, ascending bool) []uuid.UUID {
	ids := make([]uuid.UUID, n)
	for i := range ids {
		for k := range ids[i] {
			ids[i][k] = byte(rng.Uint32())
		}
		if ascending {
			binary.BigEndian.PutUint64(ids[i][:8], uint64(from+i))
		}
	}
	return ids
}

// benchRecord encodes a commit record that writes ids.
func benchRecord(b *testing.B, ids []uuid.UUID, snapshot uint64) []byte {
	rec := Record{TxID: uuid.New(), Snapshot: snapshot}
	for _, id := range ids {
		rec.Writes = append(rec.Writes, Write{ID: id, Value: make([]byte, 100)})
	}
	data, err := rec.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkStateApply applies commit records of 10 writes each to a state
// of 100,000 objects, publishing a State after each, as a replica does:
// creations with random or ascending IDs, and updates of random objects.
// An op is one record.
func BenchmarkStateApply(b *testing.B) {
	const preload, writes = 100_000, 10
	for _, kind := range []string{"create-random", "create-ascending", "update"} {
		b.Run(kind, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			ascending := kind == "create-ascending"
			m, loaded := preloaded(b, rng, preload, ascending)
			recs := make([][]byte, b.N)
			for i := range recs {
				ids := benchIDs(rng, preload+i*writes, writes, ascending)
				if kind == "update" {
					for k := range ids {
						ids[k] = loaded[rng.IntN(preload)]
					}
				}
				recs[i] = benchRecord(b, ids, m.index)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range recs {
				if res, _ := m.apply(m.index+1, recs[i]); res.Outcome != Committed {
					b.Fatalf("record %d: %v", i, res.Outcome)
				}
				m.publish()
			}
		})
	}
}

// BenchmarkStateGet looks objects up in a State of 1,000,000, and scans
// 100 objects from a random one. An op is one lookup or one scan.
func BenchmarkStateGet(b *testing.B) {
	const preload = 1_000_000
	for _, ids := range []string{"random", "ascending"} {
		rng := rand.New(rand.NewPCG(1, 2))
		m := newMachine(0)
		loaded := benchIDs(rng, 0, preload, ids == "ascending")
		for i := 0; i < preload; i += 1000 {
			m.apply(m.index+1, benchRecord(b, loaded[i:i+1000], m.index))
		}
		st := m.publish()
		b.Run(fmt.Sprintf("get/ids=%s", ids), func(b *testing.B) {
			for b.Loop() {
				if _, ok := st.Get(loaded[rng.IntN(preload)]); !ok {
					b.Fatal("not found")
				}
			}
		})
		b.Run(fmt.Sprintf("ascend100/ids=%s", ids), func(b *testing.B) {
			for b.Loop() {
				n := 0
				st.Ascend(loaded[rng.IntN(preload)], func(Object) bool { n++; return n < 100 })
			}
		})
	}
}

// BenchmarkSnapshotMeta captures and encodes the metadata a checkpoint
// keeps of a replica whose deduplication memory is full (DefaultDedupWindow
// decisions): "whole" is SnapshotMeta, which a checkpoint ran on the
// replica's owner's goroutine; "capture" what the owner waits for now
// (SnapshotMetaLater), "encode" the rest, which a checkpoint does off the
// owner's goroutine.
func BenchmarkSnapshotMeta(b *testing.B) {
	r := &Replica{m: newMachine(0)}
	m := r.m
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range DefaultDedupWindow {
		m.apply(m.index+1, benchRecord(b, benchIDs(rng, i, 1, true), m.index))
	}
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.SnapshotMeta(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("capture", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.SnapshotMetaLater()
		}
	})
	b.Run("encode", func(b *testing.B) {
		encode := r.SnapshotMetaLater()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// preloaded returns a machine holding n objects, created a thousand a
// record, and their IDs (ascending ones if asked), with a State published.
func preloaded(b *testing.B, rng *rand.Rand, n int, ascending bool) (*machine, []uuid.UUID) {
	m := newMachine(0)
	loaded := benchIDs(rng, 0, n, ascending)
	for i := 0; i < n; i += 1000 {
		m.apply(m.index+1, benchRecord(b, loaded[i:min(i+1000, n)], m.index))
	}
	m.publish()
	return m, loaded
}
