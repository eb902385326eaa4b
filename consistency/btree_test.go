package consistency

import (
	"cmp"
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/google/uuid"
)

// kv is a test item: ordered by k, v tells a replaced item from its
// replacement.
type kv struct{ k, v int }

func cmpKV(a, b kv) int { return cmp.Compare(a.k, b.k) }

// model is what a tree should hold: a map, sorted when compared.
type model map[int]int

// checkTree checks t's shape (order, sizes, leaves at one depth) and that
// it holds exactly m.
func checkTree(t *testing.T, tr *btree[kv], m model) {
	t.Helper()
	if tr.Len() != len(m) {
		t.Fatalf("Len %d, model holds %d", tr.Len(), len(m))
	}
	var got []kv
	leafDepth := -1
	var walk func(n *bnode[kv], depth int, lo, hi *int)
	walk = func(n *bnode[kv], depth int, lo, hi *int) {
		if len(n.items) > tr.most(n) || (len(n.items) == 0 && n.children == nil) {
			t.Fatalf("a node holds %d items", len(n.items))
		}
		for i, it := range n.items {
			if (lo != nil && it.k <= *lo) || (hi != nil && it.k >= *hi) || (i > 0 && n.items[i-1].k >= it.k) {
				t.Fatalf("item %d out of order", it.k)
			}
		}
		if n.children == nil {
			if leafDepth >= 0 && depth != leafDepth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			leafDepth = depth
			got = append(got, n.items...)
			return
		}
		if len(n.children) != len(n.items)+1 {
			t.Fatalf("%d children for %d items", len(n.children), len(n.items))
		}
		for i, c := range n.children {
			clo, chi := lo, hi
			if i > 0 {
				clo = &n.items[i-1].k
			}
			if i < len(n.items) {
				chi = &n.items[i].k
			}
			walk(c, depth+1, clo, chi)
			if i < len(n.items) {
				got = append(got, n.items[i])
			}
		}
	}
	if tr.root != nil {
		walk(tr.root, 0, nil, nil)
	}
	keys := slices.Sorted(maps.Keys(m))
	if len(got) != len(keys) {
		t.Fatalf("the tree's nodes hold %d items, the model %d", len(got), len(keys))
	}
	for i, k := range keys {
		if got[i] != (kv{k, m[k]}) {
			t.Fatalf("item %d is %v, want %v", i, got[i], kv{k, m[k]})
		}
	}
}

// checkAscend checks Ascend from key against the model, for at most limit
// items.
func checkAscend(t *testing.T, tr *btree[kv], m model, from, limit int) {
	t.Helper()
	var want []kv
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k >= from && len(want) < limit {
			want = append(want, kv{k, m[k]})
		}
	}
	var got []kv
	tr.Ascend(kv{k: from}, func(it kv) bool {
		got = append(got, it)
		return len(got) < limit
	})
	if !slices.Equal(got, want) {
		t.Fatalf("Ascend from %d (limit %d): got %v, want %v", from, limit, got, want)
	}
}

// keyOrder makes the i-th key of n for one of the orders inserts arrive in.
func keyOrder(order string, rng *rand.Rand, i, n int) int {
	switch order {
	case "ascending":
		return i
	case "descending":
		return n - i
	case "fronts": // 8 ascending runs at once, as concurrent loaders make
		return (i%8)*n + i/8
	}
	return rng.IntN(4 * n)
}

// TestBTreeModel applies random operations to a tree and to a map and
// checks after each step that the tree holds what the map does.
func TestBTreeModel(t *testing.T) {
	for _, order := range []string{"random", "ascending", "descending", "fronts"} {
		t.Run(order, func(t *testing.T) {
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 0))
			tr, m := newBTree(cmpKV), model{}
			const n = 40_000
			for i := range n {
				k := keyOrder(order, rng, i, n)
				prev, replaced := tr.Set(kv{k, i})
				if old, ok := m[k]; ok != replaced || (ok && prev != kv{k, old}) {
					t.Fatalf("Set %d: got %v %v, model has %v %v", k, prev, replaced, old, ok)
				}
				m[k] = i
				if rng.IntN(3) == 0 { // delete one of the keys at random
					d := keyOrder("random", rng, 0, n)
					if rng.IntN(2) == 0 {
						d = k - rng.IntN(300)
					}
					got, ok := tr.Delete(kv{k: d})
					if old, had := m[d]; ok != had || (ok && got != kv{d, old}) {
						t.Fatalf("Delete %d: got %v %v, model has %v %v", d, got, ok, old, had)
					}
					delete(m, d)
				}
				if i%4000 == 0 {
					checkTree(t, tr, m)
					checkAscend(t, tr, m, rng.IntN(4*n)-10, 1+rng.IntN(300))
				}
			}
			checkTree(t, tr, m)
			keys := slices.Collect(maps.Keys(m))
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			for range 50 {
				k := rng.IntN(4*n) - 10
				got, ok := tr.Get(kv{k: k})
				if v, had := m[k]; ok != had || (ok && got != kv{k, v}) {
					t.Fatalf("Get %d: got %v %v, model has %v %v", k, got, ok, v, had)
				}
				checkAscend(t, tr, m, k, 1+rng.IntN(500))
			}
			// Delete everything, in random order, and keys it does not hold.
			for _, k := range keys {
				if _, ok := tr.Delete(kv{k: k}); !ok {
					t.Fatalf("Delete %d: not found", k)
				}
				delete(m, k)
				if _, ok := tr.Delete(kv{k: -1 - k}); ok {
					t.Fatalf("Delete %d: found", -1-k)
				}
				if len(m)%5000 == 0 {
					checkTree(t, tr, m)
				}
			}
			if tr.Len() != 0 || tr.root != nil {
				t.Fatalf("emptied tree: Len %d, root %v", tr.Len(), tr.root)
			}
		})
	}
}

// TestBTreeLoad loads sorted items, then items out of order, as a
// checkpoint's stripes are loaded.
func TestBTreeLoad(t *testing.T) {
	tr, m := newBTree(cmpKV), model{}
	for i := range 20_000 {
		tr.Load(kv{2 * i, i})
		m[2*i] = i
	}
	checkTree(t, tr, m)
	for i := range 5_000 {
		tr.Load(kv{4*i + 1, i})
		m[4*i+1] = i
	}
	tr.Load(kv{0, -1})
	m[0] = -1
	checkTree(t, tr, m)
}

// FuzzBTree interprets its input as operations on a tree and a model:
// each 3 bytes an operation, a key, and the length of a run of keys.
func FuzzBTree(f *testing.F) {
	f.Add([]byte{0, 1, 200, 1, 50, 100, 2, 0, 0, 0, 255, 255})
	f.Add([]byte{3, 0, 255, 3, 100, 255, 1, 0, 255, 1, 100, 255})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tr, m := newBTree(cmpKV), model{}
		var copies []*btree[kv]
		var models []model
		for i := 0; i+2 < len(ops); i += 3 {
			k, run := int(ops[i+1])*64, int(ops[i+2])
			switch ops[i] % 5 {
			case 0: // an ascending run
				for j := range run {
					tr.Set(kv{k + j, i})
					m[k+j] = i
				}
			case 1: // a descending run of deletes
				for j := range run {
					tr.Delete(kv{k: k + run - j})
					delete(m, k+run-j)
				}
			case 2:
				checkAscend(t, tr, m, k, run+1)
			case 3: // a descending run
				for j := range run {
					tr.Set(kv{k + 64 - j, i})
					m[k+64-j] = i
				}
			case 4:
				copies, models = append(copies, tr.Copy()), append(models, maps.Clone(m))
			}
		}
		checkTree(t, tr, m)
		for i, c := range copies {
			checkTree(t, c, models[i])
		}
	})
}

// TestBTreeCopy checks that a Copy is isolated from its original both
// ways, over many generations of copies that each change after the Copy.
func TestBTreeCopy(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	tr, m := newBTree(cmpKV), model{}
	var copies []*btree[kv]
	var models []model
	change := func(tr *btree[kv], m model, n int) {
		for range n {
			k := rng.IntN(30_000)
			if rng.IntN(4) == 0 {
				tr.Delete(kv{k: k})
				delete(m, k)
			} else {
				v := rng.Int()
				tr.Set(kv{k, v})
				m[k] = v
			}
		}
	}
	for g := range 60 {
		change(tr, m, 1+rng.IntN(2000))
		c := tr.Copy()
		cm := maps.Clone(m)
		if g%3 == 0 {
			change(c, cm, 1+rng.IntN(500)) // a copy that changes too
		}
		copies, models = append(copies, c), append(models, cm)
	}
	checkTree(t, tr, m)
	for i, c := range copies {
		checkTree(t, c, models[i])
	}
}

// TestBTreeCopyRead reads copies from other goroutines while the original
// changes: under the race detector, a write to a node a copy shares fails
// it.
func TestBTreeCopyRead(t *testing.T) {
	tr := newBTree(cmpKV)
	for i := range 20_000 {
		tr.Set(kv{i, i})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		c := tr.Copy()
		wg.Go(func() {
			n := 0
			c.Scan(func(it kv) bool {
				if it.v != it.k+g*100_000 {
					t.Errorf("copy %d holds %v", g, it)
				}
				n++
				return true
			})
			if n != c.Len() {
				t.Errorf("copy %d: scanned %d of %d", g, n, c.Len())
			}
		})
		for i := range 20_000 {
			if i%7 == 0 {
				tr.Delete(kv{k: i})
			} else {
				tr.Set(kv{i, i + (g+1)*100_000})
			}
		}
	}
	wg.Wait()
}

// treeBytes counts the bytes of t's nodes: their slices' capacities and
// the nodes themselves (before the allocator rounds them up).
func treeBytes[T any](tr *btree[T]) int {
	var item T
	var walk func(n *bnode[T]) int
	walk = func(n *bnode[T]) int {
		b := int(unsafe.Sizeof(*n)) + cap(n.items)*int(unsafe.Sizeof(item)) + cap(n.children)*8
		for _, c := range n.children {
			b += walk(c)
		}
		return b
	}
	if tr.root == nil {
		return 0
	}
	return walk(tr.root)
}

// TestBTreeFill checks the bytes an item of the tree's nodes for objItems
// inserted in each order: ascending and descending IDs fill the nodes.
func TestBTreeFill(t *testing.T) {
	const n = 200_000
	for _, tc := range []struct {
		order string
		most  float64 // bytes an item, of which the item is 24
	}{
		// Leaves of 31 items (maxLeafItems) take about 2 bytes an item
		// more than leaves of 63 did (25.4, 25.4, 26.0, 28.4).
		{"ascending", 27.5},
		{"descending", 27.5},
		{"fronts", 30},
		{"random", 30.5},
	} {
		t.Run(tc.order, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			tr := newObjTree()
			for i := range n {
				var id uuid.UUID
				k := uint64(keyOrder(tc.order, rng, i, n))
				for b := range 8 {
					id[b] = byte(k >> (56 - 8*b))
				}
				tr.Set(objItem{id: id})
			}
			per := float64(treeBytes(tr)) / float64(tr.Len())
			t.Logf("%s: %.1f bytes an item", tc.order, per)
			if per > tc.most {
				t.Errorf("%s IDs: the tree takes %.1f bytes an item, want at most %.1f", tc.order, per, tc.most)
			}
		})
	}
}

// TestBTreeDeleteEmptiesRoot deletes from a root whose two children are
// both small, as end splits can leave them: the merge empties the root,
// and the delete goes on in its one child, which becomes the root.
func TestBTreeDeleteEmptiesRoot(t *testing.T) {
	tr := newBTree(cmpKV)
	leaf := func(ks ...int) *bnode[kv] {
		n := &bnode[kv]{owner: tr.owner}
		for _, k := range ks {
			n.items = append(n.items, kv{k: k})
		}
		return n
	}
	tr.root = &bnode[kv]{owner: tr.owner, items: []kv{{k: 2}}, children: []*bnode[kv]{leaf(1), leaf(3)}}
	tr.len = 3
	m := model{1: 0, 2: 0, 3: 0}
	for _, k := range []int{1, 3, 2} {
		if _, ok := tr.Delete(kv{k: k}); !ok {
			t.Fatalf("Delete(%d) found nothing", k)
		}
		delete(m, k)
		checkTree(t, tr, m)
	}
}

// TestBTreeSmallNodes runs random mixes of ascending, descending and
// random inserts and deletes, with copies, on trees of nodes of 4 to 8
// items: deep trees of few items, where every shape the splits at a
// node's end and the merges can make comes up, each checked after every
// operation.
func TestBTreeSmallNodes(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for round := range 100 {
		tr, m := newBTree(cmpKV), model{}
		tr.max = 4 + round%5
		tr.leafMax = []int{tr.max, 4, 5, 9}[round%4] // leaves as small, smaller or larger
		var copies []*btree[kv]
		var models []model
		for op := range 400 {
			k, run := rng.IntN(400), 1+rng.IntN(40)
			switch rng.IntN(6) {
			case 0: // an ascending run
				for j := range run {
					tr.Set(kv{k + j, op})
					m[k+j] = op
				}
			case 1: // a descending run
				for j := range run {
					tr.Set(kv{k - j, op})
					m[k-j] = op
				}
			case 2:
				tr.Set(kv{k, op})
				m[k] = op
			case 3, 4: // deletes, in a run or at random
				for j := range run {
					d := k + j
					if rng.IntN(2) == 0 {
						d = rng.IntN(440)
					}
					got, ok := tr.Delete(kv{k: d})
					if old, had := m[d]; ok != had || (ok && got != kv{d, old}) {
						t.Fatalf("round %d (seed %d): Delete %d: got %v %v, model has %v %v", round, seed, d, got, ok, old, had)
					}
					delete(m, d)
				}
			case 5:
				copies, models = append(copies, tr.Copy()), append(models, maps.Clone(m))
			}
			checkTree(t, tr, m)
		}
		for _, k := range slices.Collect(maps.Keys(m)) {
			tr.Delete(kv{k: k})
			delete(m, k)
			checkTree(t, tr, m)
		}
		for i, c := range copies {
			checkTree(t, c, models[i])
		}
	}
}

// TestSearchObj: a tree of objects, which searches its nodes with
// cmpObj inlined (searchObj), finds, puts and deletes what one searching
// with cmpObj finds, puts and deletes, and so does getObj, in trees of every depth, also
// where IDs share their first or last eight bytes.
func TestSearchObj(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	id := func() uuid.UUID {
		var u uuid.UUID
		// Few distinct halves, so that halves are often equal.
		binary.BigEndian.PutUint64(u[:8], uint64(rng.IntN(6))<<(rng.IntN(2)*63))
		binary.BigEndian.PutUint64(u[8:], uint64(rng.IntN(40))<<(rng.IntN(2)*63))
		return u
	}
	for round := range 60 {
		fast, slow := newObjTree(), newBTree(cmpObj)
		fast.max, fast.leafMax = 3+round%8, 4+round%5
		if round%10 == 9 {
			fast.max, fast.leafMax = maxItems, maxLeafItems
		}
		slow.max, slow.leafMax = fast.max, fast.leafMax
		for op := range 600 {
			k := id()
			switch rng.IntN(4) {
			case 0:
				it := newObjItem(k, []byte{byte(op)}, uint64(op))
				fast.Set(it)
				slow.Set(it)
			case 1:
				got, ok := fast.Delete(objItem{id: k})
				want, wok := slow.Delete(objItem{id: k})
				if ok != wok || got != want {
					t.Fatalf("round %d (seed %d): Delete %v: %v %v, with cmpObj %v %v", round, seed, k, got, ok, want, wok)
				}
			default:
				got, ok := fast.Get(objItem{id: k})
				want, wok := slow.Get(objItem{id: k})
				if ok != wok || got != want {
					t.Fatalf("round %d (seed %d): Get %v: %v %v, with cmpObj %v %v", round, seed, k, got, ok, want, wok)
				}
				if got, ok = getObj(fast, k); ok != wok || got != want {
					t.Fatalf("round %d (seed %d): getObj %v: %v %v, with cmpObj %v %v", round, seed, k, got, ok, want, wok)
				}
			}
		}
		var a, b []objItem
		fast.Scan(func(it objItem) bool { a = append(a, it); return true })
		slow.Scan(func(it objItem) bool { b = append(b, it); return true })
		if !slices.Equal(a, b) {
			t.Fatalf("round %d (seed %d): the trees hold different items", round, seed)
		}
	}
	if _, ok := newObjTree().Get(objItem{}); ok {
		t.Fatal("found an object in an empty tree")
	}
}
