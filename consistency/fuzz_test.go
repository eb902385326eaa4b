package consistency

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// fuzzWindow is the deduplication window of the machines the apply
// targets build: small, so that stale records are easy to reach.
const fuzzWindow = 4

// fuzzIndex is the log index at which FuzzApply applies its entry.
const fuzzIndex = 10

// preparedMachine returns a machine at index fuzzIndex-1 that applied a
// few records at indexes 6 to 9: objects 1 to 3 (versions 6, 7, 8), roots
// "a" and "b" (versions 6, 7), a shape version of 8, and transactions tx(1)
// to tx(4) decided (the last one conflicted), all within the window.
func preparedMachine(t testing.TB) *machine {
	m := newMachine(fuzzWindow)
	m.skip(5)
	for i, r := range []*Record{
		{TxID: tx(1), Snapshot: 5, Writes: []Write{put(1, "one"), put(2, "two")}, RootWrites: []RootWrite{{Name: "a", ID: id(1)}}},
		{TxID: tx(2), Snapshot: 6, Writes: []Write{put(2, "two'")}, RootWrites: []RootWrite{{Name: "b", ID: id(2)}}},
		{TxID: tx(3), Snapshot: 7, Writes: []Write{put(3, "three")}},
		{TxID: tx(4), Snapshot: 6, Reads: []Read{{ID: id(2), Version: 6}}, Writes: []Write{put(1, "lost")}},
	} {
		m.apply(uint64(6+i), mustMarshal(t, r))
	}
	return m
}

// stateModel is a State as plain maps, to predict what a commit does.
type stateModel struct {
	objs  map[uuid.UUID]Object
	roots map[string]Root
	shape uint64
}

func modelOf(s *State) *stateModel {
	md := &stateModel{objs: map[uuid.UUID]Object{}, roots: map[string]Root{}, shape: s.ShapeVersion()}
	s.Ascend(uuid.Nil, func(o Object) bool { md.objs[o.ID] = o; return true })
	s.Roots(func(r Root) bool { md.roots[r.Name] = r; return true })
	return md
}

// dump renders the model as dump renders a State.
func (md *stateModel) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shape=%d\n", md.shape)
	ids := slices.SortedFunc(maps.Keys(md.objs), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		o := md.objs[id]
		fmt.Fprintf(&b, "%v=%q@%d\n", o.ID, o.Value, o.Version)
	}
	for _, name := range slices.Sorted(maps.Keys(md.roots)) {
		r := md.roots[name]
		fmt.Fprintf(&b, "root %s=%v@%d\n", r.Name, r.ID, r.Version)
	}
	return b.String()
}

// decide predicts the outcome of rec applied at index on the model, and
// applies it if it commits.
func (md *stateModel) decide(rec *Record, index uint64) Outcome {
	for _, r := range rec.Reads {
		if md.objs[r.ID].Version != r.Version {
			return Conflicted
		}
	}
	for _, r := range rec.RootReads {
		if md.roots[r.Name].Version != r.Version {
			return Conflicted
		}
	}
	if rec.Scanned && md.shape > rec.Snapshot {
		return Conflicted
	}
	for _, w := range rec.Writes {
		_, had := md.objs[w.ID]
		if w.Delete {
			delete(md.objs, w.ID)
			if had {
				md.shape = index
			}
			continue
		}
		md.objs[w.ID] = Object{ID: w.ID, Value: w.Value, Version: index}
		if !had {
			md.shape = index
		}
	}
	for _, w := range rec.RootWrites {
		if w.Delete {
			delete(md.roots, w.Name)
			continue
		}
		md.roots[w.Name] = Root{Name: w.Name, ID: w.ID, Version: index}
	}
	return Committed
}

// FuzzApply applies an arbitrary committed entry to a replica's machine
// that already holds objects, roots and decided transactions. An entry
// that does not decode, or reads a snapshot at or after its own index, is
// Malformed; one too old for the deduplication window is Stale; a copy of
// a decided transaction is a Duplicate; none of these changes anything.
// Otherwise the outcome and the new state are the ones the validation
// rules predict, the change set lists the writes, a second copy is a
// duplicate that changes nothing, and the state survives a snapshot round
// trip with its decisions.
func FuzzApply(f *testing.F) {
	for _, r := range []*Record{
		{TxID: tx(10), Snapshot: 9, Reads: []Read{{ID: id(1), Version: 6}}, Writes: []Write{put(1, "x"), {ID: id(3), Delete: true}}, RootWrites: []RootWrite{{Name: "c", ID: id(1)}, {Name: "a", Delete: true}}},
		{TxID: tx(11), Snapshot: 9, Reads: []Read{{ID: id(2), Version: 6}}, Writes: []Write{put(2, "conflict")}},
		{TxID: tx(12), Snapshot: 9, RootReads: []RootRead{{Name: "b", Version: 7}, {Name: "none"}}, Writes: []Write{put(9, "new"), put(9, "twice")}},
		{TxID: tx(13), Snapshot: 7, Scanned: true, Writes: []Write{put(4, "phantom")}},
		{TxID: tx(14), Snapshot: 8, Scanned: true, Writes: []Write{put(1, "no phantom"), {ID: id(8), Delete: true}}},
		{TxID: tx(15), Snapshot: 1, Writes: []Write{put(5, "stale")}},
		{TxID: tx(16), Snapshot: 10, Writes: []Write{put(5, "from the future")}},
		{TxID: tx(2), Snapshot: 8, Writes: []Write{put(5, "a resend")}},
		{TxID: tx(4), Snapshot: 8, Writes: []Write{put(5, "a resend of a conflict")}},
		{TxID: tx(17), Snapshot: 9, Writes: []Write{put(6, ""), {ID: id(6), Delete: true}}, RootWrites: []RootWrite{{Name: "", ID: uuid.Nil}}},
	} {
		f.Add(mustMarshal(f, r))
	}
	f.Add([]byte{0xa0})
	f.Add([]byte{0xa1, 0x01, 0x50})
	f.Add([]byte(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := preparedMachine(t)
		prior := m.publish()
		before := dump(prior)
		md := modelOf(prior)
		seen := map[uuid.UUID]Result{}
		for _, r := range m.dec.results() {
			seen[r.TxID] = r
		}
		rec, derr := UnmarshalRecord(data)
		res, cs := m.apply(fuzzIndex, data)

		var want Outcome
		dup := false
		switch {
		case derr != nil:
			want = Malformed
		case seen[rec.TxID].Outcome != 0:
			want, dup = seen[rec.TxID].Outcome, true
		case rec.Snapshot >= fuzzIndex:
			want = Malformed
		case rec.Snapshot+fuzzWindow < fuzzIndex:
			want = Stale
		default:
			want = md.decide(rec, fuzzIndex)
		}
		if res.Outcome != want || res.Duplicate != dup {
			t.Fatalf("decided %v (duplicate %v), want %v (duplicate %v)", res.Outcome, res.Duplicate, want, dup)
		}
		if derr != nil && res.TxID != uuid.Nil {
			t.Fatalf("a record that does not decode is reported for transaction %v", res.TxID)
		}
		after := dump(m.publish())
		if want != Committed || dup {
			if cs != nil || after != before {
				t.Fatalf("%v entry changed the state (change set %+v):\n%s\nwas\n%s", want, cs, after, before)
			}
			return
		}
		if got := md.dump(); after != got {
			t.Fatalf("committed state:\n%s\nwant\n%s", after, got)
		}
		if cs == nil || cs.Index != fuzzIndex || cs.TxID != rec.TxID || len(cs.Objects) != len(rec.Writes) || len(cs.Roots) != len(rec.RootWrites) {
			t.Fatalf("change set %+v for %+v", cs, rec)
		}
		for i, w := range rec.Writes {
			value := w.Value
			if w.Delete {
				value = nil // a deletion's value is not kept
			}
			if c := cs.Objects[i]; c.ID != w.ID || c.Deleted != w.Delete || c.Version != fuzzIndex || !bytes.Equal(c.Value, value) {
				t.Fatalf("change %d is %+v for write %+v", i, c, w)
			}
		}

		// The state and its decisions survive a snapshot.
		snap, err := (&Replica{m: m}).SnapshotData()
		if err != nil {
			t.Fatalf("snapshot of the state: %v", err)
		}
		back := newMachine(fuzzWindow)
		if err := back.restore(snap, fuzzIndex); err != nil {
			t.Fatalf("the state's own snapshot does not restore: %v", err)
		}
		if got := dump(back.publish()); got != after || !reflect.DeepEqual(back.seen, m.seen) || !slices.Equal(back.dec.results(), m.dec.results()) {
			t.Fatalf("restored state:\n%s\nwant\n%s", got, after)
		}

		// A second copy is a duplicate, here and in the restored replica.
		for _, mm := range []*machine{m, back} {
			again, cs := mm.apply(fuzzIndex+1, data)
			if !again.Duplicate || again.Outcome != res.Outcome || again.Index != res.Index || cs != nil || dump(mm.publish()) != after {
				t.Fatalf("second copy decided %+v (change set %+v), first %+v", again, cs, res)
			}
		}
	})
}

// FuzzSnapshotMeta: a checkpoint's metadata comes from disk beside its
// objects. Restoring a replica from it (NewReplica with State and Objects)
// and streaming a snapshot of it to a peer (WriteSnapshot) accept and
// refuse the same metadata; what they accept, the peer restores to the
// state the restarted replica holds. A refused restore leaves the machine
// as it was.
func FuzzSnapshotMeta(f *testing.F) {
	m := preparedMachine(f)
	meta, err := (&Replica{m: m}).SnapshotMeta()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(meta, uint64(fuzzIndex-1), uint8(3), []byte{1, 2, 3})
	f.Add(meta, uint64(fuzzIndex-1), uint8(4), []byte{9, 9, 9, 9, 9})
	f.Add(EmptySnapshotData(7), uint64(7), uint8(0), []byte(nil))
	f.Add(EmptySnapshotData(7), uint64(7), uint8(2), []byte{200, 8})
	full, _ := (&Replica{m: m}).SnapshotData()
	f.Add(full, uint64(fuzzIndex-1), uint8(1), []byte{0})
	f.Add([]byte{0xa1, 0x01, 0x07}, uint64(7), uint8(1), []byte{3})
	f.Fuzz(func(t *testing.T, meta []byte, index uint64, n uint8, versions []byte) {
		n %= 8
		objs := make([]Object, n)
		for i := range objs {
			v := uint64(i + 1)
			if i < len(versions) {
				v = uint64(versions[i])
			}
			objs[i] = Object{ID: uuid.UUID{0: byte(i * 37), 15: byte(i)}, Version: v, Value: fmt.Appendf(nil, "object %d", i)}
		}

		restarted := preparedMachine(t)
		before := dump(restarted.publish())
		rerr := restarted.restoreWith(meta, index, slices.Clone(objs))
		if rerr != nil && dump(restarted.publish()) != before {
			t.Fatalf("a refused restore changed the state: %v", rerr)
		}
		var buf bytes.Buffer
		werr := WriteSnapshot(&buf, meta, index, len(objs), func(yield func(Object) error) error {
			for _, o := range objs {
				if err := yield(o); err != nil {
					return err
				}
			}
			return nil
		})
		if (rerr == nil) != (werr == nil) {
			t.Fatalf("restore says %v, the snapshot stream %v", rerr, werr)
		}
		if rerr != nil {
			return
		}
		peer := newMachine(fuzzWindow)
		if err := peer.restore(buf.Bytes(), index); err != nil {
			t.Fatalf("the streamed snapshot does not restore: %v", err)
		}
		var d snapshotData
		if err := decMode.Unmarshal(meta, &d); err != nil {
			t.Fatalf("metadata restored but does not decode: %v", err)
		}
		if len(d.Objects) > 0 {
			return // a checkpoint's metadata carries no objects; the stream takes them from the store only
		}
		if got, want := dump(peer.publish()), dump(restarted.publish()); got != want || !reflect.DeepEqual(peer.seen, restarted.seen) || peer.index != restarted.index {
			t.Fatalf("the peer holds\n%s\nthe restarted replica\n%s", got, want)
		}
	})
}
