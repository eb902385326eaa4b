package persist

import (
	"bytes"
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
	slices.SortFunc(entries, func(a, b idxEntry) int { return bytes.Compare(a.id[:], b.id[:]) })
	return &idIndex{sorted: entries, added: map[[16]byte]loc{}}
}

func (x *idIndex) find(id [16]byte) (int, bool) {
	return slices.BinarySearchFunc(x.sorted, id, func(e idxEntry, id [16]byte) int { return bytes.Compare(e.id[:], id[:]) })
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

// set records where id's last record lies.
func (x *idIndex) set(id [16]byte, l loc) {
	if i, ok := x.find(id); ok {
		if x.sorted[i].l.size == 0 {
			x.dead--
		}
		x.sorted[i].l = l
		return
	}
	x.added[id] = l
	if len(x.added) >= max(mergeMin, len(x.sorted)/8) {
		x.merge()
	}
}

// delete forgets id.
func (x *idIndex) delete(id [16]byte) {
	if _, ok := x.added[id]; ok {
		delete(x.added, id)
		return
	}
	if i, ok := x.find(id); ok && x.sorted[i].l.size != 0 {
		x.sorted[i].l = loc{}
		x.dead++
		if x.dead >= max(mergeMin, len(x.sorted)/8) {
			x.merge()
		}
	}
}

// merge rebuilds the array with the added IDs and without the deleted.
func (x *idIndex) merge() {
	add := make([]idxEntry, 0, len(x.added))
	for id, l := range x.added {
		add = append(add, idxEntry{id, l})
	}
	slices.SortFunc(add, func(a, b idxEntry) int { return bytes.Compare(a.id[:], b.id[:]) })
	out := make([]idxEntry, 0, x.Len())
	i, j := 0, 0
	for i < len(x.sorted) || j < len(add) {
		if j == len(add) || i < len(x.sorted) && bytes.Compare(x.sorted[i].id[:], add[j].id[:]) < 0 {
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
