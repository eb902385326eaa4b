package consistency

import (
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"
)

// BenchmarkReadyApplyRMW applies the peer benchmark's read-modify-writes
// (one object of 100,000 read and written with 102 bytes) as a replica's
// Apply does, a Ready of 16 records at a time: results and change sets
// collected in the Ready, a State published after each. An op is one
// record; its allocations are what one replica allocates for a commit.
func BenchmarkReadyApplyRMW(b *testing.B) {
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
	for i := 0; i < len(recs); i += batch {
		n := min(batch, len(recs)-i)
		rd := Ready{Results: make([]Result, 0, n), Changes: make([]ChangeSet, 0, n)}
		for _, data := range recs[i : i+n] {
			m.applyNormal(&rd, m.index+1, data)
		}
		if len(rd.Changes) != n {
			b.Fatalf("records %d to %d: %d committed", i, i+n, len(rd.Changes))
		}
		rd.State = m.publish()
	}
}
