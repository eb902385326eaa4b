package oss

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// fuzzProgram reads the operations of a fuzz input.
type fuzzProgram struct{ b []byte }

func (p *fuzzProgram) byte() byte {
	if len(p.b) == 0 {
		return 0
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c
}

func (p *fuzzProgram) u64() uint64 {
	var b [8]byte
	n := copy(b[:], p.b)
	p.b = p.b[n:]
	return binary.LittleEndian.Uint64(b[:])
}

// bytes reads a length byte and up to that many bytes (at most 63).
func (p *fuzzProgram) bytes() []byte {
	n := min(int(p.byte()%64), len(p.b))
	out := p.b[:n]
	p.b = p.b[n:]
	return out
}

// fuzzIDs are the object IDs a FuzzCommit program names: the nil ID, the
// four objects every run starts from, and two that do not exist.
var fuzzIDs = []uuid.UUID{
	uuid.Nil,
	{0: 0x10, 15: 1}, {0: 0x10, 15: 2}, {0: 0x10, 15: 3}, {0: 0x10, 15: 4},
	{0: 0x20, 15: 5}, {0: 0x20, 15: 6},
}

// fuzzValue builds a value of one of the kinds an application may store.
func fuzzValue(p *fuzzProgram) any {
	switch p.byte() % 11 {
	case 0:
		return int64(p.u64())
	case 1:
		return string(p.bytes()) // any bytes, UTF-8 or not
	case 2:
		return p.bytes()
	case 3:
		var v any = int64(1)
		for range p.byte() % 48 {
			v = []any{v}
		}
		return v
	case 4:
		return map[string]any{string(p.bytes()): int64(p.byte()), "list": []any{"x", 1.5, nil, true}}
	case 5:
		return math.Float64frombits(p.u64())
	case 6:
		return acct{Balance: int64(p.u64())}
	case 7:
		k := p.byte()
		return map[any]any{int64(k): "signed", uint64(k): "unsigned"}
	case 8:
		return func() {} // does not encode
	case 9:
		return RefTo[acct](fuzzIDs[int(p.byte())%len(fuzzIDs)])
	default:
		return bytes.Repeat(p.bytes(), 1+int(p.byte())*8)
	}
}

// commitFuzzMaxBytes is the commit record cap of FuzzCommit's node, low
// enough for a program to exceed.
const commitFuzzMaxBytes = 4096

// codecRefusal names the reason a value the codec encodes is refused by
// its decoder whatever the type it is read as: nesting deeper than
// codec.MaxNestedLevels, a string that is not UTF-8, map keys that encode
// alike (such as int64(1) and uint64(1) in a map[any]any). Put does not
// check for these: such a value commits, and every read of it is a
// *DecodeError. It returns "" for any other error.
func codecRefusal(err error) string {
	var de *DecodeError
	if !errors.As(err, &de) {
		return ""
	}
	var nested *cbor.MaxNestedLevelError
	var dup *cbor.DupMapKeyError
	var sem *cbor.SemanticError
	switch {
	case errors.As(err, &nested):
		return "nesting"
	case errors.As(err, &dup):
		return "duplicate key"
	case errors.As(err, &sem) && sem.Error() == "cbor: invalid UTF-8 string":
		return "not UTF-8"
	}
	return ""
}

// FuzzCommit runs a program of operations (derived from the input) in a
// transaction on a single in-memory node and commits it. Every operation
// returns nil or a clear error (not found, invalid argument, a value that
// does not encode or decode); a transaction that one of these aborted
// fails to commit with that error; a commit fails only that way or as too
// large, and then changes nothing; a commit that succeeds wrote exactly
// what the program wrote, and every value it wrote reads back, or fails
// to decode for one of the reasons codecRefusal names.
func FuzzCommit(f *testing.F) {
	ctx := context.Background()
	n, err := Start(ctx, &Config{MaxCommitBytes: commitFuzzMaxBytes, Logger: testLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeapIfNotExists(ctx, "fuzz", nil)
	if err != nil {
		f.Fatal(err)
	}
	seed := map[uuid.UUID]any{fuzzIDs[1]: acct{Balance: 1}, fuzzIDs[2]: "two", fuzzIDs[3]: []any{int64(1), "x"}, fuzzIDs[4]: map[string]any{"k": "v"}}
	seedRoots := map[string]uuid.UUID{"a": fuzzIDs[1], "b": fuzzIDs[2]}
	reset := func(t testing.TB) {
		err := update(ctx, h, func(tx *Tx) error {
			var extra []uuid.UUID
			tx.Scan(func(id uuid.UUID) bool {
				if _, ok := seed[id]; !ok {
					extra = append(extra, id)
				}
				return true
			})
			for _, id := range extra {
				tx.Delete(id)
			}
			for id, v := range seed {
				if err := Put(tx, id, v); err != nil {
					return err
				}
			}
			tx.snap.Roots(func(r consistency.Root) bool {
				if _, ok := seedRoots[r.Name]; !ok {
					tx.DeleteRoot(r.Name)
				}
				return true
			})
			for name, id := range seedRoots {
				if err := tx.SetRoot(name, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("reset: %v", err)
		}
	}
	reset(f)

	// op codes: 0 Put, 1 Delete, 2 SetRoot, 3 DeleteRoot, 4 Get, 5 Root,
	// 6 Scan, 7 Version, 8 Exists.
	f.Add([]byte{0, 1, 6, 0xff, 0, 0, 0, 0, 0, 0, 0})                  // Put an acct
	f.Add([]byte{4, 1, 0, 1, 6, 9, 0, 0, 0, 0, 0, 0, 0, 2, 1, 'c', 1}) // Get, Put, SetRoot
	f.Add([]byte{0, 5, 1, 3, 'x', 'y', 'z', 2, 2, 'r', 'r', 5})        // a new object and a root
	f.Add([]byte{1, 2, 3, 1, 'a', 5, 1, 'b', 6, 7, 3, 8, 0})           // Delete, DeleteRoot, Root, Scan, Version, Exists
	f.Add([]byte{0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})                     // Put with the nil ID
	f.Add([]byte{2, 0, 1})                                             // SetRoot with an empty name
	f.Add([]byte{0, 5, 8})                                             // a value that does not encode
	f.Add([]byte{0, 5, 3, 40})                                         // nested deeper than the decoder goes
	f.Add([]byte{0, 5, 1, 2, 0xff, 0xfe})                              // a string that is not UTF-8
	f.Add([]byte{2, 2, 2, 0xc3, 0x28})                                 // a root name that is not UTF-8
	f.Add([]byte{0, 5, 7, 3})                                          // keys that encode alike
	f.Add([]byte{0, 5, 10, 3, 'a', 'b', 'c', 0xff})                    // too large
	f.Add([]byte{0, 5, 9, 1, 0, 6, 3, 7, 4, 6})                        // a ref, a nested value, read back in the transaction
	f.Fuzz(func(t *testing.T, data []byte) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		beforeIndex, beforeDigest := h.Digest()
		tx, err := h.Begin(cctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		type objWrite struct {
			deleted bool
			data    []byte
		}
		type rootWrite struct {
			deleted bool
			id      uuid.UUID
		}
		objs := map[uuid.UUID]objWrite{}
		roots := map[string]rootWrite{}
		var abort error
		p := &fuzzProgram{b: data}
		for ops := 0; len(p.b) > 0 && ops < 32; ops++ {
			op := p.byte() % 9
			id := fuzzIDs[int(p.byte())%len(fuzzIDs)]
			var err error
			what := ""
			switch op {
			case 0:
				v := fuzzValue(p)
				what = fmt.Sprintf("Put(%v, %T)", id, v)
				if err = Put(tx, id, v); err == nil {
					if _, merr := codec.Marshal(v); merr != nil {
						t.Fatalf("%s succeeded with a value that does not encode: %v", what, merr)
					}
					// The bytes buffered (maps with keys that encode alike
					// do not encode the same way twice).
					i, _ := tx.writeAt(id)
					objs[id] = objWrite{data: tx.writeList[i].Value}
				}
			case 1:
				what = fmt.Sprintf("Delete(%v)", id)
				if err = tx.Delete(id); err == nil {
					objs[id] = objWrite{deleted: true}
				}
			case 2:
				name := string(p.bytes())
				what = fmt.Sprintf("SetRoot(%q, %v)", name, id)
				if err = tx.SetRoot(name, id); err == nil {
					roots[name] = rootWrite{id: id}
				}
			case 3:
				name := string(p.bytes())
				what = fmt.Sprintf("DeleteRoot(%q)", name)
				if err = tx.DeleteRoot(name); err == nil {
					roots[name] = rootWrite{deleted: true}
				}
			case 4:
				what = fmt.Sprintf("Get(%v)", id)
				_, err = Get[any](tx, id)
			case 5:
				name := string(p.bytes())
				what = fmt.Sprintf("Root(%q)", name)
				_, err = tx.Root(name)
			case 6:
				what = "Scan"
				err = tx.Scan(func(uuid.UUID) bool { return p.byte()%4 != 0 })
			case 7:
				what = fmt.Sprintf("Version(%v)", id)
				_, err = tx.Version(id)
			case 8:
				what = fmt.Sprintf("Exists(%v)", id)
				_, err = tx.Exists(id)
			}
			var de *DecodeError
			var ee *EncodeError
			switch {
			case err == nil, errors.Is(err, ErrNotFound):
			case errors.Is(err, ErrInvalidArgument), errors.As(err, &de), errors.As(err, &ee), errors.Is(err, ErrTooLarge):
				if abort == nil {
					abort = err
				}
			default:
				t.Fatalf("%s: an unclear error: %v", what, err)
			}
		}
		err = tx.Commit()
		var tle *TooLargeError
		switch {
		case abort != nil && err != abort:
			t.Fatalf("a transaction aborted by %v committed with %v", abort, err)
		case err != nil && abort == nil && !errors.As(err, &tle):
			t.Fatalf("commit: %v", err)
		}
		if err != nil {
			if index, digest := h.Digest(); index != beforeIndex || digest != beforeDigest {
				t.Fatalf("a failed commit (%v) changed the heap", err)
			}
			return
		}
		err = h.View(ctx, func(tx *Tx) error {
			for id, w := range objs {
				o, ok := tx.snap.Get(id)
				if w.deleted {
					if ok {
						t.Fatalf("object %v deleted, still there", id)
					}
					continue
				}
				if !ok || !bytes.Equal(o.Value, w.data) {
					t.Fatalf("object %v holds %x (%v), the transaction wrote %x", id, o.Value, ok, w.data)
				}
				err := h.View(ctx, func(tx *Tx) error { _, err := Get[any](tx, id); return err }, nil)
				if err != nil && codecRefusal(err) == "" {
					t.Fatalf("object %v was committed but does not read back: %v", id, err)
				}
			}
			for name, w := range roots {
				got, err := tx.Root(name)
				switch {
				case w.deleted && !errors.Is(err, ErrNotFound):
					t.Fatalf("root %q deleted, reads %v %v", name, got, err)
				case !w.deleted && (err != nil || got != w.id):
					t.Fatalf("root %q set to %v, reads %v %v", name, w.id, got, err)
				}
			}
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		reset(t)
	})
}

// FuzzRoute: a raft message from a peer is untrusted; routing it never
// panics, and it reaches a replica only if its envelope and message
// decode, it comes from a raft ID of the peer the transport
// authenticated, it is for this node's ID, and it names an open replica's
// heap and group incarnation; and a message only a voter sends reaches it
// only from a server.
func FuzzRoute(f *testing.F) {
	ctx := context.Background()
	n, err := Start(ctx, &Config{Logger: testLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
	if err != nil {
		f.Fatal(err)
	}
	const peerID, clientID = 7, 8
	n.learn(peerID, "peer")
	n.learn(clientID, "client")
	n.setDirectory(fixedDirectory{n.selfInfo(), {Name: "peer", ID: peerID, Role: pki.RoleServer}, {Name: "client", ID: clientID, Role: pki.RoleClient}})
	add := func(heap string, group uint64, m raftpb.Message) {
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		env := raftEnvelope{Heap: heap, Group: group, Msg: b}
		f.Add(env.appendTo(nil))
	}
	add("bank", h.group, raftpb.Message{Type: raftpb.MsgHeartbeat, From: peerID, To: n.id, Term: 1})
	add("bank", h.group, raftpb.Message{Type: raftpb.MsgApp, From: peerID, To: n.id, Term: 2, Entries: []raftpb.Entry{{Index: 1, Term: 2, Data: []byte{0xa0}}}})
	add("bank", h.group+1, raftpb.Message{Type: raftpb.MsgHeartbeat, From: peerID, To: n.id})
	add("bank", h.group, raftpb.Message{Type: raftpb.MsgHeartbeat, From: n.id, To: n.id})
	add("bank", h.group, raftpb.Message{Type: raftpb.MsgVote, From: peerID, To: n.id + 1})
	add(catalogName, n.catalog.Load().group, raftpb.Message{Type: raftpb.MsgHeartbeat, From: peerID, To: n.id})
	add("bank", h.group, raftpb.Message{Type: raftpb.MsgHeartbeat, From: clientID, To: n.id, Term: 1000})
	add("bank", h.group, raftpb.Message{Type: raftpb.MsgAppResp, From: clientID, To: n.id, Term: 1})
	add("nope", 1, raftpb.Message{Type: raftpb.MsgSnap, From: peerID, To: n.id, Snapshot: &raftpb.Snapshot{}})
	f.Add([]byte{1, 0x80, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		var env raftEnvelope
		var m raftpb.Message
		var target *Heap
		from := "peer"
		decoded := env.decode(data) == nil && m.Unmarshal(env.Msg) == nil
		if decoded && m.From == clientID {
			from = "client"
		}
		if decoded && (m.From == peerID || m.From == clientID && m.Type != raftpb.MsgProp && !serversOnly(m.Type)) && m.To == n.id {
			target = n.replicaOf(env.Heap)
			if target != nil && target.group != env.Group {
				target = nil
			}
		}
		got, gm, ok := n.route(from, data)
		if ok != (target != nil) || got != target {
			t.Fatalf("routed to %v (%v), want %v", got, ok, target)
		}
		if ok && (gm.From != m.From || gm.To != m.To || gm.Type != m.Type || gm.Term != m.Term) {
			t.Fatalf("routed %v, decoded %v", gm, m)
		}
	})
}

// fixedDirectory is a directory of nodes that never changes.
type fixedDirectory []peerInfo

func (d fixedDirectory) live() []peerInfo { return d }

// FuzzCatalogEntry: the catalog's objects are heap entries, decoded by
// every node from its replica. An object that does not decode as an entry
// for its own ID is not a heap; one that does is listed, and a replica is
// opened for it if it names this node among its voters (or it fails to
// open, with an error); none of it crashes the node, and removing the
// object closes what was opened.
func FuzzCatalogEntry(f *testing.F) {
	ctx := context.Background()
	n, err := Start(ctx, &Config{Logger: testLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close(context.Background()) })
	cat := n.catalog.Load()
	for _, e := range []heapEntry{
		{Name: "h1", Replicas: 1, Voters: []groupMember{{Name: n.cfg.Name, ID: n.id}}, Group: 5},
		{Name: "h2", Replicas: 3, Voters: []groupMember{{Name: "elsewhere", ID: 99}}, Group: 6},
		{Name: "h3", Replicas: -1, Voters: []groupMember{{Name: n.cfg.Name, ID: n.id}, {Name: n.cfg.Name, ID: n.id}}, Group: 7},
		{Name: "h4", Replicas: 1, Voters: []groupMember{{Name: n.cfg.Name, ID: n.id}, {Name: "zero"}}},
		{Name: "", Replicas: 1},
	} {
		b, _ := codec.Marshal(e)
		f.Add(b)
	}
	f.Add([]byte{0xa1, 0x01, 0x62, 'h', '5'})
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e heapEntry
		name := "fuzz-entry"
		decodes := codec.Unmarshal(data, &e) == nil && e.Name != ""
		if decodes {
			name = e.Name
		}
		if name == catalogName || validHeapName(name) != nil || n.replicaOf(name) != nil {
			return // the catalog's own name, or a name no application can create
		}
		id := entryID(name)
		write := func(value []byte) {
			err := update(ctx, cat, func(tx *Tx) error {
				if value == nil {
					return tx.Delete(id)
				}
				tx.write(consistency.Write{ID: id, Value: value})
				return nil
			})
			if err != nil {
				t.Fatalf("catalog update: %v", err)
			}
			n.syncCatalog()
		}
		write(data)
		listed := false
		for _, h := range n.Heaps() {
			if h.Name == name {
				listed = true
			}
		}
		if listed != decodes {
			t.Fatalf("entry %+v (decodes: %v) listed: %v", e, decodes, listed)
		}
		if got, ok := n.catalogEntry(name); ok != decodes || ok && !reflect.DeepEqual(got, e) {
			t.Fatalf("catalog entry %+v %v, want %+v", got, ok, e)
		}
		write(nil)
		if h := n.replicaOf(name); h != nil {
			t.Fatalf("the replica of %q stays open after its entry is gone", name)
		}
	})
}

// FuzzPeerAnswer: what a peer answers to a join or a status request is
// untrusted; it decodes or not, never panics, and what decodes encodes
// to bytes that decode to a value that encodes the same.
func FuzzPeerAnswer(f *testing.F) {
	for _, v := range []any{
		callResponse{OK: true},
		callResponse{Leader: "n2"},
		[]replicaStatus{{Heap: "bank", Leader: "n1", Voters: []string{"n1", "n2", "n3"}, Applied: 42, Leading: true}, {Heap: catalogName, Learners: []string{"n4"}, Joint: true}},
		[]replicaStatus{},
	} {
		b, _ := codec.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0x81, 0xa1, 0x03, 0x9f})
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip := func(v any) {
			if codec.Unmarshal(data, v) != nil {
				return
			}
			b, err := codec.Marshal(v)
			if err != nil {
				t.Fatalf("%#v decoded but does not encode: %v", v, err)
			}
			// Empty and absent lists encode alike: compare encodings.
			again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := codec.Unmarshal(b, again); err != nil {
				t.Fatalf("%#v encodes to %x, which does not decode: %v", v, b, err)
			}
			if b2, err := codec.Marshal(again); err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("%#v comes back as %#v (%v)", v, again, err)
			}
		}
		roundTrip(&callResponse{})
		roundTrip(&[]replicaStatus{})
	})
}

// replicaAt returns a replica restored at index from state (and objects,
// if not nil), over a raft log that starts there.
func replicaAt(index uint64, state []byte, objects []consistency.Object) (*consistency.Replica, error) {
	ms := raft.NewMemoryStorage()
	if index > 0 {
		err := ms.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: index, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1}}}})
		if err != nil {
			return nil, err
		}
	}
	return consistency.NewReplica(&consistency.Config{ID: 1, Storage: ms, Applied: index, State: state, Objects: objects})
}

// FuzzStoreMeta: the striped store's manifest names each heap's space and
// holds its metadata, read back at start. A space name that does not
// parse is another store's; metadata that does not decode, or holds no
// state, fails the start; metadata that does gives the recovered replica
// its checkpoint. A replica restarted from that checkpoint holds the
// state a peer restores from the snapshot streamed from it, and both
// accept or refuse it alike.
func FuzzStoreMeta(f *testing.F) {
	m := consistency.EmptySnapshotData(9)
	stateMeta := func(index uint64) []byte {
		r, err := replicaAt(index, consistency.EmptySnapshotData(index), nil)
		if err != nil {
			f.Fatal(err)
		}
		b, err := r.SnapshotMeta()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		index uint64
		state []byte
	}{{9, stateMeta(9)}, {2, stateMeta(2)}, {9, m}, {0, stateMeta(0)}} {
		sm, _ := (&raftpb.SnapshotMetadata{Index: c.index, Term: 2, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}}).Marshal()
		b, _ := codec.Marshal(storeMeta{SnapMeta: sm, State: c.state, Replicas: 3})
		f.Add(spaceKey("bank", 0x1234, 2), b)
	}
	f.Add(spaceKey("bank", 1, 0), []byte{0xa1, 0x01, 0x41, 0xff})
	f.Add("bank\x00zz\x001", []byte{0xa0})
	f.Add("bank", []byte(nil))
	f.Fuzz(func(t *testing.T, space string, meta []byte) {
		mem := persist.NewMemFS()
		store, err := persist.OpenStore(mem, []string{"/stripes/0", "/stripes/1"})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		var objs []persist.Object
		for i := range 3 {
			objs = append(objs, persist.Object{Space: space, ID: [16]byte{0: byte(i * 77), 15: byte(i)}, Version: uint64(i + 1), Value: fmt.Appendf(nil, "value %d", i)})
		}
		if _, err := store.Checkpoint(objs, map[string][]byte{space: meta}); err != nil {
			t.Fatal(err)
		}
		heap, group, gen, parsed := parseSpace(space)
		if parsed {
			if h, g, n, ok := parseSpace(spaceKey(heap, group, gen)); !ok || h != heap || g != group || n != gen {
				t.Fatalf("space %q parses as %q %x %d, its key as %q %x %d", space, heap, group, gen, h, g, n)
			}
		}
		key := groupKey{heap, group}
		d := &disk{store: store, recovered: map[groupKey]*recoveredGroup{key: {key: key}}}
		node := &Node{cfg: &Config{OnProgress: func(Progress) {}}}
		err = d.loadStore(node)
		var sm storeMeta
		var snap raftpb.SnapshotMetadata
		decodes := codec.Unmarshal(meta, &sm) == nil && snap.Unmarshal(sm.SnapMeta) == nil
		listed := meta != nil
		if (err != nil) != (parsed && listed && (!decodes || sm.State == nil)) {
			t.Fatalf("space %q, metadata decodes %v: loading the store says %v", space, decodes, err)
		}
		if err != nil || !parsed || !listed {
			return
		}
		g := d.recovered[key]
		if g.snap.Metadata.Index != snap.Index || g.snap.Metadata.Term != snap.Term || !bytes.Equal(g.stateMeta, sm.State) ||
			len(g.objects) != len(objs) || g.storeGen != gen || sm.Replicas > 0 && g.replicas != sm.Replicas {
			t.Fatalf("recovered %+v from %+v", g, sm)
		}

		restarted, rerr := replicaAt(snap.Index, g.stateMeta, g.objects)
		v, ok, err := store.View(space)
		if err != nil || !ok {
			t.Fatalf("no view of %q: %v %v", space, ok, err)
		}
		var buf bytes.Buffer
		serr := streamView(&buf, v, snap.Index)
		v.Close()
		if (rerr == nil) != (serr == nil) {
			t.Fatalf("a restart says %v, the snapshot stream %v", rerr, serr)
		}
		if rerr != nil {
			return
		}
		peer, err := replicaAt(snap.Index, buf.Bytes(), nil)
		if err != nil {
			t.Fatalf("the streamed snapshot does not restore: %v", err)
		}
		if alone, err := replicaAt(snap.Index, g.stateMeta, nil); err == nil && alone.State().Len() > 0 {
			return // a checkpoint's metadata carries no objects; the stream takes them from the store only
		}
		a, b := restarted.State(), peer.State()
		if a.Index() != b.Index() || a.ShapeVersion() != b.ShapeVersion() || a.Digest() != b.Digest() {
			t.Fatalf("the restarted replica is at %d (%x), the peer at %d (%x)", a.Index(), a.Digest(), b.Index(), b.Digest())
		}
	})
}

// FuzzNodeID: a node's identity file is read from disk; a damaged one is
// refused with an error, and one that is accepted names a nonzero ID that
// the node writes back and reads again unchanged.
func FuzzNodeID(f *testing.F) {
	f.Add([]byte("00000000deadbeef\n"))
	f.Add([]byte("00000000deadbeef 00000000\n"))
	f.Add([]byte("00000000deadbeef " + fmt.Sprintf("%08x", nodeIDSum(0xdeadbeef)) + "\n"))
	f.Add([]byte("  1f  "))
	f.Add([]byte("0\n"))
	f.Add([]byte("ffffffffffffffffff"))
	f.Add([]byte("not hex"))
	f.Add(bytes.Repeat([]byte{'1'}, 70))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := persist.NewMemFS()
		fsys.MkdirAll("/data")
		fl, _ := fsys.Create("/data/" + nodeIDFile)
		fl.Write(data)
		fl.Sync()
		fl.Close()
		id, err := loadNodeID(fsys, "/data")
		if err != nil {
			if id != 0 {
				t.Fatalf("a refused identity file gave ID %x", id)
			}
			return
		}
		fields := strings.Fields(string(data[:min(len(data), 64)]))
		want, perr := strconv.ParseUint(fields[0], 16, 64)
		if id == 0 || perr != nil || want != id {
			t.Fatalf("%q read as %x", data, id)
		}
		if len(fields) == 2 && fields[1] != fmt.Sprintf("%08x", nodeIDSum(id)) {
			t.Fatalf("%q read as %x, whose checksum is %08x", data, id, nodeIDSum(id))
		}
		if err := storeNodeID(fsys, "/data", id); err != nil {
			t.Fatal(err)
		}
		if again, err := loadNodeID(fsys, "/data"); err != nil || again != id {
			t.Fatalf("%x written, %x read back (%v)", id, again, err)
		}
	})
}

// FuzzRef: a Ref inside a stored value is decoded from bytes another
// client wrote; it decodes as a 16-byte ID or fails, and what decodes
// encodes back to the same bytes.
func FuzzRef(f *testing.F) {
	type holder struct {
		R Ref[acct] `cbor:"1,keyasint"`
	}
	for _, id := range []uuid.UUID{uuid.Nil, fuzzIDs[1], uuid.MustParse("0190a0b0-c0d0-7e0f-8000-000000000001")} {
		b, _ := codec.Marshal(RefTo[acct](id))
		f.Add(b)
		b, _ = codec.Marshal(holder{R: RefTo[acct](id)})
		f.Add(b)
	}
	f.Add([]byte{0x4f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte{0x50})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Ref[acct]
		if err := r.UnmarshalCBOR(data); err == nil {
			b, err := r.MarshalCBOR()
			if err != nil {
				t.Fatal(err)
			}
			var back Ref[acct]
			if err := codec.Unmarshal(b, &back); err != nil || back != r {
				t.Fatalf("%v comes back as %v (%v)", r, back, err)
			}
			var raw []byte
			if codec.Unmarshal(data, &raw) != nil || !bytes.Equal(raw, r.ID[:]) {
				t.Fatalf("%x decoded as %v", data, r)
			}
		}
		var h holder
		if err := codec.Unmarshal(data, &h); err == nil {
			b, err := codec.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var back holder
			if err := codec.Unmarshal(b, &back); err != nil || back != h {
				t.Fatalf("%v comes back as %v (%v)", h, back, err)
			}
		}
	})
}
