package persist

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The tests of this file fail the store's writes, syncs, cut-backs and
// removals, then check what the store holds: in the running process, in
// the next checkpoint, after a restart on the files as the failure left
// them and after a power loss.

// values maps an object of space "h" to its value.
type values map[int]string

func (v values) objects() []Object {
	var objs []Object
	for i, val := range v {
		objs = append(objs, obj("h", i, 1, val))
	}
	return objs
}

// checkStore checks that the store holds exactly want in space "h", by
// Load and by a View.
func checkStore(t *testing.T, what string, s *Store, want values) {
	t.Helper()
	var mu sync.Mutex
	got := values{}
	if err := s.Load(func(o Object) {
		mu.Lock()
		got[int(o.ID[0])|int(o.ID[1])<<8] = string(o.Value)
		mu.Unlock()
	}); err != nil {
		t.Fatalf("%s: load: %v", what, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: the store holds %v, want %v", what, got, want)
	}
	v, ok, err := s.View("h")
	if err != nil || !ok {
		t.Fatalf("%s: view: %v %v", what, ok, err)
	}
	defer v.Close()
	seen := values{}
	if err := v.Scan(func(o Object) error {
		seen[int(o.ID[0])|int(o.ID[1])<<8] = string(o.Value)
		return nil
	}); err != nil {
		t.Fatalf("%s: view: %v", what, err)
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("%s: the view holds %v, want %v", what, seen, want)
	}
}

// reopenAndCheck opens the store again on fsys and checks it holds want,
// then takes another checkpoint and checks that too.
func reopenAndCheck(t *testing.T, what string, fsys FS, dirs []string, want values) {
	t.Helper()
	s, err := OpenStore(fsys, dirs)
	if err != nil {
		t.Fatalf("%s: the store does not open: %v", what, err)
	}
	defer s.Close()
	checkStore(t, what, s, want)
	next := values{0: "after"}
	if _, err := s.Checkpoint(next.objects(), map[string][]byte{"h": []byte("after")}); err != nil {
		t.Fatalf("%s: a checkpoint after opening: %v", what, err)
	}
	after := values{}
	for k, v := range want {
		after[k] = v
	}
	after[0] = "after"
	checkStore(t, what+", a checkpoint later", s, after)
}

// asLeft returns a copy of the file system as it is now, written and
// unsynced alike: what a restart of the process (not of the machine)
// finds, without disturbing the store that still runs on m.
func asLeft(m *MemFS) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &MemFS{dirs: map[string]*memDir{}}
	for path, d := range m.dirs {
		nd := &memDir{names: map[string]*memNode{}, durable: map[string]*memNode{}}
		for name, n := range d.names {
			c := &memNode{data: slices.Clone(n.data), durable: slices.Clone(n.data)}
			nd.names[name], nd.durable[name] = c, c
		}
		out.dirs[path] = nd
	}
	return out
}

func seq(n int, val string) values {
	v := values{}
	for i := range n {
		v[i] = val
	}
	return v
}

// A checkpoint whose stripe write or sync fails and whose cut-back fails
// too: the next checkpoint must not write behind bytes the store does not
// account for (before, the truncate's error was ignored, and the next
// checkpoint's records lay past the offsets the index and the manifest
// gave them: the store read garbage and the next start refused it).
func TestStoreCheckpointWhoseCutBackFails(t *testing.T) {
	for _, fault := range []struct {
		name string
		op   Op
		err  error
	}{
		{"torn write", OpWrite, &ShortWrite{Err: syscall.ENOSPC}},
		{"failed sync", OpSync, syscall.EIO},
	} {
		t.Run(fault.name, func(t *testing.T) {
			mem := NewMemFS()
			ffs := &FaultFS{FS: mem}
			dirs := stripeDirs(2)
			s, err := OpenStore(ffs, dirs)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Checkpoint(seq(20, "one").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
				t.Fatal(err)
			}
			ffs.SetRule(func(op Op, name string) error {
				switch {
				case !strings.HasSuffix(name, ".seg"):
				case op == fault.op:
					return fault.err
				case op == OpTruncate:
					return syscall.EIO
				}
				return nil
			})
			if _, err := s.Checkpoint(seq(20, "two").objects(), map[string][]byte{"h": []byte("2")}); err == nil {
				t.Fatal("a checkpoint whose stripes failed succeeded")
			}
			ffs.SetRule(nil)
			checkStore(t, "after the failed checkpoint", s, seq(20, "one"))
			if _, err := s.Checkpoint(seq(10, "three").objects(), map[string][]byte{"h": []byte("3")}); err != nil {
				t.Fatal(err)
			}
			want := seq(20, "one")
			for i := range 10 {
				want[i] = "three"
			}
			checkStore(t, "the next checkpoint", s, want)
			crashed := mem.Crash(rand.New(rand.NewPCG(1, 2)))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			reopenAndCheck(t, "restarted", mem, dirs, want)
			reopenAndCheck(t, "after a power loss", crashed, dirs, want)
		})
	}
}

// A stripe file whose sync failed is never synced again: the kernel may
// have dropped the pages the failed sync covered and would report the
// next sync a success. The next checkpoint goes to a new segment.
func TestStoreFailedSyncIsNeverRetried(t *testing.T) {
	mem := NewMemFS()
	ffs := &FaultFS{FS: mem}
	dirs := stripeDirs(2)
	s, err := OpenStore(ffs, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(seq(20, "one").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed := map[string]bool{}
	var retried []string
	ffs.SetRule(func(op Op, name string) error {
		if op != OpSync || !strings.HasSuffix(name, ".seg") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if failed[name] {
			retried = append(retried, name)
		}
		if len(failed) == 0 {
			failed[name] = true
			return syscall.EIO
		}
		return nil
	})
	if _, err := s.Checkpoint(seq(20, "two").objects(), map[string][]byte{"h": []byte("2")}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("a checkpoint whose sync failed: %v", err)
	}
	for round := range 3 {
		if _, err := s.Checkpoint(seq(20, fmt.Sprint("three", round)).objects(), map[string][]byte{"h": []byte("3")}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	if len(retried) > 0 {
		t.Fatalf("synced again after a failed sync: %v", retried)
	}
	mu.Unlock()
	want := seq(20, "three2")
	checkStore(t, "after the failed sync", s, want)
	crashed := mem.Crash(rand.New(rand.NewPCG(3, 4)))
	s.Close()
	reopenAndCheck(t, "after a power loss", crashed, dirs, want)
}

// A checkpoint that fails leaves nothing of itself for the next one to
// take in: the next checkpoint holds the previous one and its own objects,
// whatever the failed one wrote and synced before it failed (before, the
// stripes that had succeeded kept the failed checkpoint's records, and the
// next manifest counted them: objects came back at versions no checkpoint
// had). When the failed manifest may be in place (its directory's sync
// failed after the rename), a restart finds the failed checkpoint or the
// previous one, whole.
func TestStoreFailedCheckpointLeavesNothingForTheNext(t *testing.T) {
	dirs := stripeDirs(2)
	probe, _ := OpenStore(NewMemFS(), dirs)
	// a lands in stripe 0, b in stripe 1, c in stripe 0.
	var a, b, c int
	for i, found := 100, 0; found < 3; i++ {
		o := obj("h", i, 0, "")
		switch k := probe.stripeOf("h", o.ID); {
		case k == 0 && a == 0:
			a, found = i, found+1
		case k == 1 && b == 0:
			b, found = i, found+1
		case k == 0 && i != a && c == 0 && a != 0:
			c, found = i, found+1
		}
	}
	manifestDir := dirs[0]
	for _, fault := range []struct {
		name  string
		named bool // the failed manifest may be in place
		rule  func(renamed bool, op Op, name string) error
	}{
		{"a stripe's sync", false, func(_ bool, op Op, name string) error {
			if op == OpSync && strings.HasPrefix(name, dirs[1]) && strings.HasSuffix(name, ".seg") {
				return syscall.EIO
			}
			return nil
		}},
		{"the manifest's sync", false, func(_ bool, op Op, name string) error {
			if op == OpSync && strings.HasSuffix(name, manifestName+".tmp") {
				return syscall.EIO
			}
			return nil
		}},
		{"the manifest's directory sync", true, func(renamed bool, op Op, name string) error {
			if op == OpSyncDir && renamed && name == manifestDir {
				return syscall.EIO
			}
			return nil
		}},
	} {
		t.Run(fault.name, func(t *testing.T) {
			mem := NewMemFS()
			ffs := &FaultFS{FS: mem}
			s, err := OpenStore(ffs, dirs)
			if err != nil {
				t.Fatal(err)
			}
			first := values{a: "one", b: "one"}
			if _, err := s.Checkpoint(first.objects(), map[string][]byte{"h": []byte("1")}); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			renamed := false
			ffs.SetRule(func(op Op, name string) error {
				mu.Lock()
				defer mu.Unlock()
				if op == OpRename && strings.HasSuffix(name, manifestName+".tmp") {
					renamed = true
				}
				return fault.rule(renamed, op, name)
			})
			failed := values{a: "two", b: "two"}
			if _, err := s.Checkpoint(failed.objects(), map[string][]byte{"h": []byte("2")}); err == nil {
				t.Fatal("the checkpoint did not fail")
			}
			ffs.SetRule(nil)
			checkStore(t, "after the failed checkpoint", s, first)
			if fault.named {
				// A restart now finds one of the two checkpoints, whole.
				r, err := OpenStore(asLeft(mem), dirs)
				if err != nil {
					t.Fatal(err)
				}
				want := first
				if string(r.Manifest().Spaces["h"]) == "2" {
					want = failed
				}
				checkStore(t, "restarted after the failed checkpoint", r, want)
				r.Close()
			}
			if _, err := s.Checkpoint(values{c: "three"}.objects(), map[string][]byte{"h": []byte("3")}); err != nil {
				t.Fatal(err)
			}
			want := values{a: "one", b: "one", c: "three"}
			checkStore(t, "the next checkpoint", s, want)
			crashed := mem.Crash(rand.New(rand.NewPCG(5, 6)))
			s.Close()
			reopenAndCheck(t, "restarted", mem, dirs, want)
			reopenAndCheck(t, "after a power loss", crashed, dirs, want)
		})
	}
}

// garbage makes a store worth compacting: rounds of overwrites.
func garbage(t *testing.T, s *Store, rounds int) values {
	t.Helper()
	var v values
	for r := range rounds {
		v = seq(40, fmt.Sprint("r", r))
		if _, err := s.Checkpoint(v.objects(), map[string][]byte{"h": []byte(fmt.Sprint(r))}); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// A compaction whose manifest may be in place (the directory's sync failed
// after the rename) keeps the segment that manifest names: before, it
// removed it, and the next start could not load the store.
func TestStoreCompactionWhoseManifestMayBeInPlace(t *testing.T) {
	mem := NewMemFS()
	ffs := &FaultFS{FS: mem}
	dirs := stripeDirs(2)
	s, err := OpenStore(ffs, dirs)
	if err != nil {
		t.Fatal(err)
	}
	want := garbage(t, s, 6)
	var mu sync.Mutex
	renamed := false
	ffs.SetRule(func(op Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == OpRename && strings.HasSuffix(name, manifestName+".tmp") {
			renamed = true
		}
		if op == OpSyncDir && renamed && name == dirs[0] {
			return syscall.EIO
		}
		return nil
	})
	if _, err := s.Compact(0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("a compaction whose manifest's directory did not sync: %v", err)
	}
	ffs.SetRule(nil)
	checkStore(t, "after the failed compaction", s, want)
	// Restarted now: the manifest in place, whichever it is, opens.
	r, err := OpenStore(asLeft(mem), dirs)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, "restarted after the failed compaction", r, want)
	r.Close()
	// The store goes on; compacting again works.
	want[1] = "later"
	if _, err := s.Checkpoint(values{1: "later"}.objects(), nil); err != nil {
		t.Fatal(err)
	}
	checkStore(t, "a checkpoint after the failed compaction", s, want)
	crashed := mem.Crash(rand.New(rand.NewPCG(7, 8)))
	if _, err := s.Compact(0); err != nil {
		t.Fatal(err)
	}
	checkStore(t, "compacted again", s, want)
	s.Close()
	reopenAndCheck(t, "restarted", mem, dirs, want)
	reopenAndCheck(t, "after a power loss", crashed, dirs, want)
}

// Compaction reports old segments it could not remove, does not count
// them as reclaimed, and removes them the next time.
func TestStoreCompactionReportsSegmentsItCouldNotRemove(t *testing.T) {
	mem := NewMemFS()
	ffs := &FaultFS{FS: mem}
	dirs := stripeDirs(1)
	s, err := OpenStore(ffs, dirs)
	if err != nil {
		t.Fatal(err)
	}
	want := garbage(t, s, 6)
	before := s.Manifest().Stripes[0]
	ffs.SetRule(func(op Op, name string) error {
		if op == OpRemove && strings.HasSuffix(name, ".seg") {
			return syscall.EIO
		}
		return nil
	})
	reclaimed, err := s.Compact(0)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("a compaction whose old segments stay: %v", err)
	}
	if reclaimed != 0 {
		t.Fatalf("reclaimed %d bytes, none of which was removed", reclaimed)
	}
	ffs.SetRule(nil)
	checkStore(t, "after the compaction", s, want)
	names, _ := mem.ReadDir(dirs[0])
	for _, seg := range before {
		if !strings.Contains(strings.Join(names, " "), seg.Name) {
			t.Fatalf("%s was removed despite the fault", seg.Name)
		}
	}
	if _, err := s.Compact(1 << 40); err != nil {
		t.Fatal(err)
	}
	names, _ = mem.ReadDir(dirs[0])
	for _, seg := range before {
		if strings.Contains(strings.Join(names, " "), seg.Name) {
			t.Fatalf("%s is still there after the next compaction: %v", seg.Name, names)
		}
	}
	s.Close()
	reopenAndCheck(t, "restarted", mem, dirs, want)
}

// A stripe whose last segment cannot be cut back at the first checkpoint
// after a start goes on in a new segment (before, every checkpoint failed
// for as long as the truncate did).
func TestStoreReopenedStripeThatCannotBeCutBack(t *testing.T) {
	mem := NewMemFS()
	dirs := stripeDirs(2)
	s, err := OpenStore(mem, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(seq(20, "one").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ffs := &FaultFS{FS: mem}
	s, err = OpenStore(ffs, dirs)
	if err != nil {
		t.Fatal(err)
	}
	ffs.SetRule(func(op Op, name string) error {
		if op == OpTruncate {
			return syscall.EIO
		}
		return nil
	})
	if _, err := s.Checkpoint(seq(10, "two").objects(), map[string][]byte{"h": []byte("2")}); err != nil {
		t.Fatalf("a checkpoint on a stripe that cannot be cut back: %v", err)
	}
	want := seq(20, "one")
	for i := range 10 {
		want[i] = "two"
	}
	checkStore(t, "after the checkpoint", s, want)
	s.Close()
	reopenAndCheck(t, "restarted", mem, dirs, want)
}

// On the operating system's files, a failed write cut back is followed by
// the next write at the cut: a segment the store created, or a compaction
// did, is written in append mode too (before, it was not, and the next
// record went past a hole, at the offset where the torn one had stopped).
func TestStoreCutBackOnTheOSFileSystem(t *testing.T) {
	for _, compacted := range []bool{false, true} {
		t.Run(fmt.Sprintf("compacted=%v", compacted), func(t *testing.T) {
			root := t.TempDir()
			dirs := []string{filepath.Join(root, "s0"), filepath.Join(root, "s1")}
			ffs := &FaultFS{FS: OS{}}
			s, err := OpenStore(ffs, dirs)
			if err != nil {
				t.Fatal(err)
			}
			want := values{}
			if compacted {
				want = garbage(t, s, 4)
				if _, err := s.Compact(0); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			torn := false
			ffs.SetRule(func(op Op, name string) error {
				mu.Lock()
				defer mu.Unlock()
				if op == OpWrite && strings.HasSuffix(name, ".seg") && !torn {
					torn = true
					return &ShortWrite{Err: syscall.ENOSPC}
				}
				return nil
			})
			if _, err := s.Checkpoint(seq(20, "torn").objects(), map[string][]byte{"h": []byte("1")}); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("a checkpoint with a torn write: %v", err)
			}
			ffs.SetRule(nil)
			if _, err := s.Checkpoint(seq(20, "whole").objects(), map[string][]byte{"h": []byte("2")}); err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				want[i] = "whole"
			}
			checkStore(t, "after the torn write", s, want)
			s.Close()
			reopenAndCheck(t, "restarted", OS{}, dirs, want)
		})
	}
}

// Checkpoints and compactions with one operation failed at random in each
// (a write torn or refused, a sync, a close, a creation, an open, a
// rename, a directory's sync, a removal), and at times every cut-back
// failing too: the store always holds the last checkpoint that succeeded,
// in the running process and in every later checkpoint; a restart on the
// files as they are, or after a power loss, finds it too, or one that
// failed after its manifest was renamed into place, whole. 40 seeds, in
// which each operation fails (the fewest, a removal, 6 times), 400 with
// OSS_LONG set.
func TestStoreCheckpointsUnderRandomFaults(t *testing.T) {
	t.Parallel()
	ops := []Op{OpWrite, OpSync, OpClose, OpCreate, OpOpen, OpRename, OpSyncDir, OpRemove}
	seeds := 40
	if os.Getenv("OSS_LONG") != "" {
		seeds = 400
	}
	failed, uncertain := map[Op]int{}, 0
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		mem := NewMemFS()
		ffs := &FaultFS{FS: mem}
		dirs := stripeDirs(1 + rng.IntN(3))
		s, err := OpenStore(ffs, dirs)
		if err != nil {
			t.Fatal(err)
		}
		model := values{0: "first"}
		if _, err := s.Checkpoint(model.objects(), map[string][]byte{"h": []byte("first")}); err != nil {
			t.Fatal(err)
		}
		// What a restart may find, by the space's metadata: the last
		// checkpoint whose manifest is durable, and those since that
		// failed with their manifest perhaps in place.
		possible := map[string]values{"first": model}
		var mu sync.Mutex
		var failAt, count int
		var failOp Op
		renamed, noCut := false, false
		ffs.SetRule(func(op Op, name string) error {
			mu.Lock()
			defer mu.Unlock()
			if op == OpTruncate && noCut && failOp != "" {
				return syscall.EIO
			}
			fail := false
			if op == failOp {
				fail = count == failAt
				count++
			}
			if !fail {
				if op == OpRename && strings.HasSuffix(name, manifestName+".tmp") {
					renamed = true
				}
				return nil
			}
			if op == OpWrite && rng.IntN(2) == 0 {
				return &ShortWrite{Err: syscall.ENOSPC}
			}
			return syscall.EIO
		})
		arm := func() Op {
			mu.Lock()
			defer mu.Unlock()
			failOp, failAt, count, renamed = ops[rng.IntN(len(ops))], rng.IntN(4), 0, false
			noCut = rng.IntN(3) == 0 // and every cut-back fails
			if rng.IntN(4) == 0 {
				failOp = "" // no fault this time
			}
			return failOp
		}
		disarm := func() (uncertain bool) {
			mu.Lock()
			defer mu.Unlock()
			failOp = ""
			return renamed
		}
		for round := range 12 {
			next := values{}
			for k, v := range model {
				next[k] = v
			}
			var objs []Object
			for range 1 + rng.IntN(30) {
				i := rng.IntN(60)
				o := obj("h", i, uint64(round+2), fmt.Sprint("r", round, "-", i))
				if rng.IntN(5) == 0 {
					o.Deleted, o.Value = true, nil
					delete(next, i)
				} else {
					next[i] = string(o.Value)
				}
				objs = append(objs, o)
			}
			op := arm()
			meta := fmt.Sprint(round)
			_, err := s.Checkpoint(objs, map[string][]byte{"h": []byte(meta)})
			named := disarm()
			switch {
			case err == nil:
				model, possible = next, map[string]values{meta: next}
			case named:
				possible[meta] = next
				uncertain++
			}
			if err != nil {
				failed[op]++
			}
			checkStore(t, fmt.Sprintf("seed %d round %d (fault on %s: %v)", seed, round, op, err), s, model)
			if rng.IntN(3) == 0 {
				op := arm()
				_, err := s.Compact(0)
				if disarm() && err != nil {
					uncertain++
				}
				if err != nil {
					failed[op]++
				}
				checkStore(t, fmt.Sprintf("seed %d round %d, compacted (fault on %s: %v)", seed, round, op, err), s, model)
			}
		}
		ffs.SetRule(nil)
		left := asLeft(mem)
		crashed := mem.Crash(rng)
		s.Close()
		for _, fsys := range []*MemFS{left, crashed} {
			r, err := OpenStore(fsys, dirs)
			if err != nil {
				t.Fatalf("seed %d: the store does not open: %v", seed, err)
			}
			want, ok := possible[string(r.Manifest().Spaces["h"])]
			if !ok {
				t.Fatalf("seed %d: restarted at checkpoint %q, which is none of %v", seed, r.Manifest().Spaces["h"], slices.Collect(maps.Keys(possible)))
			}
			checkStore(t, fmt.Sprintf("seed %d restarted", seed), r, want)
			r.Close()
		}
	}
	t.Logf("failed checkpoints and compactions by the operation failed: %v; their manifest perhaps in place: %d", failed, uncertain)
	for _, op := range ops {
		if failed[op] == 0 {
			t.Errorf("no checkpoint or compaction of the %d seeds failed on %s: the test does not exercise it", seeds, op)
		}
	}
}

// A store opened on a manifest that is not durable yet (the directory's
// sync failed after the rename, and the process restarted) makes it
// durable before it removes the segments only the manifest before it
// listed: before, it removed them at once, and a power loss that brought
// the older manifest back left it naming segments that were gone.
func TestStoreOpenRemovesNothingAnOlderManifestMayNeed(t *testing.T) {
	mem := NewMemFS()
	ffs := &FaultFS{FS: mem}
	dirs := stripeDirs(2)
	s, err := OpenStore(ffs, dirs)
	if err != nil {
		t.Fatal(err)
	}
	// Objects of stripe 1 only: its directory is not the manifest's.
	var ids []int
	for i := 0; len(ids) < 20; i++ {
		if s.stripeOf("h", obj("h", i, 0, "").ID) == 1 {
			ids = append(ids, i)
		}
	}
	var want values
	for r := range 6 {
		want = values{}
		for _, i := range ids {
			want[i] = fmt.Sprint("r", r)
		}
		if _, err := s.Checkpoint(want.objects(), map[string][]byte{"h": []byte(fmt.Sprint(r))}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	renamed := false
	ffs.SetRule(func(op Op, name string) error {
		mu.Lock()
		defer mu.Unlock()
		if op == OpRename && strings.HasSuffix(name, manifestName+".tmp") {
			renamed = true
		}
		if op == OpSyncDir && renamed && name == dirs[0] {
			return syscall.EIO
		}
		return nil
	})
	if _, err := s.Compact(0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("a compaction whose manifest's directory did not sync: %v", err)
	}
	s.Close()
	// The process restarts on the files as they are; the kernel writes
	// the stripe's directory back on its own, not the manifest's; then
	// the power fails.
	r, err := OpenStore(mem, dirs)
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, "restarted", r, want)
	r.Close()
	if err := mem.SyncDir(dirs[1]); err != nil {
		t.Fatal(err)
	}
	reopenAndCheck(t, "after a power loss", mem.Crash(nil), dirs, want)
}
