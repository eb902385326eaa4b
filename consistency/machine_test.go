package consistency

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

func id(n byte) uuid.UUID { return uuid.UUID{15: n} }

func tx(n byte) uuid.UUID { return uuid.UUID{0: 0xff, 15: n} }

func mustMarshal(t testing.TB, r *Record) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put(obj byte, v string) Write { return Write{ID: id(obj), Value: []byte(v)} }

func TestValidationRules(t *testing.T) {
	// Every case starts from a heap where entry 1 created objects 1 and 2.
	setup := &Record{TxID: tx(100), Snapshot: 0, Writes: []Write{put(1, "a"), put(2, "b")}}
	cases := []struct {
		name    string
		before  []*Record // applied at indexes 2, 3, ...
		rec     *Record   // applied last
		want    Outcome
		dup     bool
		conflID uuid.UUID
		root    string
		scan    bool
	}{
		{
			name: "read unchanged commits",
			rec:  &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(1), Version: 1}}, Writes: []Write{put(1, "x")}},
			want: Committed,
		},
		{
			name:    "read of a changed object conflicts",
			before:  []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{put(1, "c")}}},
			rec:     &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(1), Version: 1}}, Writes: []Write{put(2, "x")}},
			want:    Conflicted,
			conflID: id(1),
		},
		{
			name:    "read of a deleted object conflicts",
			before:  []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{{ID: id(1), Delete: true}}}},
			rec:     &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(1), Version: 1}}, Writes: []Write{put(2, "x")}},
			want:    Conflicted,
			conflID: id(1),
		},
		{
			name:    "read of an absent object later created conflicts",
			before:  []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{put(3, "new")}}},
			rec:     &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(3), Version: 0}}, Writes: []Write{put(2, "x")}},
			want:    Conflicted,
			conflID: id(3),
		},
		{
			name: "read of an absent object still absent commits",
			rec:  &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(3), Version: 0}}, Writes: []Write{put(3, "x")}},
			want: Committed,
		},
		{
			name:   "blind write commits over a concurrent write",
			before: []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{put(1, "c")}}},
			rec:    &Record{TxID: tx(1), Snapshot: 1, Writes: []Write{put(1, "x")}},
			want:   Committed,
		},
		{
			name:   "read of an unrelated object is not disturbed",
			before: []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{put(2, "c")}}},
			rec:    &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(1), Version: 1}}, Writes: []Write{put(1, "x")}},
			want:   Committed,
		},
		{
			name:   "duplicate of a committed record is applied once",
			before: []*Record{{TxID: tx(1), Snapshot: 1, Writes: []Write{put(1, "x")}}},
			rec:    &Record{TxID: tx(1), Snapshot: 1, Writes: []Write{put(1, "x")}},
			want:   Committed,
			dup:    true,
		},
		{
			name: "duplicate of a conflicted record stays conflicted after the read becomes current again",
			before: []*Record{
				{TxID: tx(2), Snapshot: 1, Writes: []Write{put(3, "new")}},
				{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(3), Version: 0}}, Writes: []Write{put(1, "x")}},
				{TxID: tx(3), Snapshot: 3, Writes: []Write{{ID: id(3), Delete: true}}},
			},
			rec:     &Record{TxID: tx(1), Snapshot: 1, Reads: []Read{{ID: id(3), Version: 0}}, Writes: []Write{put(1, "x")}},
			want:    Conflicted,
			dup:     true,
			conflID: id(3),
		},
		{
			name:   "root read conflicts with a root change",
			before: []*Record{{TxID: tx(2), Snapshot: 1, RootWrites: []RootWrite{{Name: "world", ID: id(1)}}}},
			rec:    &Record{TxID: tx(1), Snapshot: 1, RootReads: []RootRead{{Name: "world"}}, RootWrites: []RootWrite{{Name: "world", ID: id(2)}}},
			want:   Conflicted,
			root:   "world",
		},
		{
			name:   "scan conflicts with a creation",
			before: []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{put(9, "new")}}},
			rec:    &Record{TxID: tx(1), Snapshot: 1, Scanned: true, Writes: []Write{put(1, "count=2")}},
			want:   Conflicted,
			scan:   true,
		},
		{
			name:   "scan conflicts with a deletion",
			before: []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{{ID: id(2), Delete: true}}}},
			rec:    &Record{TxID: tx(1), Snapshot: 1, Scanned: true, Writes: []Write{put(1, "count=2")}},
			want:   Conflicted,
			scan:   true,
		},
		{
			name:   "scan is not disturbed by an update in place",
			before: []*Record{{TxID: tx(2), Snapshot: 1, Writes: []Write{put(2, "c")}}},
			rec:    &Record{TxID: tx(1), Snapshot: 1, Scanned: true, Writes: []Write{put(1, "count=2")}},
			want:   Committed,
		},
		{
			name: "record claiming a snapshot at or after its own index is malformed",
			rec:  &Record{TxID: tx(1), Snapshot: 2, Writes: []Write{put(1, "x")}},
			want: Malformed,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMachine(0)
			if res, _ := m.apply(1, mustMarshal(t, setup)); res.Outcome != Committed {
				t.Fatalf("setup: %v", res.Outcome)
			}
			idx := uint64(1)
			for _, r := range c.before {
				idx++
				m.apply(idx, mustMarshal(t, r))
			}
			before := m.publish()
			idx++
			res, cs := m.apply(idx, mustMarshal(t, c.rec))
			after := m.publish()
			if res.Outcome != c.want || res.Duplicate != c.dup {
				t.Fatalf("outcome %v duplicate %v, want %v duplicate %v", res.Outcome, res.Duplicate, c.want, c.dup)
			}
			if res.ConflictID != c.conflID || res.ConflictRoot != c.root || res.ConflictScan != c.scan {
				t.Fatalf("conflict on %v root %q scan %v, want %v %q %v", res.ConflictID, res.ConflictRoot, res.ConflictScan, c.conflID, c.root, c.scan)
			}
			if c.want != Committed || c.dup {
				if cs != nil {
					t.Fatalf("change set for an uncommitted record: %+v", cs)
				}
				if dump(before) != dump(after) {
					t.Fatalf("state changed:\n%s\n%s", dump(before), dump(after))
				}
				return
			}
			for _, w := range c.rec.Writes {
				o, ok := after.Get(w.ID)
				if !ok || string(o.Value) != string(w.Value) || o.Version != idx {
					t.Fatalf("object %v = %+v, want %q at %d", w.ID, o, w.Value, idx)
				}
			}
			if cs == nil || cs.Index != idx || len(cs.Objects) != len(c.rec.Writes) {
				t.Fatalf("change set %+v", cs)
			}
		})
	}
}

func TestMalformedEntryIsRejected(t *testing.T) {
	m := newMachine(0)
	for i, data := range [][]byte{nil, {0xff}, {0xa0}, []byte("not cbor at all")} {
		res, cs := m.apply(uint64(i+1), data)
		if res.Outcome != Malformed || cs != nil {
			t.Fatalf("entry %x: %v", data, res.Outcome)
		}
	}
	if m.publish().Len() != 0 {
		t.Fatal("malformed entries changed the state")
	}
}

func TestStaleRecordIsNotApplied(t *testing.T) {
	m := newMachine(4)
	res, _ := m.apply(10, mustMarshal(t, &Record{TxID: tx(1), Snapshot: 5, Writes: []Write{put(1, "x")}}))
	if res.Outcome != Stale {
		t.Fatalf("outcome %v, want stale", res.Outcome)
	}
	if _, ok := m.publish().Get(id(1)); ok {
		t.Fatal("stale record was applied")
	}
}

func TestDedupWindowPrunes(t *testing.T) {
	m := newMachine(8)
	for i := uint64(1); i <= 100; i++ {
		m.apply(i, mustMarshal(t, &Record{TxID: uuid.UUID{0: byte(i)}, Snapshot: i - 1, Writes: []Write{put(1, "x")}}))
	}
	if len(m.seen) > 9 || m.dec.len() != len(m.seen) {
		t.Fatalf("remembering %d transactions (%d in order) with a window of 8", len(m.seen), m.dec.len())
	}
}

// dump renders a state for comparison.
func dump(s *State) string {
	out := fmt.Sprintf("shape=%d\n", s.ShapeVersion())
	s.Ascend(uuid.Nil, func(o Object) bool {
		out += fmt.Sprintf("%v=%q@%d\n", o.ID, o.Value, o.Version)
		return true
	})
	s.Roots(func(r Root) bool {
		out += fmt.Sprintf("root %s=%v@%d\n", r.Name, r.ID, r.Version)
		return true
	})
	return out
}

// A state gives back each object's value as written, nil and empty apart,
// and an append to a value it gave never changes the object. Neither the
// state nor the change set shares the entry's memory (apply decodes the
// values in place), so the entry's buffer may be reused.
func TestStateKeepsValuesApart(t *testing.T) {
	m := newMachine(0)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	rec := Record{TxID: uuid.New(), Writes: []Write{{ID: a, Value: []byte("abc")}, {ID: b, Value: []byte{}}, {ID: c}}}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	res, cs := m.apply(1, data)
	if res.Outcome != Committed {
		t.Fatalf("outcome %v", res.Outcome)
	}
	for i := range data {
		data[i] = 'z'
	}
	if v := cs.Objects[0].Value; string(v) != "abc" {
		t.Errorf("the change set's value of a = %q after the entry was overwritten", v)
	}
	st := m.publish()
	oa, _ := st.Get(a)
	_ = append(oa.Value, 'x')
	if oa, _ := st.Get(a); string(oa.Value) != "abc" || oa.Version != 1 {
		t.Errorf("a = %q at %d, want \"abc\" at 1", oa.Value, oa.Version)
	}
	if ob, ok := st.Get(b); !ok || ob.Value == nil || len(ob.Value) != 0 {
		t.Errorf("b = %#v, %v; want an empty value", ob.Value, ok)
	}
	if oc, ok := st.Get(c); !ok || oc.Value != nil {
		t.Errorf("c = %#v, %v; want a nil value", oc.Value, ok)
	}
}
