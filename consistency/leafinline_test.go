package consistency

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

// A write after a Copy copies the leaf it goes to into one allocation
// with its items (newLeaf), where it was two: a Set that replaces an item
// in a tree of depth d allocates d times, once a node on its path.
func TestWriteAfterCopyAllocatesOnceALeaf(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := newObjTree()
	ids := benchIDs(rng, 0, 100_000, false)
	for _, id := range ids {
		tr.Set(newObjItem(id, make([]byte, 8), 1))
	}
	depth := 0
	for n := tr.root; ; n = n.children[0] {
		depth++
		if n.children == nil {
			break
		}
	}
	items := make([]objItem, 200)
	for i := range items {
		items[i] = newObjItem(ids[rng.IntN(len(ids))], make([]byte, 8), 2)
	}
	// testing.AllocsPerRun rounds down, and a Set that lands on an
	// inner node's item copies no leaf: count them all.
	var snap btree[objItem]
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for _, it := range items {
		tr.copyTo(&snap)
		if _, replaced := tr.Set(it); !replaced {
			t.Fatal("an existing item was not replaced")
		}
	}
	runtime.ReadMemStats(&m1)
	allocs := float64(m1.Mallocs-m0.Mallocs) / float64(len(items))
	t.Logf("depth %d: %.2f allocations a Set after a Copy", depth, allocs)
	if want := float64(depth); allocs > want {
		t.Errorf("a Set after a Copy in a tree of depth %d allocated %.2f times, want at most %v", depth, allocs, want)
	}
}

// inlineSpan is where an inline leaf's allocation lies.
type inlineSpan struct {
	n        *bnode[kv]
	from, to uintptr
}

// inlineSpans lists the inline leaves under n.
func inlineSpans(n *bnode[kv], spans []inlineSpan) []inlineSpan {
	if n.inline {
		p := uintptr(unsafe.Pointer(n))
		spans = append(spans, inlineSpan{n, p, p + unsafe.Sizeof(*n) + uintptr(cap(n.items))*unsafe.Sizeof(kv{})})
	}
	for _, c := range n.children {
		spans = inlineSpans(c, spans)
	}
	return spans
}

// An inline leaf's items are its own array, and no other node's items
// lie in a leaf's allocation, whatever mix of puts (in place, after a
// Copy, growing a leaf, splitting it), loads, deletes (which move items
// between leaves and merge them) and copies: a node that kept an inline
// leaf's array would keep the whole leaf alive beside its own items.
func TestInlineLeavesKeepTheirArraysToThemselves(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	var spans []inlineSpan
	var check func(n *bnode[kv])
	check = func(n *bnode[kv]) {
		if cap(n.items) > 0 {
			p := uintptr(unsafe.Pointer(unsafe.SliceData(n.items)))
			if n.inline && p != uintptr(unsafe.Pointer(n))+unsafe.Sizeof(*n) {
				t.Fatalf("seed %d: an inline leaf's items are not its array", seed)
			}
			for _, s := range spans {
				if s.n != n && p >= s.from && p < s.to {
					t.Fatalf("seed %d: a node's items lie in another leaf's allocation", seed)
				}
			}
		}
		for _, c := range n.children {
			check(c)
		}
	}
	for round := range 30 {
		tr, m := newBTree(cmpKV), model{}
		if round%2 == 1 {
			tr.max, tr.leafMax = 4+round%5, 4+round%4
		}
		var copies []*btree[kv]
		for op := range 2000 {
			k := rng.IntN(1500)
			var before []inlineSpan
			if tr.root != nil {
				before = inlineSpans(tr.root, nil)
			}
			switch rng.IntN(6) {
			case 0, 1:
				tr.Set(kv{k, op})
				m[k] = op
			case 2:
				for j := range 20 {
					tr.Set(kv{k + j, op})
					m[k+j] = op
				}
			case 3:
				for j := range 30 {
					tr.Delete(kv{k: k + j})
					delete(m, k+j)
				}
			case 4:
				last := -1
				for mk := range m {
					last = max(last, mk)
				}
				for j := range 10 {
					tr.Load(kv{last + 1 + j, op})
					m[last+1+j] = op
				}
			case 5:
				if op%5 == 0 {
					copies = append(copies, tr.Copy())
				}
			}
			if tr.root != nil {
				spans = append(before, inlineSpans(tr.root, nil)...)
				check(tr.root)
			}
		}
		checkTree(t, tr, m)
	}
}

// BenchmarkWriteAfterCopy replaces one item of a tree of 100,000 objects
// after each Copy, as a replica's apply does with each published State.
func BenchmarkWriteAfterCopy(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := newObjTree()
	ids := benchIDs(rng, 0, 100_000, true)
	for _, id := range ids {
		tr.Set(newObjItem(id, make([]byte, 100), 1))
	}
	items := make([]objItem, 4096)
	for i := range items {
		items[i] = newObjItem(ids[rng.IntN(len(ids))], make([]byte, 100), 2)
	}
	var snap btree[objItem]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tr.copyTo(&snap)
		tr.Set(items[i%len(items)])
		i++
	}
}
