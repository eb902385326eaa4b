package engine

import (
	"encoding/hex"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
)

// The entry's encoding is the catalog's format: catalogs written before
// the entry moved into this package read the same.
func TestEntryEncodingIsTheCatalogFormat(t *testing.T) {
	e := Entry{Name: "world", Replicas: 3, Voters: []Voter{{Name: "a", ID: 7}, {Name: "b", ID: 1 << 40}}, Group: 0xfeedface12345678}
	const golden = "a40165776f726c6402030382826161078261621b0000010000000000041bfeedface12345678"
	b, err := codec.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != golden {
		t.Fatalf("entry encodes as %s, the catalog holds %s", got, golden)
	}
	if id := EntryID("world").String(); id != "ccca2f8f-2aeb-5373-8dde-1650dafe2186" {
		t.Fatalf("the entry of %q is object %s, the catalog holds it under ccca2f8f-2aeb-5373-8dde-1650dafe2186", "world", id)
	}
}

func entryObject(t *testing.T, id uuid.UUID, v any) consistency.Object {
	t.Helper()
	b, err := codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return consistency.Object{ID: id, Value: b}
}

func TestDecodeEntry(t *testing.T) {
	e := Entry{Name: "h", Replicas: 1, Voters: []Voter{{Name: "a", ID: 1}}, Group: 9}
	grant := struct {
		Who string `cbor:"11,keyasint"`
	}{"alice"}
	for _, c := range []struct {
		name string
		obj  consistency.Object
		ok   bool
	}{
		{"an entry", entryObject(t, EntryID("h"), e), true},
		{"under another name's ID", entryObject(t, EntryID("g"), e), false},
		{"no name", entryObject(t, EntryID(""), Entry{Replicas: 1}), false},
		{"a grant", entryObject(t, EntryID("h"), grant), false},
		{"not CBOR", consistency.Object{ID: EntryID("h"), Value: []byte{0xff, 0x00}}, false},
		{"of another shape", entryObject(t, EntryID("h"), []int{1, 2}), false},
	} {
		got, ok := DecodeEntry(c.obj)
		if ok != c.ok || ok && got.Name != e.Name {
			t.Errorf("%s: decoded %+v, %v; want ok=%v", c.name, got, ok, c.ok)
		}
	}
}

// Entries reads the heap entries of a catalog state, by name, and passes
// over the objects that are none.
func TestEntries(t *testing.T) {
	c := newCluster(t, 1, nil)
	c.elect(1)
	rec := &consistency.Record{TxID: uuid.UUID{0: 0xca}}
	for _, w := range []consistency.Object{
		entryObject(t, EntryID("zeta"), Entry{Name: "zeta", Replicas: 1, Group: 2}),
		entryObject(t, EntryID("alpha"), Entry{Name: "alpha", Replicas: 3, Group: 1}),
		entryObject(t, EntryID("beta"), Entry{Name: "gamma", Replicas: 3, Group: 3}),
		{ID: uuid.UUID{0: 1}, Value: []byte("grant")},
	} {
		rec.Writes = append(rec.Writes, consistency.Write{ID: w.ID, Value: w.Value})
	}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c.node(1).e.Propose([]Proposal{{TxID: rec.TxID, Data: data}})
	c.settle()
	var names []string
	for _, e := range Entries(c.node(1).e.Replica().State()) {
		names = append(names, fmt.Sprintf("%s/%d", e.Name, e.Group))
	}
	if want := []string{"alpha/1", "zeta/2"}; !slices.Equal(names, want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
}

func TestFirstVoters(t *testing.T) {
	live := []Member{{ID: 1, Name: "a", Server: true}, {ID: 2, Name: "b", Server: true}, {ID: 3, Name: "c", Server: true},
		{ID: 4, Name: "d", Server: true}, {ID: 5, Name: "e"}, {ID: 6, Name: "f", Server: true, Leaving: true}}
	ranked := Rank("h", live)
	ids := func(vs []Voter) []uint64 {
		var out []uint64
		for _, v := range vs {
			out = append(out, v.ID)
		}
		return out
	}
	top := func(k int) []uint64 {
		var out []uint64
		for _, m := range ranked[:k] {
			out = append(out, m.ID)
		}
		return out
	}
	for _, c := range []struct {
		replicas int
		live     []Member
		want     []uint64
	}{
		{3, live, top(3)},
		{4, live, top(3)}, // an odd number
		{5, live, top(3)}, // four servers: three
		{1, live, top(1)},
		{0, live, nil},
		{3, live[4:], nil}, // a client and a leaving server: nowhere to place it
	} {
		got := FirstVoters("h", c.replicas, c.live)
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("%d replicas over %d members: voters %v, want %v", c.replicas, len(c.live), ids(got), c.want)
		}
		for _, v := range got {
			if i := slices.IndexFunc(live, func(m Member) bool { return m.ID == v.ID }); live[i].Name != v.Name {
				t.Errorf("voter %d named %q, want %q", v.ID, v.Name, live[i].Name)
			}
		}
	}
}

func TestSync(t *testing.T) {
	const self = 7
	mine := func(name string, group uint64) Entry {
		return Entry{Name: name, Replicas: 3, Group: group, Voters: []Voter{{Name: "x", ID: 1}, {Name: "me", ID: self}}}
	}
	other := func(name string, group uint64) Entry {
		return Entry{Name: name, Replicas: 1, Group: group, Voters: []Voter{{Name: "x", ID: 1}}}
	}
	rep := func(name string, group, at uint64) Replica {
		return Replica{Name: name, Group: group, Cataloged: true, CatalogAt: at}
	}
	for _, c := range []struct {
		name      string
		in        SyncInput
		close     []string
		openNames []string
	}{
		{name: "open as a first voter",
			in:        SyncInput{Index: 5, Entries: []Entry{mine("a", 1)}},
			openNames: []string{"a"}},
		{name: "not opened when no first voter",
			in: SyncInput{Index: 5, Entries: []Entry{other("a", 1)}}},
		{name: "a replica open is not opened again",
			in: SyncInput{Index: 5, Entries: []Entry{mine("a", 1)}, Open: []Replica{rep("a", 1, 3)}}},
		{name: "close dropped",
			in:    SyncInput{Index: 5, Entries: []Entry{mine("b", 2)}, Open: []Replica{rep("a", 1, 3), rep("b", 2, 3)}},
			close: []string{"a"}},
		{name: "close dropped, not a first voter",
			in:    SyncInput{Index: 5, Open: []Replica{rep("a", 1, 3)}},
			close: []string{"a"}},
		{name: "close dropped and recreated, open the new group",
			in:        SyncInput{Index: 5, Entries: []Entry{mine("a", 2)}, Open: []Replica{rep("a", 1, 3)}},
			close:     []string{"a"},
			openNames: []string{"a"}},
		{name: "close dropped and recreated elsewhere",
			in:    SyncInput{Index: 5, Entries: []Entry{other("a", 2)}, Open: []Replica{rep("a", 1, 3)}},
			close: []string{"a"}},
		{name: "keep a replica opened from a later catalog state",
			in: SyncInput{Index: 5, Entries: []Entry{mine("b", 2)}, Open: []Replica{rep("a", 1, 6)}}, openNames: []string{"b"}},
		{name: "keep one of a later group opened from a later state, and open nothing over it",
			in: SyncInput{Index: 5, Entries: []Entry{mine("a", 1)}, Open: []Replica{rep("a", 2, 6)}}},
		{name: "a replica opened at the index read is judged",
			in:    SyncInput{Index: 5, Open: []Replica{rep("a", 1, 5)}},
			close: []string{"a"}},
		{name: "no close before the recovered catalog is applied",
			in: SyncInput{Index: 5, CatalogCommit: 9, Entries: []Entry{mine("b", 2)}, Open: []Replica{rep("a", 1, 0), rep("b", 1, 0)}}},
		{name: "nor opens: a heap the node closed may still be listed",
			in: SyncInput{Index: 5, CatalogCommit: 9, Entries: []Entry{mine("c", 3)}, Open: []Replica{rep("a", 1, 0)}}},
		{name: "recovered replicas closed once the recovered catalog is applied",
			in:    SyncInput{Index: 9, CatalogCommit: 9, Entries: []Entry{mine("b", 2)}, Open: []Replica{rep("a", 1, 0), rep("b", 1, 0)}},
			close: []string{"a", "b"}, openNames: []string{"b"}},
		{name: "replicas not opened through the catalog are not Sync's",
			in: SyncInput{Index: 5, Open: []Replica{{Name: "oss:catalog", Group: 0}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.in.Self = self
			p := Sync(c.in)
			var opened []string
			for _, e := range p.Open {
				opened = append(opened, e.Name)
				if i := slices.IndexFunc(c.in.Entries, func(x Entry) bool { return x.Name == e.Name }); c.in.Entries[i].Group != e.Group {
					t.Errorf("opens %s of group %d, the entry's is %d", e.Name, e.Group, c.in.Entries[i].Group)
				}
			}
			if !slices.Equal(p.Close, c.close) || !slices.Equal(opened, c.openNames) {
				t.Fatalf("close %v, open %v; want close %v, open %v", p.Close, opened, c.close, c.openNames)
			}
		})
	}
}
