package persist

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
)

func stripeDirs(w int) []string {
	var dirs []string
	for i := range w {
		dirs = append(dirs, fmt.Sprintf("/disk%d/stripe", i))
	}
	return dirs
}

func loadAll(t *testing.T, s *Store) map[storeKey]Object {
	t.Helper()
	var mu sync.Mutex
	got := map[storeKey]Object{}
	if err := s.Load(func(o Object) {
		mu.Lock()
		got[storeKey{o.Space, o.ID}] = o
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func obj(space string, i int, version uint64, value string) Object {
	var id [16]byte
	id[0], id[1] = byte(i), byte(i>>8)
	return Object{Space: space, ID: id, Version: version, Value: []byte(value)}
}

func TestStoreCheckpointsAndLoads(t *testing.T) {
	fsys := NewMemFS()
	s, err := OpenStore(fsys, stripeDirs(3))
	if err != nil {
		t.Fatal(err)
	}
	var objs []Object
	for i := range 100 {
		objs = append(objs, obj("bank", i, 1, fmt.Sprint("v1-", i)))
	}
	if _, err := s.Checkpoint(objs, map[string][]byte{"bank": []byte("meta1")}); err != nil {
		t.Fatal(err)
	}
	// Overwrite some, delete some.
	objs = objs[:0]
	for i := range 10 {
		objs = append(objs, obj("bank", i, 2, fmt.Sprint("v2-", i)))
	}
	for i := 10; i < 20; i++ {
		o := obj("bank", i, 2, "")
		o.Deleted = true
		objs = append(objs, o)
	}
	if _, err := s.Checkpoint(objs, map[string][]byte{"bank": []byte("meta2")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenStore(fsys, stripeDirs(3))
	if err != nil {
		t.Fatal(err)
	}
	got := loadAll(t, s)
	if len(got) != 90 {
		t.Fatalf("loaded %d objects, want 90", len(got))
	}
	for i := range 100 {
		o, ok := got[storeKey{"bank", obj("bank", i, 0, "").ID}]
		switch {
		case i < 10 && (!ok || o.Version != 2 || string(o.Value) != fmt.Sprint("v2-", i)):
			t.Fatalf("object %d: %+v", i, o)
		case i >= 10 && i < 20 && ok:
			t.Fatalf("deleted object %d is back", i)
		case i >= 20 && (!ok || string(o.Value) != fmt.Sprint("v1-", i)):
			t.Fatalf("object %d: %+v", i, o)
		}
	}
	if m := s.Manifest(); string(m.Spaces["bank"]) != "meta2" || m.Gen != 2 {
		t.Fatalf("manifest %+v", m)
	}
	for _, d := range stripeDirs(3) {
		if names, _ := fsys.ReadDir(d); len(names) == 0 {
			t.Fatalf("stripe %s holds nothing: objects are not spread", d)
		}
	}
	if _, err := OpenStore(fsys, stripeDirs(2)); err == nil {
		t.Fatal("opened a store of 3 stripes over 2 directories")
	}
}

// TestStoreCheckpointIsAtomic cuts the power at a random point of a
// checkpoint: the store then holds the previous checkpoint or the new one,
// whole, never a mix.
func TestStoreCheckpointIsAtomic(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		mem := NewMemFS()
		ffs := &FaultFS{FS: mem}
		s, err := OpenStore(ffs, stripeDirs(1+rng.IntN(4)))
		if err != nil {
			t.Fatal(err)
		}
		var first []Object
		for i := range 50 {
			first = append(first, obj("h", i, 1, "old"))
		}
		if _, err := s.Checkpoint(first, map[string][]byte{"h": []byte("1")}); err != nil {
			t.Fatal(err)
		}
		var second []Object
		for i := range 50 {
			second = append(second, obj("h", i, 2, "new"))
		}
		var crashed *MemFS
		at, ops := rng.IntN(12), 0
		var mu sync.Mutex
		ffs.SetRule(func(op Op, name string) error {
			mu.Lock()
			defer mu.Unlock()
			if ops == at && crashed == nil {
				crashed = mem.Crash(rng)
			}
			ops++
			return nil
		})
		s.Checkpoint(second, map[string][]byte{"h": []byte("2")})
		s.Close()
		if crashed == nil {
			crashed = mem.Crash(rng)
		}
		s2, err := OpenStore(crashed, s.dirs)
		if err != nil {
			t.Fatalf("seed %d: reopen after a crash in a checkpoint: %v", seed, err)
		}
		got := loadAll(t, s2)
		gen := string(s2.Manifest().Spaces["h"])
		want := map[string]string{"1": "old", "2": "new"}[gen]
		if len(got) != 50 {
			t.Fatalf("seed %d: %d objects after the crash", seed, len(got))
		}
		for _, o := range got {
			if string(o.Value) != want {
				t.Fatalf("seed %d: checkpoint %s holds %q: a mix of two checkpoints", seed, gen, o.Value)
			}
		}
		// The store goes on from there.
		if _, err := s2.Checkpoint([]Object{obj("h", 0, 3, "later")}, nil); err != nil {
			t.Fatalf("seed %d: checkpoint after recovery: %v", seed, err)
		}
		if got := loadAll(t, s2); len(got) != 50 || string(got[storeKey{"h", obj("h", 0, 0, "").ID}].Value) != "later" {
			t.Fatalf("seed %d: after a later checkpoint: %d objects", seed, len(got))
		}
	}
}

func TestStoreDamage(t *testing.T) {
	mem := NewMemFS()
	s, _ := OpenStore(mem, stripeDirs(3))
	var objs []Object
	for i := range 60 {
		objs = append(objs, obj("h", i, 1, "value"))
	}
	s.Checkpoint(objs, map[string][]byte{"h": []byte("m")})
	s.Close()
	// A damaged record in one stripe: the error names it; the other
	// stripes' files are untouched.
	seg := filepath.Join(stripeDirs(3)[1], fmt.Sprintf("%016x.seg", 1))
	f, _ := mem.Open(seg)
	size, _ := f.Size()
	data := make([]byte, size)
	f.ReadAt(data, 0)
	f.Close()
	before := map[string][]byte{}
	for i, d := range stripeDirs(3) {
		if i != 1 {
			p := filepath.Join(d, fmt.Sprintf("%016x.seg", 1))
			g, _ := mem.Open(p)
			n, _ := g.Size()
			b := make([]byte, n)
			g.ReadAt(b, 0)
			g.Close()
			before[p] = b
		}
	}
	data[size/2] ^= 0x40
	g, _ := mem.Create(seg)
	g.Write(data)
	g.Sync()
	g.Close()
	s, _ = OpenStore(mem, stripeDirs(3))
	err := s.Load(func(Object) {})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != seg {
		t.Fatalf("a damaged record: %v", err)
	}
	for p, b := range before {
		g, _ := mem.Open(p)
		n, _ := g.Size()
		after := make([]byte, n)
		g.ReadAt(after, 0)
		g.Close()
		if !bytes.Equal(after, b) {
			t.Fatalf("%s changed while another stripe was damaged", p)
		}
	}
	// A damaged manifest.
	mp := filepath.Join(stripeDirs(3)[0], manifestName)
	m, _ := mem.Create(mp)
	m.Write([]byte("not a manifest at all"))
	m.Sync()
	m.Close()
	if _, err := OpenStore(mem, stripeDirs(3)); !errors.As(err, &ce) || ce.File != mp {
		t.Fatalf("a damaged manifest: %v", err)
	}
}

// FuzzStoreRecord: stripe records are read back from disk; decoding never
// panics and what encodes decodes.
func FuzzStoreRecord(f *testing.F) {
	o := obj("bank", 7, 3, "value")
	f.Add(appendObject(nil, &o))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		o, n, reason := decodeObject(data)
		if reason != "" {
			return
		}
		again := appendObject(nil, &o)
		if !bytes.Equal(again, data[:n]) {
			t.Fatalf("%x does not re-encode: %x", data[:n], again)
		}
	})
}

// FuzzManifest: a manifest read from disk is untrusted: opening the store
// on it fails cleanly or succeeds, never panics.
func FuzzManifest(f *testing.F) {
	mem := NewMemFS()
	s, _ := OpenStore(mem, stripeDirs(2))
	s.Checkpoint([]Object{obj("h", 1, 1, "v")}, map[string][]byte{"h": []byte("m")})
	s.Close()
	mf, _ := mem.Open(filepath.Join(stripeDirs(2)[0], manifestName))
	n, _ := mf.Size()
	good := make([]byte, n)
	mf.ReadAt(good, 0)
	f.Add(good)
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := NewMemFS()
		mem.MkdirAll(stripeDirs(2)[0])
		g, _ := mem.Create(filepath.Join(stripeDirs(2)[0], manifestName))
		g.Write(data)
		g.Sync()
		g.Close()
		mem.SyncDir(stripeDirs(2)[0])
		s, err := OpenStore(mem, stripeDirs(2))
		if err != nil {
			return
		}
		s.Load(func(Object) {})
		s.Close()
	})
}

func TestStoreCompaction(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		mem := NewMemFS()
		ffs := &FaultFS{FS: mem}
		s, err := OpenStore(ffs, stripeDirs(2))
		if err != nil {
			t.Fatal(err)
		}
		// Overwrites, deletes and a dropped space make garbage.
		for round := range 10 {
			var objs []Object
			for i := range 40 {
				objs = append(objs, obj("h", i, uint64(round+1), fmt.Sprint("r", round)))
				objs = append(objs, obj("gone", i, 1, "x"))
			}
			if round == 9 {
				for i := 30; i < 40; i++ {
					o := obj("h", i, 10, "")
					o.Deleted = true
					objs = append(objs, o)
				}
			}
			if _, err := s.Checkpoint(objs, map[string][]byte{"h": []byte("m"), "gone": []byte("m")}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Checkpoint(nil, map[string][]byte{"gone": nil}); err != nil {
			t.Fatal(err)
		}
		want := loadAll(t, s)
		// A checkpoint runs while the compaction does; and the power may
		// fail at any step of it.
		var crashed *MemFS
		at, ops := rng.IntN(20), 0
		var mu sync.Mutex
		ffs.SetRule(func(op Op, name string) error {
			mu.Lock()
			defer mu.Unlock()
			if ops == at && crashed == nil {
				crashed = mem.Crash(rng)
			}
			ops++
			return nil
		})
		done := make(chan error, 1)
		go func() {
			_, err := s.Checkpoint([]Object{obj("h", 0, 11, "during")}, nil)
			done <- err
		}()
		reclaimed, err := s.Compact(0)
		if err != nil {
			t.Fatalf("seed %d: compact: %v", seed, err)
		}
		if err := <-done; err != nil {
			t.Fatalf("seed %d: checkpoint during compaction: %v", seed, err)
		}
		if reclaimed <= 0 {
			t.Fatalf("seed %d: compaction reclaimed %d bytes", seed, reclaimed)
		}
		want[storeKey{"h", obj("h", 0, 0, "").ID}] = obj("h", 0, 11, "during")
		if got := loadAll(t, s); !sameObjects(got, want) {
			t.Fatalf("seed %d: after compaction %d objects, want %d", seed, len(got), len(want))
		}
		s.Close()
		if crashed != nil {
			// After a crash the store holds the state before or after the
			// concurrent checkpoint, never less.
			s2, err := OpenStore(crashed, stripeDirs(2))
			if err != nil {
				t.Fatalf("seed %d: reopen after a crash in compaction: %v", seed, err)
			}
			got := loadAll(t, s2)
			if len(got) != len(want) {
				t.Fatalf("seed %d: %d objects after a crash in compaction, want %d", seed, len(got), len(want))
			}
			s2.Close()
		}
	}
}

func sameObjects(a, b map[storeKey]Object) bool {
	if len(a) != len(b) {
		return false
	}
	for k, o := range a {
		p, ok := b[k]
		if !ok || p.Version != o.Version || !bytes.Equal(p.Value, o.Value) {
			return false
		}
	}
	return true
}
