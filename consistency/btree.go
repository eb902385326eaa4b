package consistency

import "sync/atomic"

// A btree is an ordered set of items, a B-tree whose Copy costs O(1): the
// copy and the original share their nodes, and each copies a node before
// its first change to it after the Copy (copy on write). One tree must
// not be changed from two goroutines at once; a tree nobody changes may be
// read from any number of them, also while a copy of it changes.
//
// It differs from a textbook B-tree in two ways, both for memory:
//
//   - A full node that splits for an item at one of its ends leaves the
//     other side full: an insert after its last item keeps all but the
//     last item in the left node, one before its first keeps all but the
//     first in the right node. Items that arrive in ascending order (oss
//     makes version 7 UUIDs, which are ordered by time) or descending
//     order so fill their nodes, where a split in the middle leaves each
//     node half full. Any other insert splits a full node in the middle.
//   - A node's items slice is no larger than what it holds, rounded up to
//     the allocator's size class, and grown by a quarter: a middle split
//     copies each half to a slice of its own, so neither keeps the
//     other's alive.
//
// Deletion rebalances as a B-tree does: before descending into a child at
// or below its least (most/2-1), it takes an item from a sibling with more, or merges
// the child with a sibling. The end splits can leave a node below
// least; deletion merges such a node like any other.
type btree[T any] struct {
	cmp func(a, b T) int
	// find is the binary search of a node's items, cmp inlined where a
	// tree of objects gives one (searchObj): a call through a function
	// value a node, not one a comparison.
	find  func(items []T, key T) (int, bool)
	root  *bnode[T]
	len   int
	owner uint64 // the nodes with this owner are the tree's own
	max   int    // the most items an inner node holds: maxItems, fewer in tests
	// leafMax is the most items a leaf holds: maxLeafItems, fewer in
	// tests.
	leafMax int
}

type bnode[T any] struct {
	owner    uint64
	items    []T
	children []*bnode[T] // len(items)+1 of them, or none in a leaf
	// shared: items may be another node's too (own shares an inner
	// node's items, which a write through it rarely changes); the node
	// copies them before it changes them (ownItems).
	shared bool
	// inline: a leaf whose items are an array in the node's own
	// allocation (newLeaf). Their slice never grows: a write that would
	// grow it moves the items to a node of the usual kind first
	// (spill), so no leaf keeps an array it no longer uses.
	inline bool
}

// maxItems is the most items a node holds: 63 objItems (24 bytes) and
// the 8-byte header the allocator puts before an array of pointers fit
// 1,536 bytes, one of its size classes. Larger nodes cost a byte less an
// object but a larger copy on a node's first write after a Copy (see
// docs/design.md, "Memory per object").
const maxItems = 63

// maxLeafItems is the most items a leaf holds: 31 objItems and the
// header fit 768 bytes, a size class. A write copies the leaf it goes to
// on its first write after a Copy, and a replica publishes a State (a
// Copy) for every Ready: with commits of random objects nearly every
// write copies a leaf, where the inner nodes above it are shared by the
// Ready's writes and copy their children only (own). Leaves of 63 items
// made that copy 1.5 KiB, half of what a read-modify-write's apply
// allocated; leaves of 31 cost about 2 bytes an object more (more nodes
// and separators).
const maxLeafItems = 31

// lastOwner hands out the owners of trees: a Copy gives both trees new
// ones, so every node either may share is no longer its own.
var lastOwner atomic.Uint64

func newBTree[T any](cmp func(a, b T) int) *btree[T] {
	return &btree[T]{cmp: cmp, find: searchFunc(cmp), owner: lastOwner.Add(1), max: maxItems, leafMax: maxLeafItems}
}

// most is the most items n holds.
func (t *btree[T]) most(n *bnode[T]) int {
	if n.children == nil {
		return t.leafMax
	}
	return t.max
}

// least is the fewest items deletion leaves in n, a node it descends
// through.
func (t *btree[T]) least(n *bnode[T]) int { return t.most(n)/2 - 1 }

// Len is the number of items.
func (t *btree[T]) Len() int { return t.len }

// Copy returns a tree with the same items in O(1).
func (t *btree[T]) Copy() *btree[T] {
	c := new(btree[T])
	t.copyTo(c)
	return c
}

// copyTo makes c a tree with the same items as t in O(1).
func (t *btree[T]) copyTo(c *btree[T]) {
	t.owner = lastOwner.Add(1)
	*c = *t
	c.owner = lastOwner.Add(1)
}

// search returns the index of key in items, or where it would go.
func (t *btree[T]) search(items []T, key T) (int, bool) { return t.find(items, key) }

// searchFunc returns the search of a node's items with cmp.
func searchFunc[T any](cmp func(a, b T) int) func(items []T, key T) (int, bool) {
	return func(items []T, key T) (int, bool) { return searchCmp(items, key, cmp) }
}

func searchCmp[T any](items []T, key T, cmp func(a, b T) int) (int, bool) {
	lo, hi := 0, len(items)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		switch c := cmp(items[h], key); {
		case c == 0:
			return h, true
		case c < 0:
			lo = h + 1
		default:
			hi = h
		}
	}
	return lo, false
}

// Get returns the item equal to key.
func (t *btree[T]) Get(key T) (T, bool) {
	for n := t.root; n != nil; {
		i, found := t.search(n.items, key)
		if found {
			return n.items[i], true
		}
		if n.children == nil {
			break
		}
		n = n.children[i]
	}
	var zero T
	return zero, false
}

// clone copies s to a slice of its own, nil if s is empty.
func clone[E any](s []E) []E {
	if len(s) == 0 {
		return nil
	}
	return append([]E(nil), s...)
}

// own returns n if it is the tree's own, else a copy of it that is. An
// inner node's copy shares n's items until it changes them: a write
// below it changes only its children, and copying 63 items (1.5 KiB) for
// every inner node on a write's path, the first after each Copy, was a
// third of what a replica's commits allocated.
func (t *btree[T]) own(n *bnode[T]) *bnode[T] {
	if n.owner == t.owner {
		return n
	}
	if n.children != nil {
		return t.newInner(n.items, true, n.children, nil)
	}
	return &bnode[T]{owner: t.owner, items: clone(n.items)}
}

// newInner returns a new inner node of the tree with items and a copy of
// children, in one allocation with an array for them: a write copies
// every inner node on its path on its first write after a Copy, and the
// node and its children's slice were two allocations. The array holds
// half an inner node's most children and one more, or the most, the
// least of the two that takes children; a node that outgrows its array
// moves its children to a slice (insertChild) and clears the array. A
// slot past the last child is nil, so the array keeps nothing alive
// that the node has let go of.
func (t *btree[T]) newInner(items []T, shared bool, children, more []*bnode[T]) *bnode[T] {
	n := bnode[T]{owner: t.owner, items: items, shared: shared}
	switch k := len(children) + len(more); {
	case t.max > maxItems || k > maxItems+1:
		x := new(bnode[T])
		*x = n
		x.children = append(append(make([]*bnode[T], 0, k), children...), more...)
		return x
	case k <= halfChildren:
		x := new(struct {
			n  bnode[T]
			ch [halfChildren]*bnode[T]
		})
		x.n = n
		x.n.children = append(append(x.ch[:0], children...), more...)
		return &x.n
	}
	x := new(struct {
		n  bnode[T]
		ch [maxItems + 1]*bnode[T]
	})
	x.n = n
	x.n.children = append(append(x.ch[:0], children...), more...)
	return &x.n
}

// halfChildren is the size of newInner's smaller array of children.
const halfChildren = (maxItems+1)/2 + 1

// insertChild inserts c at s[i], s being an inner node's children, as
// insertAt does; when that moves them to a new slice, it clears the old
// one, which may be the node's own array (newInner). No other node
// shares a node's children: a copy of a node copies them.
func insertChild[T any](s []*bnode[T], i int, c *bnode[T], limit int) []*bnode[T] {
	if len(s) < cap(s) {
		return insertAt(s, i, c, limit)
	}
	old := s
	s = insertAt(s, i, c, limit)
	clear(old)
	return s
}

// ownItems makes n's items its own, to change in place: n is the tree's
// own, but its items may be shared.
func (n *bnode[T]) ownItems() {
	if n.shared {
		n.items = clone(n.items)
		n.shared = false
	}
}

// insertAt inserts v at s[i]. When s is full it moves to a slice a
// quarter larger, up to limit, rounded up to the allocator's size class.
func insertAt[E any](s []E, i int, v E, limit int) []E {
	if len(s) == cap(s) {
		g := append([]E(nil), make([]E, min(len(s)+1+len(s)/4, limit))...)
		s = append(g[:0], s...)
	}
	s = s[:len(s)+1]
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// removeAt removes s[i], clearing the slot it leaves.
func removeAt[E any](s []E, i int) []E {
	copy(s[i:], s[i+1:])
	var zero E
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// Set puts item into the tree and returns the item equal to it that it
// replaced, if any.
func (t *btree[T]) Set(item T) (T, bool) {
	if t.root == nil {
		t.root = &bnode[T]{owner: t.owner, items: []T{item}}
		t.len = 1
		var zero T
		return zero, false
	}
	t.root = t.own(t.root)
	if t.root.children == nil {
		t.root = t.spill(t.root) // a leaf that a merge made the root
	}
	prev, replaced, full := t.set(t.root, item)
	if full {
		old := t.root
		t.root = t.newInner(nil, false, []*bnode[T]{old}, nil)
		t.split(t.root, 0, item)
		prev, replaced, _ = t.set(t.root, item)
	}
	if !replaced {
		t.len++
	}
	return prev, replaced
}

// set puts item into the subtree under n, which is the tree's own. It
// reports full, having changed nothing, when item belongs in a full leaf
// and n cannot take the item a split of the node below it moves up: n's
// parent splits n, then tries again.
func (t *btree[T]) set(n *bnode[T], item T) (prev T, replaced, full bool) {
	i, found := t.search(n.items, item)
	if found {
		n.ownItems()
		prev, n.items[i] = n.items[i], item
		return prev, true, false
	}
	if n.children == nil {
		if len(n.items) == t.leafMax {
			return prev, false, true
		}
		n.ownItems()
		n.items = insertAt(n.items, i, item, t.leafMax)
		return prev, false, false
	}
	if n.children[i].children == nil {
		prev, replaced, full = t.setLeaf(n, i, item)
	} else {
		c := t.own(n.children[i])
		n.children[i] = c
		prev, replaced, full = t.set(c, item)
	}
	if !full {
		return prev, replaced, false
	}
	if len(n.items) == t.max {
		return prev, false, true
	}
	t.split(n, i, item)
	return t.set(n, item)
}

// setLeaf puts item into n's child i, a leaf, as set does: n is the
// tree's own, the child may not be. The first write to a leaf after a
// Copy copies it into one allocation with its items (newLeaf), where own
// made two, the node and its items: with commits of random objects
// nearly every write copies a leaf.
func (t *btree[T]) setLeaf(n *bnode[T], i int, item T) (prev T, replaced, full bool) {
	c := n.children[i]
	j, found := t.search(c.items, item)
	switch {
	case found && c.owner != t.owner:
		c = t.newLeaf(c.items, len(c.items))
		n.children[i] = c
	case found:
		c.ownItems()
	case len(c.items) == t.leafMax:
		n.children[i] = t.own(c)
		return prev, false, true
	case c.owner != t.owner:
		c = t.newLeaf(c.items, len(c.items)+1)
		n.children[i] = c
	default:
		c = t.spill(c)
		n.children[i] = c
	}
	if found {
		prev, c.items[j] = c.items[j], item
		return prev, true, false
	}
	c.items = insertAt(c.items, j, item, t.leafMax)
	return prev, false, false
}

// spill returns c, a leaf that is the tree's own, or, if its items are
// inline and fill their array, a node of the usual kind to put in its
// place, whose items are still c's array: the next insertAt moves them
// to a slice of their own, and c with its array is garbage.
func (t *btree[T]) spill(c *bnode[T]) *bnode[T] {
	if !c.inline || len(c.items) < cap(c.items) {
		return c
	}
	return &bnode[T]{owner: t.owner, items: c.items}
}

// newLeaf returns a leaf of the tree with a copy of items, in one
// allocation with an array of at least want items, sized for objItems
// (24 bytes) and the node's 64 bytes to fill one of the allocator's size
// classes: so a leaf takes what a node and its items' slice took, but
// for the fullest leaves (30 or 31 items, 896 bytes where 832 were).
func (t *btree[T]) newLeaf(items []T, want int) *bnode[T] {
	switch {
	case want <= 4:
		return leafIn(t.owner, items, func(a *[4]T) []T { return a[:] })
	case want <= 8:
		return leafIn(t.owner, items, func(a *[8]T) []T { return a[:] })
	case want <= 12:
		return leafIn(t.owner, items, func(a *[12]T) []T { return a[:] })
	case want <= 16:
		return leafIn(t.owner, items, func(a *[16]T) []T { return a[:] })
	case want <= 18:
		return leafIn(t.owner, items, func(a *[18]T) []T { return a[:] })
	case want <= 21:
		return leafIn(t.owner, items, func(a *[21]T) []T { return a[:] })
	case want <= 24:
		return leafIn(t.owner, items, func(a *[24]T) []T { return a[:] })
	case want <= 26:
		return leafIn(t.owner, items, func(a *[26]T) []T { return a[:] })
	case want <= 29:
		return leafIn(t.owner, items, func(a *[29]T) []T { return a[:] })
	case want <= maxLeafItems:
		return leafIn(t.owner, items, func(a *[maxLeafItems]T) []T { return a[:] })
	}
	return &bnode[T]{owner: t.owner, items: append(make([]T, 0, want), items...)}
}

// leafIn is newLeaf with an array of A, which array makes a slice of.
func leafIn[T, A any](owner uint64, items []T, array func(*A) []T) *bnode[T] {
	x := new(struct {
		n bnode[T]
		a A
	})
	x.n = bnode[T]{owner: owner, items: append(array(&x.a)[:0], items...), inline: true}
	return &x.n
}

// split splits n's full child i, which is the tree's own, for item: at
// the child's end when item goes after its last item or before its first,
// else in the middle.
func (t *btree[T]) split(n *bnode[T], i int, item T) {
	c := n.children[i]
	s := len(c.items) / 2
	switch j, _ := t.search(c.items, item); j {
	case len(c.items):
		s = len(c.items) - 1
	case 0:
		s = 0
	}
	median := c.items[s]
	var right *bnode[T]
	if c.children != nil {
		right = t.newInner(clone(c.items[s+1:]), false, c.children[s+1:], nil)
	} else {
		right = &bnode[T]{owner: t.owner, items: clone(c.items[s+1:])}
	}
	if s < len(c.items)-1 {
		// The left half gets a slice its size (the right's end split
		// keeps the full one), an inner node a new node with an array
		// its size, a leaf whose items are inline a new node.
		switch {
		case c.children != nil:
			n.children[i] = t.newInner(clone(c.items[:s]), false, c.children[:s+1], nil)
		case c.inline:
			n.children[i] = &bnode[T]{owner: t.owner, items: clone(c.items[:s])}
		default:
			c.items, c.shared = clone(c.items[:s]), false
		}
	} else {
		c.ownItems()
		var zero T
		c.items[s] = zero
		c.items = c.items[:s]
		if c.children != nil {
			c.children[s+1] = nil
			c.children = c.children[:s+1]
		}
	}
	n.ownItems()
	n.items = insertAt(n.items, i, median, t.max)
	n.children = insertChild(n.children, i+1, right, t.max+1)
}

// Load puts item into the tree as Set does, faster when it goes after
// every item (a sorted load).
func (t *btree[T]) Load(item T) (T, bool) {
	if t.root == nil {
		return t.Set(item)
	}
	n := t.own(t.root)
	t.root = n
	var parent *bnode[T]
	for n.children != nil {
		c := t.own(n.children[len(n.children)-1])
		n.children[len(n.children)-1] = c
		parent, n = n, c
	}
	if len(n.items) > 0 && len(n.items) < t.leafMax && t.cmp(n.items[len(n.items)-1], item) < 0 {
		if n = t.spill(n); parent != nil {
			parent.children[len(parent.children)-1] = n
		} else {
			t.root = n
		}
		n.ownItems()
		n.items = insertAt(n.items, len(n.items), item, t.leafMax)
		t.len++
		var zero T
		return zero, false
	}
	return t.Set(item)
}

// Delete removes the item equal to key and returns it.
func (t *btree[T]) Delete(key T) (T, bool) {
	var zero T
	if t.root == nil {
		return zero, false
	}
	t.root = t.own(t.root)
	prev, found := t.delete(t.root, key)
	if !found {
		return zero, false
	}
	t.len--
	switch {
	case len(t.root.items) > 0:
	case t.root.children == nil:
		t.root = nil
	default:
		t.root = t.root.children[0]
	}
	return prev, true
}

// delete removes key from the subtree under n, which is the tree's own.
func (t *btree[T]) delete(n *bnode[T], key T) (T, bool) {
	i, found := t.search(n.items, key)
	if n.children == nil {
		if !found {
			var zero T
			return zero, false
		}
		prev := n.items[i]
		n.ownItems()
		n.items = removeAt(n.items, i)
		return prev, true
	}
	if c := n.children[i]; len(c.items) <= t.least(c) && len(n.items) > 0 {
		// Make room in the child first, then look again: the items
		// around it may have moved. A node without items is a root a
		// merge emptied: its one child, about to be the root, needs no
		// room.
		t.grow(n, i)
		return t.delete(n, key)
	}
	c := t.own(n.children[i])
	n.children[i] = c
	if !found {
		return t.delete(c, key)
	}
	// key is n's item i: replace it by the largest item below it.
	prev := n.items[i]
	n.ownItems()
	n.items[i] = t.deleteMax(c)
	return prev, true
}

// deleteMax removes the largest item under n, which is the tree's own
// and has more than its least items.
func (t *btree[T]) deleteMax(n *bnode[T]) T {
	if n.children == nil {
		last := n.items[len(n.items)-1]
		n.ownItems()
		n.items = removeAt(n.items, len(n.items)-1)
		return last
	}
	i := len(n.children) - 1
	if c := n.children[i]; len(c.items) <= t.least(c) {
		t.grow(n, i)
		return t.deleteMax(n)
	}
	c := t.own(n.children[i])
	n.children[i] = c
	return t.deleteMax(c)
}

// grow gives n's child i more than its least items: one from a sibling
// with more than that, or else the child merges with a sibling and
// the item between them.
func (t *btree[T]) grow(n *bnode[T], i int) {
	c := t.own(n.children[i])
	n.children[i] = c
	n.ownItems()
	c.ownItems()
	switch {
	case i > 0 && len(n.children[i-1].items) > t.least(c):
		l := t.own(n.children[i-1])
		n.children[i-1] = l
		l.ownItems()
		c = t.spill(c)
		n.children[i] = c
		c.items = insertAt(c.items, 0, n.items[i-1], t.most(c))
		n.items[i-1] = l.items[len(l.items)-1]
		l.items = removeAt(l.items, len(l.items)-1)
		if l.children != nil {
			c.children = insertChild(c.children, 0, l.children[len(l.children)-1], t.max+1)
			l.children = removeAt(l.children, len(l.children)-1)
		}
	case i < len(n.items) && len(n.children[i+1].items) > t.least(c):
		r := t.own(n.children[i+1])
		n.children[i+1] = r
		r.ownItems()
		c = t.spill(c)
		n.children[i] = c
		c.items = insertAt(c.items, len(c.items), n.items[i], t.most(c))
		n.items[i] = r.items[0]
		r.items = removeAt(r.items, 0)
		if r.children != nil {
			c.children = insertChild(c.children, len(c.children), r.children[0], t.max+1)
			r.children = removeAt(r.children, 0)
		}
	default:
		if i == len(n.items) {
			i--
		}
		t.merge(n, i)
	}
}

// merge joins n's children i and i+1 and the item between them into one
// node.
func (t *btree[T]) merge(n *bnode[T], i int) {
	l, r := n.children[i], n.children[i+1]
	m := &bnode[T]{owner: t.owner, items: make([]T, 0, len(l.items)+1+len(r.items))}
	m.items = append(append(append(m.items, l.items...), n.items[i]), r.items...)
	if l.children != nil {
		m = t.newInner(m.items, false, l.children, r.children)
	}
	n.ownItems()
	n.items = removeAt(n.items, i)
	n.children = removeAt(n.children, i+1)
	n.children[i] = m
}

// Ascend calls fn for every item at or after from, in order, until fn
// returns false.
func (t *btree[T]) Ascend(from T, fn func(T) bool) {
	if t.root != nil {
		t.ascend(t.root, from, fn)
	}
}

func (t *btree[T]) ascend(n *bnode[T], from T, fn func(T) bool) bool {
	i, found := t.search(n.items, from)
	if !found && n.children != nil && !t.ascend(n.children[i], from, fn) {
		return false
	}
	for ; i < len(n.items); i++ {
		if !fn(n.items[i]) {
			return false
		}
		if n.children != nil && !t.scan(n.children[i+1], fn) {
			return false
		}
	}
	return true
}

// Scan calls fn for every item, in order, until fn returns false.
func (t *btree[T]) Scan(fn func(T) bool) {
	if t.root != nil {
		t.scan(t.root, fn)
	}
}

func (t *btree[T]) scan(n *bnode[T], fn func(T) bool) bool {
	for i, it := range n.items {
		if n.children != nil && !t.scan(n.children[i], fn) {
			return false
		}
		if !fn(it) {
			return false
		}
	}
	return n.children == nil || t.scan(n.children[len(n.items)], fn)
}
