package persist

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/objectsharing/oss/internal/testkit/await"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// viewAll reads a space through a view.
func viewAll(t *testing.T, s *Store, space string) (map[storeKey]Object, *View) {
	t.Helper()
	v, ok, err := s.View(space)
	if err != nil || !ok {
		t.Fatalf("view of %q: ok %v, err %v", space, ok, err)
	}
	got := map[storeKey]Object{}
	if err := v.Scan(func(o Object) error {
		k := storeKey{o.Space, o.ID}
		if _, dup := got[k]; dup {
			return fmt.Errorf("object %v twice", o.ID)
		}
		o.Value = bytes.Clone(o.Value)
		got[k] = o
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v.Len() != len(got) {
		t.Fatalf("view of %q says %d objects, scan gave %d", space, v.Len(), len(got))
	}
	return got, v
}

func ofSpace(all map[storeKey]Object, space string) map[storeKey]Object {
	out := map[storeKey]Object{}
	for k, o := range all {
		if k.space == space {
			out[k] = o
		}
	}
	return out
}

// The index follows checkpoints (overwrites, tombstones, dropped spaces)
// and compactions, and a view keeps showing its checkpoint while later
// checkpoints and compactions go on; its segments go when it is closed.
func TestStoreViewFollowsCheckpointsAndCompactions(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 5))
		fsys := NewMemFS()
		dirs := stripeDirs(1 + int(seed%3))
		s, err := OpenStore(fsys, dirs)
		if err != nil {
			t.Fatal(err)
		}
		model := map[storeKey]Object{}
		spaces := map[string]bool{}
		var open []*View
		dropped := 0
		var frozen []map[storeKey]Object
		for round := range 30 {
			var objs []Object
			meta := map[string][]byte{}
			for range rng.IntN(50) {
				space := fmt.Sprint("s", rng.IntN(3), ".", dropped)
				o := obj(space, rng.IntN(80), uint64(round+1), strings.Repeat("v", rng.IntN(300)))
				if rng.IntN(5) == 0 {
					o.Deleted, o.Value = true, nil
					delete(model, storeKey{space, o.ID})
				} else {
					model[storeKey{space, o.ID}] = o
				}
				objs = append(objs, o)
				meta[space] = []byte{byte(round)}
				spaces[space] = true
			}
			if rng.IntN(10) == 0 && len(spaces) > 0 {
				for sp := range spaces {
					meta[sp] = nil
					delete(spaces, sp)
					dropped++ // a dropped space's name is not used again
					for k := range model {
						if k.space == sp {
							delete(model, k)
						}
					}
					// Objects of a dropped space in the same checkpoint
					// do not come back.
					objs = withoutSpace(objs, sp)
					break
				}
			}
			if _, err := s.Checkpoint(objs, meta); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(4) == 0 {
				if _, err := s.Compact(0); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
			}
			if rng.IntN(6) == 0 && spaces[fmt.Sprint("s0.", dropped)] {
				sp := fmt.Sprint("s0.", dropped)
				got, v := viewAll(t, s, sp)
				if want := ofSpace(model, sp); !sameObjects(got, want) {
					t.Fatalf("seed %d round %d: view holds %d objects, want %d", seed, round, len(got), len(want))
				}
				open = append(open, v)
				frozen = append(frozen, got)
			}
		}
		for i, v := range open {
			got := map[storeKey]Object{}
			if err := v.Scan(func(o Object) error {
				got[storeKey{o.Space, o.ID}] = Object{Space: o.Space, ID: o.ID, Version: o.Version, Value: bytes.Clone(o.Value)}
				return nil
			}); err != nil {
				t.Fatalf("seed %d: an old view after compactions: %v", seed, err)
			}
			if !sameObjects(got, frozen[i]) {
				t.Fatalf("seed %d: view %d changed under later checkpoints", seed, i)
			}
			v.Close()
		}
		if _, err := s.Compact(0); err != nil {
			t.Fatal(err)
		}
		// Closed views leave no segments behind the manifest's.
		m := s.Manifest()
		for i, d := range dirs {
			names, _ := fsys.ReadDir(d)
			segs := 0
			for _, n := range names {
				if strings.HasSuffix(n, ".seg") {
					segs++
				}
			}
			if segs != len(m.Stripes[i]) {
				t.Fatalf("seed %d: stripe %d holds %d segments, the manifest lists %d", seed, i, segs, len(m.Stripes[i]))
			}
		}
		for sp := range spaces {
			got, v := viewAll(t, s, sp)
			v.Close()
			if want := ofSpace(model, sp); !sameObjects(got, want) {
				t.Fatalf("seed %d: view of %s holds %d objects, want %d", seed, sp, len(got), len(want))
			}
		}
		// Reopened, the index is built from the stripes on first use.
		s.Close()
		s2, err := OpenStore(fsys, dirs)
		if err != nil {
			t.Fatal(err)
		}
		for sp := range spaces {
			got, v := viewAll(t, s2, sp)
			v.Close()
			if want := ofSpace(model, sp); !sameObjects(got, want) {
				t.Fatalf("seed %d: view of %s after reopening holds %d objects, want %d", seed, sp, len(got), len(want))
			}
		}
		if _, ok, _ := s2.View("never"); ok {
			t.Fatal("a view of a space the store never held")
		}
		s2.Close()
	}
}

func withoutSpace(objs []Object, space string) []Object {
	out := objs[:0]
	for _, o := range objs {
		if o.Space != space {
			out = append(out, o)
		}
	}
	return out
}

// A damaged record fails the scan with the file and offset; a store without
// garbage is not rewritten.
func TestStoreViewDamageAndIdleCompaction(t *testing.T) {
	fsys := NewMemFS()
	s, err := OpenStore(fsys, stripeDirs(1))
	if err != nil {
		t.Fatal(err)
	}
	var objs []Object
	for i := range 50 {
		objs = append(objs, obj("h", i, 1, "value"))
	}
	if _, err := s.Checkpoint(objs, map[string][]byte{"h": {1}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Compact(0); err != nil || n != 0 {
		t.Fatalf("compacting a stripe without garbage: %d bytes, %v", n, err)
	}
	path := filepath.Join(stripeDirs(1)[0], stripeSegment(1))
	f, err := fsys.OpenAppend(path)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := f.Size()
	b := make([]byte, size)
	f.ReadAt(b, 0)
	b[size/2] ^= 0xff
	f.Truncate(0)
	f.Write(b)
	f.Close()
	v, _, err := s.View("h")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	err = v.Scan(func(Object) error { return nil })
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != path || ce.Offset <= 0 || ce.Offset > size/2 {
		t.Fatalf("scan over a damaged record: %v", err)
	}
	// fn's error stops the scan and comes back.
	stop := errors.New("enough")
	v2, _, _ := s.View("h")
	defer v2.Close()
	calls := 0
	if err := v2.Scan(func(Object) error { calls++; return stop }); !errors.Is(err, stop) && !errors.As(err, &ce) {
		t.Fatalf("scan stopped by fn: %v", err)
	}
	if calls > 1 {
		t.Fatalf("fn called %d times after failing", calls)
	}
}

// A checkpoint that fails leaves views showing the checkpoint before it.
func TestStoreViewAfterAFailedCheckpoint(t *testing.T) {
	mem := NewMemFS()
	ffs := &FaultFS{FS: mem}
	s, err := OpenStore(ffs, stripeDirs(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var objs []Object
	for i := range 40 {
		objs = append(objs, obj("h", i, 1, "first"))
	}
	if _, err := s.Checkpoint(objs, map[string][]byte{"h": {1}}); err != nil {
		t.Fatal(err)
	}
	want, v := viewAll(t, s, "h")
	v.Close()
	for _, op := range []Op{OpWrite, OpSync, OpRename} {
		ffs.SetRule(func(o Op, _ string) error {
			if o == op {
				return syscall.EIO
			}
			return nil
		})
		var next []Object
		for i := range 60 {
			o := obj("h", i, 2, "second")
			if i%5 == 0 {
				o.Deleted = true
			}
			next = append(next, o)
		}
		if _, err := s.Checkpoint(next, map[string][]byte{"h": {2}}); err == nil {
			t.Fatalf("a checkpoint with %s failing succeeded", op)
		}
		ffs.SetRule(nil)
		got, v := viewAll(t, s, "h")
		if !sameObjects(got, want) || !bytes.Equal(v.Meta(), []byte{1}) {
			t.Fatalf("after a checkpoint failed on %s the view holds %d objects, meta %v; want the %d before", op, len(got), v.Meta(), len(want))
		}
		v.Close()
	}
}

// A view is put in file order by its first Scan; scans of one view at the
// same time (two lagging replicas) each read every object, overwritten
// ones at their latest version.
func TestViewScansAtTheSameTime(t *testing.T) {
	s, err := OpenStore(NewMemFS(), stripeDirs(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs := benchObjects(5000)
	if _, err := s.Checkpoint(objs, map[string][]byte{"bench": []byte("m")}); err != nil {
		t.Fatal(err)
	}
	// Overwrite every third object: the index then points into two
	// segments, not in ID order.
	var again []Object
	for i := 0; i < len(objs); i += 3 {
		o := objs[i]
		o.Version += 1 << 32
		again = append(again, o)
	}
	if _, err := s.Checkpoint(again, map[string][]byte{"bench": []byte("m")}); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.View("bench")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	defer v.Close()
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- scanAll(v, objs) }()
	}
	for range 4 {
		if err := await.Recv(t, errs, "the four scans to return"); err != nil {
			t.Fatal(err)
		}
	}
}

// scanAll scans v and checks it holds objs, every third one overwritten.
func scanAll(v *View, objs []Object) error {
	seen := map[[16]byte]uint64{}
	err := v.Scan(func(o Object) error {
		if _, dup := seen[o.ID]; dup {
			return fmt.Errorf("object %x twice", o.ID)
		}
		seen[o.ID] = o.Version
		return nil
	})
	if err != nil {
		return err
	}
	if len(seen) != len(objs) {
		return fmt.Errorf("scanned %d objects of %d", len(seen), len(objs))
	}
	for i, o := range objs {
		want := o.Version
		if i%3 == 0 {
			want += 1 << 32
		}
		if seen[o.ID] != want {
			return fmt.Errorf("object %d at version %d, want %d", i, seen[o.ID], want)
		}
	}
	return nil
}
