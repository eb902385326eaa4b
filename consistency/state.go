package consistency

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"strings"
	"unsafe"

	"github.com/google/uuid"
)

// Object is one object of a heap as a State holds it.
type Object struct {
	ID uuid.UUID
	// Value is the object's CBOR encoded value. It is shared with the State
	// and every later State that still holds this version: never modify it.
	Value []byte
	// Version is the index of the log entry that last wrote the object.
	Version uint64
}

// Root is a named root: a name bound to an object ID.
type Root struct {
	Name string
	ID   uuid.UUID
	// Version is the index of the log entry that last set the root.
	Version uint64
}

// objItem is an object in the tree: its ID and, in one allocation of its
// own, its version (8 bytes, little-endian), the length of its value (4
// bytes, nilValue for a nil value) and the value. That is the least the
// Go heap holds an object in: a tree item of 24 bytes and the value's
// allocation 12 bytes longer, where a struct of version and value slice
// took 32 bytes more.
type objItem struct {
	id  uuid.UUID
	rec *byte
}

const (
	objHead  = 12
	nilValue = math.MaxUint32
)

// newObjItem copies value into the item's allocation.
func newObjItem(id uuid.UUID, value []byte, version uint64) objItem {
	n := uint32(len(value))
	if value == nil {
		n = nilValue
	}
	b := make([]byte, objHead+len(value))
	binary.LittleEndian.PutUint64(b, version)
	binary.LittleEndian.PutUint32(b[8:], n)
	copy(b[objHead:], value)
	return objItem{id: id, rec: &b[0]}
}

func (it objItem) version() uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(it.rec, objHead))
}

// value is the item's value, capped at its length so that an append
// never writes into the allocation.
func (it objItem) value() []byte {
	n := binary.LittleEndian.Uint32(unsafe.Slice(it.rec, objHead)[8:])
	if n == nilValue {
		return nil
	}
	end := objHead + int(n)
	return unsafe.Slice(it.rec, end)[objHead:end:end]
}

func (it objItem) object() Object {
	return Object{ID: it.id, Value: it.value(), Version: it.version()}
}

type rootItem struct {
	name string
	root *Root
}

// cmpObj orders IDs as bytes, compared as two big-endian words.
func cmpObj(a, b objItem) int {
	ah, bh := binary.BigEndian.Uint64(a.id[:8]), binary.BigEndian.Uint64(b.id[:8])
	if ah != bh {
		return cmp.Compare(ah, bh)
	}
	return cmp.Compare(binary.BigEndian.Uint64(a.id[8:]), binary.BigEndian.Uint64(b.id[8:]))
}
func cmpRoot(a, b rootItem) int { return strings.Compare(a.name, b.name) }

// searchObj is the tree's search with cmpObj inlined: every commit
// looks up what it reads (Tx.read), what it read (validation) and what it
// writes, and the generic search would call cmp through a function value
// about 17 times a lookup in 100,000 objects.
func searchObj(items []objItem, key objItem) (int, bool) {
	hi, lo := binary.BigEndian.Uint64(key.id[:8]), binary.BigEndian.Uint64(key.id[8:])
	i, j := 0, len(items)
	for i < j {
		h := int(uint(i+j) >> 1)
		ih := binary.BigEndian.Uint64(items[h].id[:8])
		if ih == hi {
			il := binary.BigEndian.Uint64(items[h].id[8:])
			if il == lo {
				return h, true
			}
			if il < lo {
				i = h + 1
			} else {
				j = h
			}
		} else if ih < hi {
			i = h + 1
		} else {
			j = h
		}
	}
	return i, false
}

// getObj is t.Get(objItem{id: id}) calling searchObj directly, not
// through t.find: the lookups of commits and checkpoints are the tree's
// most frequent operation.
func getObj(t *btree[objItem], id uuid.UUID) (objItem, bool) {
	key := objItem{id: id}
	for n := t.root; n != nil; {
		i, found := searchObj(n.items, key)
		if found {
			return n.items[i], true
		}
		if n.children == nil {
			break
		}
		n = n.children[i]
	}
	return objItem{}, false
}

func newObjTree() *btree[objItem] {
	t := newBTree(cmpObj)
	t.find = searchObj
	return t
}

func newRootTree() *btree[rootItem] { return newBTree(cmpRoot) }

// A State is an immutable snapshot of a heap replica at one applied index.
// Taking one costs O(1): it shares structure with the replica's live state,
// which copies a tree node before its first change after the State was taken.
// A State is safe for concurrent use by any number of goroutines.
type State struct {
	index   uint64
	shape   uint64
	objects *btree[objItem]
	roots   *btree[rootItem]
}

// Index is the applied log index this State reflects.
func (s *State) Index() uint64 { return s.index }

// ShapeVersion is the index of the last entry that created or deleted an
// object: a scan taken at Index is still valid while this is unchanged.
func (s *State) ShapeVersion() uint64 { return s.shape }

// Len is the number of objects.
func (s *State) Len() int { return s.objects.Len() }

// Get returns the object with the given ID.
func (s *State) Get(id uuid.UUID) (Object, bool) {
	it, ok := getObj(s.objects, id)
	if !ok {
		return Object{}, false
	}
	return it.object(), true
}

// Version returns the object's version, 0 if it is absent.
func (s *State) Version(id uuid.UUID) uint64 {
	it, ok := getObj(s.objects, id)
	if !ok {
		return 0
	}
	return it.version()
}

// Root returns the named root.
func (s *State) Root(name string) (Root, bool) {
	it, ok := s.roots.Get(rootItem{name: name})
	if !ok {
		return Root{}, false
	}
	return *it.root, true
}

// RootVersion returns the root's version, 0 if it is absent.
func (s *State) RootVersion(name string) uint64 {
	it, ok := s.roots.Get(rootItem{name: name})
	if !ok {
		return 0
	}
	return it.root.Version
}

// Ascend calls fn for every object with an ID at or after from, in ID order,
// until fn returns false.
func (s *State) Ascend(from uuid.UUID, fn func(Object) bool) {
	s.objects.Ascend(objItem{id: from}, func(it objItem) bool { return fn(it.object()) })
}

// Roots calls fn for every named root in name order until fn returns false.
func (s *State) Roots(fn func(Root) bool) {
	s.roots.Scan(func(it rootItem) bool { return fn(*it.root) })
}

// Digest is a SHA-256 over the objects and roots, in order, with their
// versions: two replicas at the same index hold the same state exactly when
// their digests match.
func (s *State) Digest() [32]byte {
	h := sha256.New()
	var buf [8]byte
	putU64 := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	s.objects.Scan(func(it objItem) bool {
		h.Write(it.id[:])
		v := it.value()
		putU64(it.version())
		putU64(uint64(len(v)))
		h.Write(v)
		return true
	})
	h.Write([]byte{0xff})
	s.roots.Scan(func(it rootItem) bool {
		putU64(uint64(len(it.name)))
		h.Write([]byte(it.name))
		h.Write(it.root.ID[:])
		putU64(it.root.Version)
		return true
	})
	var d [32]byte
	h.Sum(d[:0])
	return d
}
