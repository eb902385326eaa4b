package consistency

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

func TestLaggingReplicaCatchesUpFromSnapshot(t *testing.T) {
	c := newSimCluster(t, 7, 3)
	c.isolated = map[uint64]bool{3: true}
	leader := c.nodes[1]
	var last []byte
	var lastID uuid.UUID
	for i := range 200 {
		rec := &Record{TxID: uuid.UUID{0: 1, 14: byte(i >> 8), 15: byte(i)}, Snapshot: leader.r.State().Index(), Writes: []Write{put(byte(1+i%5), fmt.Sprint(i))}}
		if i%3 == 0 {
			rec.RootWrites = []RootWrite{{Name: fmt.Sprint("r", i%4), ID: id(byte(i % 5))}}
		}
		if i%7 == 0 {
			rec.Writes = append(rec.Writes, Write{ID: id(byte(1 + i%5)), Delete: true})
		}
		data := mustMarshal(t, rec)
		last, lastID = data, rec.TxID
		if err := leader.r.Propose(data); err != nil {
			t.Fatal(err)
		}
		c.settle()
	}
	// The leader compacts its log: node 3 can only catch up from a snapshot.
	applied := leader.r.State().Index()
	snap, err := leader.r.SnapshotData()
	if err != nil {
		t.Fatal(err)
	}
	cs := leader.r.ConfState()
	if _, err := leader.storage.CreateSnapshot(applied, &cs, snap); err != nil {
		t.Fatal(err)
	}
	if err := leader.storage.Compact(applied); err != nil {
		t.Fatal(err)
	}
	c.isolated = nil
	for range 5 {
		leader.r.Tick()
		c.settle()
	}
	want := dump(leader.r.State())
	if got := dump(c.nodes[3].r.State()); got != want || c.nodes[3].r.State().Index() < applied {
		t.Fatalf("replica 3 after the snapshot:\n%s\nleader:\n%s", got, want)
	}
	// The restored replica remembers decided transactions: a resent record
	// is a duplicate everywhere and changes nothing.
	if err := leader.r.Propose(last); err != nil {
		t.Fatal(err)
	}
	c.settle()
	leader.r.Tick()
	c.settle()
	for id, n := range c.nodes {
		if got := dump(n.r.State()); got != want {
			t.Fatalf("replica %d applied a resent record:\n%s\nwant\n%s", id, got, want)
		}
	}
	if r := c.results[lastID]; !r.Duplicate {
		t.Fatalf("resent record decided %+v, want a duplicate", r)
	}
}

func TestCorruptSnapshotIsReported(t *testing.T) {
	m := newMachine(0)
	if err := m.restore([]byte{0xff, 0x00}, 5); err == nil {
		t.Fatal("a corrupt snapshot was restored")
	}
	good := newMachine(0)
	good.apply(1, mustMarshal(t, &Record{TxID: tx(1), Writes: []Write{put(1, "x")}}))
	r := &Replica{m: good}
	data, err := r.SnapshotData()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.restore(data, 2); err == nil {
		t.Fatal("a snapshot for another index was restored")
	}
	if err := m.restore(data, 1); err != nil || dump(m.publish()) != dump(good.publish()) {
		t.Fatalf("restore: %v", err)
	}
}

// FuzzRestore: a snapshot arrives from a peer; no bytes may crash the
// replica, and a failed restore leaves the state as it was. A restored
// state encodes again, whole or streamed, to a snapshot that restores to
// the same state and decisions.
func FuzzRestore(f *testing.F) {
	m := newMachine(0)
	m.apply(1, mustMarshal(f, &Record{TxID: tx(1), Writes: []Write{put(1, "x")}, RootWrites: []RootWrite{{Name: "r", ID: id(1)}}}))
	data, _ := (&Replica{m: m}).SnapshotData()
	f.Add(data)
	f.Add([]byte{0xa0})
	f.Add(EmptySnapshotData(1))
	m.apply(2, mustMarshal(f, &Record{TxID: tx(2), Snapshot: 1, Reads: []Read{{ID: id(1)}}, Writes: []Write{put(2, "y")}}))
	m.apply(3, mustMarshal(f, &Record{TxID: tx(3), Snapshot: 2, Writes: []Write{{ID: id(1), Delete: true}}, RootWrites: []RootWrite{{Name: "s", ID: id(2)}}}))
	m.skip(1) // the index the target restores at
	data, _ = (&Replica{m: m}).SnapshotData()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newMachine(0)
		m.apply(1, mustMarshal(t, &Record{TxID: tx(9), Writes: []Write{put(2, "keep")}}))
		before := dump(m.publish())
		if err := m.restore(data, 1); err != nil {
			if dump(m.publish()) != before {
				t.Fatal("a failed restore changed the state")
			}
			return
		}
		want := dump(m.publish())
		r := &Replica{m: m}
		whole, err := r.SnapshotData()
		if err != nil {
			t.Fatalf("a restored state does not encode: %v", err)
		}
		index, write, err := r.SnapshotStream()
		var streamed bytes.Buffer
		if err == nil {
			err = write(&streamed)
		}
		if err != nil || index != 1 || !bytes.Equal(streamed.Bytes(), whole) {
			t.Fatalf("streamed snapshot at %d (%v) differs from the whole one", index, err)
		}
		back := newMachine(0)
		if err := back.restore(whole, 1); err != nil {
			t.Fatalf("a restored state's snapshot does not restore: %v", err)
		}
		if got := dump(back.publish()); got != want || len(back.seen) != len(m.seen) || back.dec.len() != m.dec.len() {
			t.Fatalf("restored again:\n%s\nwant\n%s", got, want)
		}
		for txid, res := range m.seen {
			if back.seen[txid] != res {
				t.Fatalf("decision on %v: %+v, want %+v", txid, back.seen[txid], res)
			}
		}
	})
}

// A replica restored from SnapshotMeta and its objects, as a checkpoint in
// the striped store keeps them, holds the same state as one restored from
// SnapshotData, and remembers the same decisions.
func TestRestoreFromMetaAndObjects(t *testing.T) {
	c := newSimCluster(t, 9, 1)
	r := c.nodes[1].r
	for i := range 50 {
		rec := &Record{TxID: uuid.UUID{0: 2, 15: byte(i)}, Snapshot: r.State().Index(), Writes: []Write{put(byte(1+i%7), fmt.Sprint(i))},
			RootWrites: []RootWrite{{Name: fmt.Sprint("r", i%3), ID: id(byte(1 + i%7))}}}
		if err := r.Propose(mustMarshal(t, rec)); err != nil {
			t.Fatal(err)
		}
		c.settle()
	}
	applied := r.State().Index()
	full, _ := r.SnapshotData()
	meta, err := r.SnapshotMeta()
	if err != nil {
		t.Fatal(err)
	}
	var objs []Object
	r.State().Ascend(uuid.Nil, func(o Object) bool { objs = append(objs, o); return true })
	objs[0], objs[len(objs)-1] = objs[len(objs)-1], objs[0] // any order will do
	storage := func() *raft.MemoryStorage {
		ms := raft.NewMemoryStorage()
		ms.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: applied, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1}}}})
		return ms
	}
	a, err := NewReplica(&Config{ID: 1, Storage: storage(), Applied: applied, State: full})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewReplica(&Config{ID: 1, Storage: storage(), Applied: applied, State: meta, Objects: objs})
	if err != nil {
		t.Fatal(err)
	}
	if a.State().Digest() != b.State().Digest() || a.State().Digest() != r.State().Digest() {
		t.Fatal("restored from metadata and objects, the state differs")
	}
	if len(a.m.seen) == 0 || len(a.m.seen) != len(b.m.seen) {
		t.Fatalf("decisions remembered: %d and %d", len(a.m.seen), len(b.m.seen))
	}
	objs[0].Version = applied + 1
	if _, err := NewReplica(&Config{ID: 1, Storage: storage(), Applied: applied, State: meta, Objects: objs}); err == nil {
		t.Fatal("restored an object newer than the state")
	}
}

// A streamed snapshot decodes to the same state as SnapshotData's, with
// the same decisions remembered, for heaps of any size.
func TestSnapshotStream(t *testing.T) {
	for _, n := range []int{0, 3, 30, 300} {
		c := newSimCluster(t, 11, 1)
		r := c.nodes[1].r
		for i := range n {
			rec := &Record{TxID: uuid.UUID{0: 3, 14: byte(i >> 8), 15: byte(i)}, Snapshot: r.State().Index(),
				Writes: []Write{{ID: uuid.UUID{1: byte(i), 2: byte(i >> 8)}, Value: []byte(fmt.Sprint(i))}}}
			if i%5 == 0 {
				rec.RootWrites = []RootWrite{{Name: fmt.Sprint("r", i), ID: id(1)}}
			}
			if err := r.Propose(mustMarshal(t, rec)); err != nil {
				t.Fatal(err)
			}
			c.settle()
		}
		full, _ := r.SnapshotData()
		index, write, err := r.SnapshotStream()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		a, b := newMachine(0), newMachine(0)
		if err := a.restore(full, index); err != nil {
			t.Fatal(err)
		}
		if err := b.restore(buf.Bytes(), index); err != nil {
			t.Fatalf("%d objects: the stream does not decode: %v", n, err)
		}
		if a.publish().Digest() != b.publish().Digest() || len(a.seen) != len(b.seen) || b.publish().Len() != r.State().Len() {
			t.Fatalf("%d objects: the streamed snapshot differs", n)
		}
		// The same state written from its two parts (as a checkpoint keeps
		// it), objects in reverse order.
		meta, _ := r.SnapshotMeta()
		var objs []Object
		r.State().Ascend(uuid.Nil, func(o Object) bool { objs = append(objs, o); return true })
		scan := func(objs []Object) func(func(Object) error) error {
			return func(yield func(Object) error) error {
				for i := len(objs) - 1; i >= 0; i-- {
					if err := yield(objs[i]); err != nil {
						return err
					}
				}
				return nil
			}
		}
		var parts bytes.Buffer
		if err := WriteSnapshot(&parts, meta, index, len(objs), scan(objs)); err != nil {
			t.Fatal(err)
		}
		c2 := newMachine(0)
		if err := c2.restore(parts.Bytes(), index); err != nil || c2.publish().Digest() != a.publish().Digest() || len(c2.seen) != len(a.seen) {
			t.Fatalf("%d objects: the snapshot written from metadata and objects differs: %v", n, err)
		}
		// A count that does not match, metadata of another index, an
		// object newer than the state: refused, not written wrong.
		if err := WriteSnapshot(io.Discard, meta, index, len(objs)+1, scan(objs)); err == nil {
			t.Fatal("a snapshot with fewer objects than announced was written")
		}
		if err := WriteSnapshot(io.Discard, meta, index+1, len(objs), scan(objs)); err == nil {
			t.Fatal("metadata of another index was accepted")
		}
		if n > 0 {
			bad := append([]Object(nil), objs...)
			bad[0].Version = index + 1
			if err := WriteSnapshot(io.Discard, meta, index, len(bad), scan(bad)); err == nil {
				t.Fatal("an object newer than the state was accepted")
			}
		}
	}
}

// pieceReader remembers the largest read asked of it.
type pieceReader struct {
	r       io.Reader
	largest int
}

func (p *pieceReader) Read(b []byte) (int, error) {
	p.largest = max(p.largest, len(b))
	return p.r.Read(b)
}

// ReadSnapshot decodes a snapshot as it arrives: the state the whole
// encoding holds, read in pieces of at most 1 MiB. A value whose length
// claims more than arrives allocates only what arrived; bytes after the
// encoding, tags and indefinite lengths are refused; an error of the
// reader comes back wrapped.
func TestReadSnapshotDecodesAsItArrives(t *testing.T) {
	m := newMachine(0)
	big := string(bytes.Repeat([]byte{'v'}, 3<<20)) // larger than a piece
	for i := range 12 {
		v := fmt.Sprint(i)
		if i%4 == 0 {
			v += big
		}
		res, _ := m.apply(uint64(i+1), mustMarshal(t, &Record{TxID: tx(byte(i)), Snapshot: uint64(i), Writes: []Write{put(byte(1+i%6), v)},
			RootWrites: []RootWrite{{Name: fmt.Sprint("r", i%3), ID: id(1)}}}))
		if res.Outcome != Committed {
			t.Fatalf("record %d: %v", i, res.Outcome)
		}
	}
	data, err := (&Replica{m: m}).SnapshotData()
	if err != nil {
		t.Fatal(err)
	}
	pr := &pieceReader{r: bytes.NewReader(data)}
	d, err := ReadSnapshot(pr, m.index)
	if err != nil {
		t.Fatal(err)
	}
	back := newMachine(0)
	back.install(d)
	if got, want := dump(back.publish()), dump(m.publish()); got != want || !reflect.DeepEqual(back.seen, m.seen) || !reflect.DeepEqual(back.dec.results(), m.dec.results()) {
		t.Fatalf("decoded from the stream:\n%s\nwant\n%s", got, want)
	}
	if pr.largest > valuePiece {
		t.Fatalf("the stream was read %d bytes at once, more than a piece (%d)", pr.largest, valuePiece)
	}

	// A value that claims a terabyte, followed by 100 bytes: it ends
	// early, having allocated no more than arrived.
	claim := []byte{0xa5, 0x01, 0x05, 0x02, 0x00, 0x03, 0x81, 0x83, 0x50}
	claim = append(claim, make([]byte, 16)...)
	claim = append(claim, 0x01, 0x5b, 0, 0, 1, 0, 0, 0, 0, 0)
	claim = append(claim, make([]byte, 100)...)
	if _, err := ReadSnapshot(bytes.NewReader(claim), 5); err == nil || !strings.Contains(err.Error(), "ends early") {
		t.Fatalf("a value claiming a terabyte: %v", err)
	}
	for name, bad := range map[string][]byte{
		"a byte after the encoding": append(bytes.Clone(data), 0),
		"a tag":                     {0xa1, 0x04, 0x81, 0xc1, 0x00},
		"an indefinite array":       {0xa1, 0x03, 0x9f, 0xff},
		"a field twice":             {0xa2, 0x02, 0x00, 0x02, 0x00},
		"an unknown field":          {0xa1, 0x06, 0x00},
	} {
		if _, err := ReadSnapshot(bytes.NewReader(bad), m.index); err == nil || !strings.Contains(err.Error(), "does not decode") {
			t.Fatalf("%s: %v, want it refused", name, err)
		}
	}
	cut := errors.New("the sender went away")
	r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(cut))
	if _, err := ReadSnapshot(r, m.index); !errors.Is(err, cut) {
		t.Fatalf("a stream cut short: %v, want the reader's error", err)
	}
}
