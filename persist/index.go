package persist

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// idIndex is where the last record of each live object of one space lies
// in a stripe. Most IDs are in a sorted array, 32 bytes an ID (a map
// spends 50 to 85); IDs added since the array was built are in a map,
// merged into the array when it holds an eighth as many. A record
// replaced or deleted in the array is changed there, a deleted one marked
// by a zero size until the next merge drops it. A record is never empty,
// so a zero size marks nothing else.
type idIndex struct {
	sorted []idxEntry
	added  map[[16]byte]loc
	dead   int // entries of sorted marked deleted
}

type idxEntry struct {
	id [16]byte
	l  loc
}

// mergeMin is the least number of added IDs merged into the array.
const mergeMin = 1024

func newIDIndex() *idIndex { return &idIndex{added: map[[16]byte]loc{}} }

// indexOf returns the index built from entries, in any order, with no
// ID twice. It takes entries over.
func indexOf(entries []idxEntry) *idIndex {
	slices.SortFunc(entries, func(a, b idxEntry) int { return compareIDs(&a.id, &b.id) })
	return &idIndex{sorted: entries, added: map[[16]byte]loc{}}
}

// compareIDs orders IDs as bytes, compared as two big-endian words.
func compareIDs(a, b *[16]byte) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// find is slices.BinarySearchFunc over sorted with compareIDs, written
// out: the ID's words compared inline, not through a function value at
// each of the search's steps (a checkpoint finds every object it writes).
func (x *idIndex) find(id [16]byte) (int, bool) {
	hi, lo := binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])
	s := x.sorted
	i, j := 0, len(s)
	for i < j {
		h := int(uint(i+j) >> 1)
		eh := binary.BigEndian.Uint64(s[h].id[:8])
		if eh < hi || eh == hi && binary.BigEndian.Uint64(s[h].id[8:]) < lo {
			i = h + 1
		} else {
			j = h
		}
	}
	return i, i < len(s) && s[i].id == id
}

// Len is the number of live IDs; a nil index has none.
func (x *idIndex) Len() int {
	if x == nil {
		return 0
	}
	return len(x.sorted) - x.dead + len(x.added)
}

// get returns where id's last record lies.
func (x *idIndex) get(id [16]byte) (loc, bool) {
	if x == nil {
		return loc{}, false
	}
	if l, ok := x.added[id]; ok {
		return l, true
	}
	if i, ok := x.find(id); ok && x.sorted[i].l.size != 0 {
		return x.sorted[i].l, true
	}
	return loc{}, false
}

// set records where id's last record lies and returns where the one
// before lay, if any.
func (x *idIndex) set(id [16]byte, l loc) (old loc, had bool) {
	if old, had = x.added[id]; had {
		x.added[id] = l
		return old, true
	}
	if i, ok := x.find(id); ok {
		old = x.sorted[i].l
		if old.size == 0 {
			x.dead--
		}
		x.sorted[i].l = l
		return old, old.size != 0
	}
	x.added[id] = l
	if len(x.added) >= max(mergeMin, len(x.sorted)/8) {
		x.merge()
	}
	return loc{}, false
}

// delete forgets id and returns where its last record lay, if anywhere.
func (x *idIndex) delete(id [16]byte) (old loc, had bool) {
	if x == nil {
		return loc{}, false
	}
	if old, had = x.added[id]; had {
		delete(x.added, id)
		return old, true
	}
	i, ok := x.find(id)
	if !ok || x.sorted[i].l.size == 0 {
		return loc{}, false
	}
	old = x.sorted[i].l
	x.sorted[i].l = loc{}
	x.dead++
	if x.dead >= max(mergeMin, len(x.sorted)/8) {
		x.merge()
	}
	return old, true
}

// merge rebuilds the array with the added IDs and without the deleted.
func (x *idIndex) merge() {
	add := make([]idxEntry, 0, len(x.added))
	for id, l := range x.added {
		add = append(add, idxEntry{id, l})
	}
	slices.SortFunc(add, func(a, b idxEntry) int { return compareIDs(&a.id, &b.id) })
	out := make([]idxEntry, 0, x.Len())
	i, j := 0, 0
	for i < len(x.sorted) || j < len(add) {
		if j == len(add) || i < len(x.sorted) && compareIDs(&x.sorted[i].id, &add[j].id) < 0 {
			if x.sorted[i].l.size != 0 {
				out = append(out, x.sorted[i])
			}
			i++
			continue
		}
		out = append(out, add[j])
		j++
	}
	x.sorted, x.dead = out, 0
	x.added = map[[16]byte]loc{}
}

// update calls fn with every live ID's location, which fn may change.
func (x *idIndex) update(fn func(l *loc)) {
	for i := range x.sorted {
		if x.sorted[i].l.size != 0 {
			fn(&x.sorted[i].l)
		}
	}
	for id, l := range x.added {
		fn(&l)
		x.added[id] = l
	}
}

// each calls fn with every live ID's location; a nil index has none.
func (x *idIndex) each(fn func(l loc)) {
	if x == nil {
		return
	}
	for i := range x.sorted {
		if x.sorted[i].l.size != 0 {
			fn(x.sorted[i].l)
		}
	}
	for _, l := range x.added {
		fn(l)
	}
}
