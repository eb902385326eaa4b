package consistency

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// A write after a Copy copies the nodes on its path: a leaf is a node
// and its items, an inner node one allocation with its children
// (newInner), so a Set in a tree of depth d allocates d+1 times.
func TestWriteAfterCopyAllocatesOnceAnInnerNode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
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
	if depth < 3 {
		t.Fatalf("depth %d, want 3 or more", depth)
	}
	items := make([]objItem, 200)
	for i := range items {
		items[i] = newObjItem(ids[rng.IntN(len(ids))], make([]byte, 8), 2)
	}
	next := 0
	allocs := testing.AllocsPerRun(100, func() {
		var snap btree[objItem]
		tr.copyTo(&snap)
		if _, replaced := tr.Set(items[next]); !replaced {
			t.Fatal("an existing item was not replaced")
		}
		next++
	})
	if want := float64(depth + 1); allocs > want {
		t.Errorf("a Set after a Copy in a tree of depth %d allocated %v times, want %v", depth, allocs, want)
	}
}

// An inner node's array of children holds nothing past its last child
// after any mix of puts, deletes and copies, nor once the node has
// outgrown it: a slot the node no longer uses would keep a node, and a
// whole old subtree, alive.
func TestInnerNodesHoldNoStaleChildren(t *testing.T) {
	tr := newBTree(cmpKV)
	kids := make([]*bnode[kv], halfChildren)
	for i := range kids {
		kids[i] = &bnode[kv]{owner: tr.owner, items: []kv{{k: 2 * i}}}
	}
	n := tr.newInner(make([]kv, halfChildren-1), false, kids, nil)
	array := n.children[:cap(n.children)]
	if len(array) != halfChildren {
		t.Fatalf("a node of %d children has room for %d", halfChildren, len(array))
	}
	n.children = insertChild(n.children, 3, &bnode[kv]{owner: tr.owner}, tr.max+1)
	if len(n.children) != halfChildren+1 {
		t.Fatalf("%d children after an insert into %d", len(n.children), halfChildren)
	}
	for i, c := range array {
		if c != nil {
			t.Fatalf("the array the children left holds a child in slot %d", i)
		}
	}

	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	var check func(n *bnode[kv])
	check = func(n *bnode[kv]) {
		for i, c := range n.children[len(n.children):cap(n.children)] {
			if c != nil {
				t.Fatalf("seed %d: slot %d past %d children holds a node", seed, len(n.children)+i, len(n.children))
			}
		}
		for _, c := range n.children {
			check(c)
		}
	}
	for round := range 40 {
		tr, m := newBTree(cmpKV), model{}
		if round%2 == 1 {
			tr.max, tr.leafMax = 4+round%5, 4+round%3
		}
		var copies []*btree[kv]
		for op := range 3000 {
			k := rng.IntN(2000)
			switch rng.IntN(5) {
			case 0, 1:
				tr.Set(kv{k, op})
				m[k] = op
			case 2:
				for j := range 30 {
					tr.Set(kv{k + j, op})
					m[k+j] = op
				}
			case 3:
				for j := range 30 {
					tr.Delete(kv{k: k + j})
					delete(m, k+j)
				}
			case 4:
				if op%10 == 0 {
					copies = append(copies, tr.Copy())
				}
			}
		}
		checkTree(t, tr, m)
		for _, c := range append(copies, tr) {
			if c.root != nil {
				check(c.root)
			}
		}
		for _, k := range slices.Collect(maps.Keys(m)) {
			tr.Delete(kv{k: k})
		}
		if tr.root != nil {
			check(tr.root)
		}
	}
}
