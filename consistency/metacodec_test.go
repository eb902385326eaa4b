package consistency

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

// libMeta is what a checkpoint's metadata was before it had an encoder
// of its own: encMode's encoding of metaOf.
func libMeta(t testing.TB, st *State, order []Result) []byte {
	t.Helper()
	d := metaOf(st, logOf(order))
	b, err := encMode.Marshal(&d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkMeta fails unless encodeMeta writes, into a buffer of exactly
// its size, what the library writes.
func checkMeta(t testing.TB, st *State, order []Result) {
	t.Helper()
	got, want := encodeMeta(st, logOf(order)), libMeta(t, st, order)
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("metadata of %d roots and %d decisions differs from byte %d:\n%s\nthe library's\n%s", st.roots.Len(), len(order), i, short(got[i:]), short(want[i:]))
	}
	if len(got) != cap(got) {
		t.Fatalf("metadata of %d bytes in a buffer of %d: its size is wrong", len(got), cap(got))
	}
}

// randMetaState returns a state with an index, shape and roots of every
// head size, sometimes no roots.
func randMetaState(rng *rand.Rand) *State {
	roots := newRootTree()
	for range []int{0, 0, 1, 2, 3, 30}[rng.IntN(6)] {
		name := randName(rng)
		roots.Set(rootItem{name: name, root: &Root{Name: name, ID: randID(rng), Version: randUint(rng)}})
	}
	return &State{index: randUint(rng), shape: randUint(rng), objects: newObjTree(), roots: roots}
}

// randDecisions returns decisions of every outcome, some with conflicts,
// sometimes none; nil and empty alike.
func randDecisions(rng *rand.Rand) []Result {
	n := []int{-1, 0, 1, 2, 3, 24, 300}[rng.IntN(7)]
	if n < 0 {
		return nil
	}
	order := make([]Result, n)
	for i := range order {
		r := Result{TxID: randID(rng), Index: randUint(rng), Outcome: Outcome(rng.IntN(6))}
		switch rng.IntN(4) {
		case 0:
			r.ConflictID = randID(rng)
		case 1:
			r.ConflictRoot = randName(rng)
		case 2:
			r.ConflictScan = true
		}
		if rng.IntN(20) == 0 {
			r.Outcome = Outcome(rng.IntN(256))
		}
		order[i] = r
	}
	return order
}

// TestMetaCodecMatchesLibrary: on random states and decisions, and on a
// replica's own after commits and conflicts, the metadata a checkpoint
// writes is byte for byte what the library writes, so stores written
// before and after read the same.
func TestMetaCodecMatchesLibrary(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for range 2000 {
		checkMeta(t, randMetaState(rng), randDecisions(rng))
	}
	checkMeta(t, newMachine(0).publish(), nil)
	m := preparedMachine(t)
	checkMeta(t, m.publish(), m.dec.results())
	r := &Replica{m: m}
	got, err := r.SnapshotMetaLater()()
	if err != nil {
		t.Fatal(err)
	}
	if want := libMeta(t, m.publish(), m.dec.results()); !bytes.Equal(got, want) {
		t.Fatalf("SnapshotMetaLater wrote\n%s\nthe library\n%s", short(got), short(want))
	}
}

// FuzzMetaCodec: for any roots and decisions the input spells, the
// metadata encoder writes what the library writes.
func FuzzMetaCodec(f *testing.F) {
	f.Add([]byte{}, uint64(0), uint64(0))
	f.Add([]byte{3, 'w', 'o', 'r', 'l', 'd', 0xff, 24, 1, 2, 3}, uint64(70000), uint64(25))
	f.Add(bytes.Repeat([]byte{0x80, 0xff, 0x17, 0x18, 0x01}, 40), uint64(1<<40), uint64(1<<20))
	f.Fuzz(func(t *testing.T, data []byte, index, shape uint64) {
		in := fuzzBytes{b: data}
		st := &State{index: index, shape: shape, objects: newObjTree(), roots: newRootTree()}
		for range int(in.byte()) % 8 {
			name := string(in.take(int(in.byte()) % 40))
			st.roots.Set(rootItem{name: name, root: &Root{Name: name, ID: in.id(), Version: in.uint()}})
		}
		var order []Result
		if in.byte()%4 != 0 {
			order = []Result{}
		}
		for len(in.b) > 0 {
			r := Result{TxID: in.id(), Index: in.uint(), Outcome: Outcome(in.byte())}
			switch in.byte() % 4 {
			case 0:
				r.ConflictID = in.id()
			case 1:
				r.ConflictRoot = string(in.take(int(in.byte()) % 300))
			case 2:
				r.ConflictScan = true
			}
			order = append(order, r)
		}
		checkMeta(t, st, order)
	})
}

// fuzzBytes hands out a fuzz input's bytes as fields, zeros when it
// runs out.
type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) take(n int) []byte {
	n = min(n, len(f.b))
	s := f.b[:n]
	f.b = f.b[n:]
	return s
}

func (f *fuzzBytes) byte() byte {
	if s := f.take(1); len(s) == 1 {
		return s[0]
	}
	return 0
}

func (f *fuzzBytes) id() uuid.UUID {
	var id uuid.UUID
	copy(id[:], f.take(int(f.byte())%17))
	return id
}

// uint returns an integer of a head size the input picks.
func (f *fuzzBytes) uint() uint64 {
	var v uint64
	for range []int{0, 1, 2, 4, 8}[f.byte()%5] {
		v = v<<8 | uint64(f.byte())
	}
	return v
}
