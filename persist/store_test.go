package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/objectsharing/oss/internal/testkit/await"
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
	t.Parallel()
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
// panics and what encodes decodes. With sealed, the input is a record's
// body under a valid header, so that the fields behind the checksum are
// fuzzed too: a body that holds its fields decodes, and re-encodes to the
// same bytes.
func FuzzStoreRecord(f *testing.F) {
	o := obj("bank", 7, 3, "value")
	rec := appendObject(nil, &o)
	f.Add(rec, false)
	f.Add(rec[storeHeader:], true)
	tomb := Object{Space: "", ID: [16]byte{1}, Version: 9, Deleted: true}
	f.Add(appendObject(nil, &tomb)[storeHeader:], true)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Add([]byte{0, 0xff, 0xff}, true)
	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		if sealed {
			body := data
			data = binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
			data = binary.LittleEndian.AppendUint32(data, crc32.Checksum(body, castagnoli))
			data = append(data, body...)
			if len(body) >= 3 && len(body) >= 3+int(binary.LittleEndian.Uint16(body[1:]))+16+8 {
				if _, _, reason := decodeObject(data); reason != "" {
					t.Fatalf("a whole record refused: %s", reason)
				}
			}
		}
		o, n, reason := decodeObject(data)
		if reason != "" {
			return
		}
		again := appendObject(nil, &o)
		if sealed {
			// Flags other than deletion are not kept.
			data[storeHeader] &= 1
			binary.LittleEndian.PutUint32(data[4:], crc32.Checksum(data[storeHeader:n], castagnoli))
		}
		if !bytes.Equal(again, data[:n]) {
			t.Fatalf("%x does not re-encode: %x", data[:n], again)
		}
	})
}

// FuzzManifest: a manifest read from disk is untrusted: opening the store
// on it and loading fails cleanly or succeeds, never panics. With sealed,
// the input is the manifest's body under a valid checksum, over stripes
// that hold records, so the decoded manifest itself is fuzzed: what Load
// returns is of the spaces the manifest lists, and a View of a space
// holds what Load found of it, or fails.
func FuzzManifest(f *testing.F) {
	mem := NewMemFS()
	dirs := stripeDirs(2)
	s, _ := OpenStore(mem, dirs)
	s.Checkpoint([]Object{obj("h", 1, 1, "v"), obj("h", 2, 1, "w"), obj("g", 1, 1, "x")}, map[string][]byte{"h": []byte("m"), "g": []byte("n")})
	s.Checkpoint([]Object{obj("h", 1, 2, "v'"), {Space: "g", ID: obj("g", 1, 0, "").ID, Version: 2, Deleted: true}, obj("h", 3, 2, "y")}, map[string][]byte{"h": []byte("m'")})
	s.Close()
	files := map[string][]byte{}
	for _, d := range dirs {
		names, _ := mem.ReadDir(d)
		for _, name := range names {
			fl, _ := mem.Open(filepath.Join(d, name))
			n, _ := fl.Size()
			b := make([]byte, n)
			fl.ReadAt(b, 0)
			fl.Close()
			files[filepath.Join(d, name)] = b
		}
	}
	manifestPath := filepath.Join(dirs[0], manifestName)
	good := files[manifestPath]
	delete(files, manifestPath)
	f.Add(good, false)
	f.Add(good[:len(good)-4], true)
	f.Add([]byte{0, 0, 0, 0}, false)
	f.Add([]byte{0xa0}, true)
	f.Add([]byte{0xa1, 0x01, 0x82, 0x81, 0x82, 0x74, '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0', '1', '.', 's', 'e', 'g', 0x18, 0x20, 0x80}, true)
	// Manifests that list a stripe's segment twice, or under another
	// name: whole, and cut after its first record.
	m := s.Manifest()
	for i, segs := range m.Stripes {
		seg := segs[0]
		_, first, _ := decodeObject(files[filepath.Join(dirs[i], seg.Name)])
		for _, twice := range [][]SegmentEnd{
			{seg, seg},
			{seg, {Name: seg.Name, Size: int64(first)}},
			{{Name: "1.seg", Size: seg.Size}, seg},
		} {
			dup := Manifest{Stripes: slices.Clone(m.Stripes), Spaces: m.Spaces, Gen: m.Gen}
			dup.Stripes[i] = twice
			b, _ := cbor.Marshal(dup)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, sealed bool) {
		mem := NewMemFS()
		for path, b := range files {
			mem.MkdirAll(filepath.Dir(path))
			g, _ := mem.Create(path)
			g.Write(b)
			g.Sync()
			g.Close()
		}
		if sealed {
			data = binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, castagnoli))
		}
		mem.MkdirAll(dirs[0])
		g, _ := mem.Create(manifestPath)
		g.Write(data)
		g.Sync()
		g.Close()
		mem.SyncDir(dirs[0])
		s, err := OpenStore(mem, dirs)
		if err != nil {
			return
		}
		defer s.Close()
		m := s.Manifest()
		var mu sync.Mutex
		loaded := map[string]map[[16]byte]Object{}
		if err := s.Load(func(o Object) {
			mu.Lock()
			defer mu.Unlock()
			if loaded[o.Space] == nil {
				loaded[o.Space] = map[[16]byte]Object{}
			}
			if _, dup := loaded[o.Space][o.ID]; dup {
				t.Errorf("Load returned %q %x twice", o.Space, o.ID)
			}
			o.Value = bytes.Clone(o.Value)
			loaded[o.Space][o.ID] = o
		}); err != nil {
			return
		}
		for space, objs := range loaded {
			if _, ok := m.Spaces[space]; !ok {
				t.Fatalf("Load returned %d objects of space %q, which the manifest does not list", len(objs), space)
			}
		}
		for space := range m.Spaces {
			v, ok, err := s.View(space)
			if err != nil || !ok {
				t.Fatalf("no view of a listed space %q: %v %v", space, ok, err)
			}
			var mismatch error
			seen := 0
			err = v.Scan(func(o Object) error {
				want, ok := loaded[space][o.ID]
				if !ok || o.Version != want.Version || !bytes.Equal(o.Value, want.Value) || o.Deleted {
					mismatch = fmt.Errorf("the view of %q holds %x@%d %q, Load found %+v", space, o.ID, o.Version, o.Value, want)
					return mismatch
				}
				seen++
				return nil
			})
			v.Close()
			if mismatch != nil {
				t.Fatal(mismatch)
			}
			// A view reads segments by number; it may fail where Load,
			// which reads them by the manifest's names, did not.
			if err == nil && (seen != len(loaded[space]) || v.Len() != seen) {
				t.Fatalf("the view of %q holds %d objects (Len %d), Load found %d", space, seen, v.Len(), len(loaded[space]))
			}
		}
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
		if err := await.Recv(t, done, "the checkpoint during compaction to return"); err != nil {
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

// A checkpoint completes while a compaction syncs the segment it
// compacted into: the compaction does not hold checkpoints off while it
// syncs, and what the checkpoint wrote survives the switch and a reopen.
func TestStoreCheckpointWhileCompactionSyncs(t *testing.T) {
	mem := NewMemFS()
	ffs := &FaultFS{FS: mem}
	s, err := OpenStore(ffs, stripeDirs(1))
	if err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		var objs []Object
		for i := range 40 {
			objs = append(objs, obj("h", i, uint64(round+1), fmt.Sprint("r", round)))
		}
		if _, err := s.Checkpoint(objs, map[string][]byte{"h": []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	old := map[string]bool{}
	for _, seg := range s.Manifest().Stripes[0] {
		old[seg.Name] = true
	}
	syncing, release := make(chan struct{}), make(chan struct{})
	var blocked atomic.Bool
	ffs.SetRule(func(op Op, name string) error {
		// The compaction's segment: the first new one synced.
		if op == OpSync && strings.HasSuffix(name, ".seg") && !old[filepath.Base(name)] && blocked.CompareAndSwap(false, true) {
			close(syncing)
			<-release
		}
		return nil
	})
	compacted := make(chan error, 1)
	go func() {
		_, err := s.Compact(0)
		compacted <- err
	}()
	await.Recv(t, syncing, "the compaction's sync to be held")
	want := loadAll(t, s)
	during := []Object{obj("h", 0, 11, "during"), obj("h", 40, 11, "new")}
	if _, err := s.Checkpoint(during, nil); err != nil {
		t.Fatalf("checkpoint while the compaction syncs: %v", err)
	}
	close(release)
	if err := await.Recv(t, compacted, "the compaction to return"); err != nil {
		t.Fatal(err)
	}
	if segs := s.Manifest().Stripes[0]; len(segs) != 2 || old[segs[0].Name] || old[segs[1].Name] {
		t.Fatalf("after the compaction the stripe is %v: want the compacted segment, then the checkpoint's", segs)
	}
	for _, o := range during {
		want[storeKey{o.Space, o.ID}] = o
	}
	if got := loadAll(t, s); !sameObjects(got, want) {
		t.Fatalf("after the compaction %d objects, want %d", len(got), len(want))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(mem, stripeDirs(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := loadAll(t, s2); !sameObjects(got, want) {
		t.Fatalf("reopened: %d objects, want %d", len(got), len(want))
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

// Close reports a stripe file that did not close.
func TestStoreCloseReturnsErrors(t *testing.T) {
	ffs := &FaultFS{FS: NewMemFS()}
	s, err := OpenStore(ffs, stripeDirs(2))
	if err != nil {
		t.Fatal(err)
	}
	var objs []Object
	for i := range 10 {
		objs = append(objs, obj("bank", i, 1, "v"))
	}
	if _, err := s.Checkpoint(objs, map[string][]byte{"bank": []byte("meta")}); err != nil {
		t.Fatal(err)
	}
	ffs.SetRule(func(op Op, name string) error {
		if op == OpClose && strings.HasSuffix(name, ".seg") {
			return syscall.EIO
		}
		return nil
	})
	if err := s.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("close when a stripe file does not close: %v", err)
	}
}
