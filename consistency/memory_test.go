package consistency

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/google/uuid"
)

// heapBytes is the Go heap the process's objects occupy after a full
// collection.
func heapBytes() float64 {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64())
}

// BenchmarkMemoryPerObject reports the Go heap one replica spends an
// object, by part, for a heap loaded as the peer benchmark loads it
// (objects of 100 bytes, 1,000 to a commit record), with random IDs and
// with ascending ones, as oss.New's version 7 UUIDs arrive: each
// part is let go of in turn and the heap measured again after a
// collection. The parts:
//
//	log-B/obj      the commit records as raft's log holds them until compaction
//	changes-B/obj  the change sets, as a heap's watch history keeps them
//	dedup-B/obj    the deduplication window's transaction IDs
//	values-B/obj   the objects' values with their versions (objItem's allocation)
//	tree-B/obj     the tree's nodes
//	state-B/obj    the two above: what the state itself costs
//
// A heap keeps far less of the first two than this: its log in memory
// is compacted once it holds more than logBytes (oss/heap.go), and its
// watch history holds at most Config.WatchHistory change sets and
// Config.WatchHistoryBytes. The store's index, on durable nodes, is
// persist's BenchmarkStoreIndexPerObject.
//
//	go test ./consistency ./persist -run '^$' -bench PerObject -benchtime 1x
func BenchmarkMemoryPerObject(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		for _, ids := range []string{"random", "ascending"} {
			b.Run(fmt.Sprintf("objects=%d/ids=%s", n, ids), func(b *testing.B) {
				for b.Loop() {
					memoryPerObject(b, n, ids == "ascending")
				}
			})
		}
	}
}

func memoryPerObject(b *testing.B, n int, ascending bool) {
	const perRecord, valueSize = 1000, 100
	rng := rand.New(rand.NewPCG(1, 2))
	base := heapBytes()
	m := newMachine(0)
	var log [][]byte
	var changes []ChangeSet
	for i := 0; i < n; i += perRecord {
		rec := Record{TxID: uuid.New(), Snapshot: m.index}
		for range min(perRecord, n-i) {
			var id uuid.UUID
			for k := range id {
				id[k] = byte(rng.Uint32())
			}
			if ascending { // a time and a counter first, as in a version 7 UUID
				binary.BigEndian.PutUint64(id[:8], uint64(i+len(rec.Writes)))
			}
			v := make([]byte, valueSize)
			for k := range v {
				v[k] = byte('a' + rng.IntN(26))
			}
			rec.Writes = append(rec.Writes, Write{ID: id, Value: v})
		}
		data, err := rec.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		res, cs := m.apply(m.index+1, data)
		if res.Outcome != Committed {
			b.Fatalf("record %d: %v", i/perRecord, res.Outcome)
		}
		log = append(log, data)
		changes = append(changes, *cs)
		m.publish() // as a replica does after each Ready
	}
	if got := m.state.Len(); got != n {
		b.Fatalf("state holds %d objects, want %d", got, n)
	}
	// Each part is kept alive until the heap has been measured with it.
	all := heapBytes()
	runtime.KeepAlive(log)
	log = nil
	noLog := heapBytes()
	runtime.KeepAlive(changes)
	changes = nil
	noChanges := heapBytes()
	m.seen, m.dec = nil, decisionLog{}
	noDedup := heapBytes()
	// The tree without the values: every item points at one allocation.
	// The nodes change in place (nothing else holds them once the State
	// is let go of), so the tree measured is the one the loading left.
	m.state = nil
	one := newObjItem(uuid.Nil, nil, 0)
	var drop func(n *bnode[objItem])
	drop = func(n *bnode[objItem]) {
		for i := range n.items {
			n.items[i].rec = one.rec
		}
		for _, c := range n.children {
			drop(c)
		}
	}
	drop(m.objects.root)
	noValues := heapBytes()
	runtime.KeepAlive(m)
	m = nil
	none := heapBytes()

	per := func(x float64) float64 { return x / float64(n) }
	b.ReportMetric(per(all-base), "total-B/obj")
	b.ReportMetric(per(all-noLog), "log-B/obj")
	b.ReportMetric(per(noLog-noChanges), "changes-B/obj")
	b.ReportMetric(per(noChanges-noDedup), "dedup-B/obj")
	b.ReportMetric(per(noDedup-noValues), "values-B/obj")
	b.ReportMetric(per(noValues-none), "tree-B/obj")
	b.ReportMetric(per(noDedup-none), "state-B/obj")
}
