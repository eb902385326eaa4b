package consistency

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/google/uuid"
)

// snapshotData is the replicated state at one applied index, as carried in
// a raft snapshot: the objects, the roots, the shape version and the
// deduplication memory, so that a replica restored from it decides every
// later entry as the others do.
type snapshotData struct {
	Index   uint64         `cbor:"1,keyasint"`
	Shape   uint64         `cbor:"2,keyasint"`
	Objects []snapObject   `cbor:"3,keyasint"`
	Roots   []snapRoot     `cbor:"4,keyasint"`
	Seen    []snapDecision `cbor:"5,keyasint"`
}

type snapObject struct {
	_       struct{} `cbor:",toarray"`
	ID      uuid.UUID
	Version uint64
	Value   []byte
}

type snapRoot struct {
	_       struct{} `cbor:",toarray"`
	Name    string
	ID      uuid.UUID
	Version uint64
}

type snapDecision struct {
	_            struct{} `cbor:",toarray"`
	TxID         uuid.UUID
	Index        uint64
	Outcome      Outcome
	ConflictID   uuid.UUID
	ConflictRoot string
	ConflictScan bool
}

// result is the decision as a Result.
func (s *snapDecision) result() Result {
	return Result{TxID: s.TxID, Index: s.Index, Outcome: s.Outcome, ConflictID: s.ConflictID, ConflictRoot: s.ConflictRoot, ConflictScan: s.ConflictScan}
}

// restore replaces the machine's state with a snapshot's.
func (m *machine) restore(data []byte, index uint64) error {
	d, err := ReadSnapshot(bytes.NewReader(data), index)
	if err != nil {
		return err
	}
	m.install(d)
	return nil
}

// restoreWith restores a snapshot whose objects, if objs is not nil, come
// separately (a checkpoint's metadata and its objects from the store).
func (m *machine) restoreWith(data []byte, index uint64, objs []Object) error {
	if objs == nil {
		return m.restore(data, index)
	}
	var d snapshotData
	if err := decMode.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("consistency: snapshot at %d does not decode: %w", index, err)
	}
	if d.Index != index {
		return fmt.Errorf("consistency: snapshot holds state at %d, raft says %d", d.Index, index)
	}
	objects, roots := newObjTree(), newRootTree()
	if objs != nil {
		slices.SortFunc(objs, func(a, b Object) int { return bytes.Compare(a.ID[:], b.ID[:]) })
		for i := range objs {
			o := &objs[i]
			if o.Version > index {
				return fmt.Errorf("consistency: object %v has version %d, after the state's index %d", o.ID, o.Version, index)
			}
			objects.Load(newObjItem(o.ID, o.Value, o.Version))
		}
	}
	for _, o := range d.Objects {
		objects.Set(newObjItem(o.ID, o.Value, o.Version))
	}
	for _, r := range d.Roots {
		roots.Set(rootItem{name: r.Name, root: &Root{Name: r.Name, ID: r.ID, Version: r.Version}})
	}
	seen := make(map[uuid.UUID]uint64, len(d.Seen))
	var dec decisionLog
	for _, s := range d.Seen {
		seen[s.TxID] = s.Index
		dec.push(s.result())
	}
	m.objects, m.roots, m.seen, m.dec = objects, roots, seen, dec
	m.index, m.shape, m.dirty = d.Index, d.Shape, true
	m.publish()
	return nil
}

// SnapshotMeta encodes the replica's state at its applied index without
// its objects: what a checkpoint keeps beside the objects it writes to the
// store. NewReplica restores it with Config.Objects.
func (r *Replica) SnapshotMeta() ([]byte, error) {
	return r.SnapshotMetaLater()()
}

// SnapshotMetaLater captures what SnapshotMeta encodes, in O(1) (the
// state and the deduplication memory's decisions are kept immutable), and
// returns a function that encodes it, from any goroutine: the replica's
// owner need not wait for the encoding of up to DefaultDedupWindow
// decisions, which is encMode's without reflection (metacodec.go).
func (r *Replica) SnapshotMetaLater() func() ([]byte, error) {
	c := r.CaptureSnapshotMeta()
	return func() ([]byte, error) { return c.AppendTo(make([]byte, 0, c.Len())), nil }
}

// MetaCapture is what SnapshotMeta encodes, captured in O(1): its
// methods encode it from any goroutine, into a buffer the caller sizes
// (a checkpoint writes it inside an encoding of its own, without a copy
// of up to DefaultDedupWindow decisions).
type MetaCapture struct {
	st  *State
	dec decisionLog
}

// CaptureSnapshotMeta captures what SnapshotMeta encodes, in O(1).
func (r *Replica) CaptureSnapshotMeta() *MetaCapture {
	return &MetaCapture{st: r.m.publish(), dec: r.m.dec.view()}
}

// Len is the length of the encoding.
func (c *MetaCapture) Len() int { return metaSize(c.st, &c.dec) }

// AppendTo appends the encoding, what SnapshotMeta returns, to b.
func (c *MetaCapture) AppendTo(b []byte) []byte { return appendMeta(b, c.st, &c.dec) }

// snapshotMeta is the snapshot of st without its objects: index, shape,
// roots and the deduplication memory, in the order decisions were made.
func (m *machine) snapshotMeta(st *State) snapshotData { return metaOf(st, &m.dec) }

// metaLater captures snapshotMeta(st) in O(1) and returns a function that
// makes it, from any goroutine: st is immutable, and so are the decisions
// in a view of m.dec (see decisionLog).
func (m *machine) metaLater(st *State) func() snapshotData {
	dec := m.dec.view()
	return func() snapshotData { return metaOf(st, &dec) }
}

// metaOf is the snapshot of st without its objects, with the decisions
// of dec.
func metaOf(st *State, dec *decisionLog) snapshotData {
	d := snapshotData{Index: st.index, Shape: st.shape}
	st.roots.Scan(func(it rootItem) bool {
		d.Roots = append(d.Roots, snapRoot{Name: it.name, ID: it.root.ID, Version: it.root.Version})
		return true
	})
	d.Seen = make([]snapDecision, 0, dec.len())
	dec.each(func(x *decision) {
		d.Seen = append(d.Seen, snapDecision{TxID: x.txID, Index: x.index, Outcome: x.outcome, ConflictID: x.conflictID, ConflictRoot: dec.rootOf(x), ConflictScan: x.scan})
	})
	return d
}

// EmptySnapshotData encodes the state of a new heap at index, for the
// snapshot a group starts from.
func EmptySnapshotData(index uint64) []byte {
	b, err := encMode.Marshal(&snapshotData{Index: index})
	if err != nil {
		panic(err) // a fixed, valid value
	}
	return b
}

// SnapshotStream captures the replica's state at its applied index and
// returns a function that writes the snapshot encoding of it to w, one
// object at a time, from any goroutine: a snapshot for a lagging peer that
// is never whole in memory and does not hold up the replica's owner.
func (r *Replica) SnapshotStream() (uint64, func(w io.Writer) error, error) {
	m := r.m
	st := m.publish()
	meta := m.metaLater(st)
	write := func(w io.Writer) error {
		rest := meta()
		return writeSnapshot(w, &rest, st.Len(), func(emit func(snapObject) error) error {
			var err error
			st.objects.Scan(func(it objItem) bool {
				err = emit(snapObject{ID: it.id, Version: it.version(), Value: it.value()})
				return err == nil
			})
			return err
		})
	}
	return st.index, write, nil
}

// writeSnapshot writes the snapshot encoding of rest with count objects
// that scan emits, one at a time, in chunks of about a megabyte.
func writeSnapshot(w io.Writer, rest *snapshotData, count int, scan func(emit func(snapObject) error) error) error {
	// The map snapshotData encodes to, written field by field.
	var b []byte
	b = append(b, 0xa5)
	b = append(b, 0x01)
	b = appendHead(b, cborUint, rest.Index)
	b = append(b, 0x02)
	b = appendHead(b, cborUint, rest.Shape)
	b = append(b, 0x03)
	b = appendHead(b, cborArray, uint64(count))
	n := 0
	err := scan(func(o snapObject) error {
		if n++; n > count {
			return fmt.Errorf("consistency: snapshot holds more than the %d objects announced", count)
		}
		ob, err := encMode.Marshal(o)
		if err != nil {
			return err
		}
		if b = append(b, ob...); len(b) >= 1<<20 {
			_, err = w.Write(b)
			b = b[:0]
		}
		return err
	})
	if err != nil {
		return err
	}
	if n != count {
		return fmt.Errorf("consistency: snapshot holds %d objects, %d announced", n, count)
	}
	roots, err := encMode.Marshal(rest.Roots)
	if err != nil {
		return err
	}
	seen, err := encMode.Marshal(rest.Seen)
	if err != nil {
		return err
	}
	b = append(b, 0x04)
	b = append(b, roots...)
	b = append(b, 0x05)
	b = append(b, seen...)
	_, err = w.Write(b)
	return err
}

// WriteSnapshot writes the snapshot encoding of a state kept in two
// parts, as a checkpoint keeps it: meta, SnapshotMeta's encoding at index,
// and the count objects scan yields (in any order). A raft snapshot streams
// from the store this way.
func WriteSnapshot(w io.Writer, meta []byte, index uint64, count int, scan func(yield func(Object) error) error) error {
	var d snapshotData
	if err := decMode.Unmarshal(meta, &d); err != nil {
		return fmt.Errorf("consistency: snapshot metadata does not decode: %w", err)
	}
	if d.Index != index {
		return fmt.Errorf("consistency: snapshot metadata holds state at %d, not %d", d.Index, index)
	}
	return writeSnapshot(w, &d, count, func(emit func(snapObject) error) error {
		return scan(func(o Object) error {
			if o.Version > index {
				return fmt.Errorf("consistency: object %v has version %d, after the state's index %d", o.ID, o.Version, index)
			}
			return emit(snapObject{ID: o.ID, Version: o.Version, Value: o.Value})
		})
	})
}
