package consistency

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
)

// benchRecords are the records the codec benchmarks encode and decode:
// a Wissenheim move (its avatar and the room read, the avatar and a
// held object written, values of about 60 bytes) and the peer
// benchmark's read-modify-write (one read, one write of 102 bytes).
func benchRecords() map[string]*Record {
	rng := rand.New(rand.NewPCG(3, 4))
	newID := func() uuid.UUID {
		var u uuid.UUID
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
		return u
	}
	value := func(n int) []byte {
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		return v
	}
	return map[string]*Record{
		"move": {
			TxID: newID(), Snapshot: 1_234_567,
			Reads:  []Read{{ID: newID(), Version: 1_234_500}, {ID: newID(), Version: 17}},
			Writes: []Write{{ID: newID(), Value: value(62)}, {ID: newID(), Value: value(58)}},
		},
		"rmw": {
			TxID: newID(), Snapshot: 987_654,
			Reads:  []Read{{ID: newID(), Version: 987_000}},
			Writes: []Write{{ID: newID(), Value: value(102)}},
		},
	}
}

// BenchmarkRecordMarshal encodes a commit record, as a committing
// transaction does once.
func BenchmarkRecordMarshal(b *testing.B) {
	for _, name := range []string{"move", "rmw"} {
		rec := benchRecords()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rec.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordUnmarshal decodes a commit record, as every replica
// that applies it does.
func BenchmarkRecordUnmarshal(b *testing.B) {
	for _, name := range []string{"move", "rmw"} {
		data, err := benchRecords()[name].Marshal()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := UnmarshalRecord(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyMove applies Wissenheim-like moves to a state of 100,000
// objects of 60 bytes, publishing a State after each as a replica does:
// each record reads two objects (of a half that is never written) and
// writes two of the other half. An op is one record.
func BenchmarkApplyMove(b *testing.B) {
	const preload = 100_000
	rng := rand.New(rand.NewPCG(5, 6))
	m, loaded := preloaded(b, rng, preload, true)
	recs := make([][]byte, b.N)
	for i := range recs {
		rec := Record{TxID: uuid.New(), Snapshot: m.index + uint64(i)}
		for range 2 {
			id := loaded[rng.IntN(preload/2)]
			rec.Reads = append(rec.Reads, Read{ID: id, Version: m.version(id)})
			rec.Writes = append(rec.Writes, Write{ID: loaded[preload/2+rng.IntN(preload/2)], Value: make([]byte, 60)})
		}
		data, err := rec.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = data
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range recs {
		if res, _ := m.apply(m.index+1, recs[i]); res.Outcome != Committed {
			b.Fatalf("record %d: %v", i, res.Outcome)
		}
		m.publish()
	}
}

// BenchmarkApplyRMW applies the peer benchmark's read-modify-writes (one
// object of 100,000 read and written with 102 bytes) in batches of 16, a
// State published after each batch as a replica publishes one a Ready.
// An op is one record.
func BenchmarkApplyRMW(b *testing.B) {
	const preload, batch = 100_000, 16
	rng := rand.New(rand.NewPCG(7, 8))
	m, loaded := preloaded(b, rng, preload, true)
	versions := map[uuid.UUID]uint64{}
	for _, id := range loaded {
		versions[id] = m.version(id)
	}
	recs := make([][]byte, b.N)
	for i := range recs {
		id := loaded[rng.IntN(preload)]
		index := m.index + uint64(i) + 1
		rec := Record{TxID: uuid.New(), Snapshot: index - 1 - uint64(i%batch),
			Reads:  []Read{{ID: id, Version: versions[id]}},
			Writes: []Write{{ID: id, Value: make([]byte, 102)}}}
		versions[id] = index
		data, err := rec.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = data
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range recs {
		if res, _ := m.apply(m.index+1, recs[i]); res.Outcome != Committed {
			b.Fatalf("record %d: %v", i, res.Outcome)
		}
		if i%batch == batch-1 {
			m.publish()
		}
	}
}
