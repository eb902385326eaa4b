package persist

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// stripesAfterAFailedCheckpoint returns the directories of a store of
// three stripes on the operating system's files, holding seq(60, "v2"),
// whose stripe b once failed a checkpoint's sync (EIO), so that it went on
// in a new segment and its segments are not numbered as the others'.
func stripesAfterAFailedCheckpoint(t *testing.T) []string {
	t.Helper()
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")}
	ffs := &FaultFS{FS: OS{}}
	s, err := OpenStore(ffs, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(seq(60, "v1").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	ffs.SetRule(func(op Op, name string) error {
		if op == OpSync && strings.HasPrefix(name, dirs[1]+string(filepath.Separator)) {
			return syscall.EIO
		}
		return nil
	})
	if _, err := s.Checkpoint(seq(60, "v2").objects(), map[string][]byte{"h": []byte("2")}); err == nil {
		t.Fatal("a checkpoint whose sync of stripe b failed succeeded")
	}
	ffs.SetRule(nil)
	if _, err := s.Checkpoint(seq(60, "v2").objects(), map[string][]byte{"h": []byte("2")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dirs
}

// Stripe directories listed in another order than the store was written
// with are refused at open, naming a directory, and nothing in them is
// removed: listed again in their order, the store loads whole. Before, the
// open took the segments of one stripe's directory that the manifest lists
// for another for garbage and removed them.
func TestStoreRefusesStripesInAnotherOrder(t *testing.T) {
	dirs := stripesAfterAFailedCheckpoint(t)
	swapped := []string{dirs[0], dirs[2], dirs[1]}
	s, err := OpenStore(OS{}, swapped)
	if err == nil {
		err = s.Load(func(Object) {})
		s.Close()
	}
	if err == nil {
		t.Fatal("the store opened and loaded with its stripes b and c swapped")
	}
	if !strings.Contains(err.Error(), dirs[1]) && !strings.Contains(err.Error(), dirs[2]) {
		t.Errorf("the error names neither swapped directory: %v", err)
	}
	s, err = OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatalf("in their order again: %v", err)
	}
	defer s.Close()
	checkStore(t, "in their order again", s, seq(60, "v2"))
}

// A store written before stripe directories held their identity, its
// directories listed in another order: the segments the manifest lists
// for one stripe are missing from the directory standing in for it, and
// the open refuses with a *CorruptError naming the segment (and what to
// check), removing nothing.
func TestStoreWithoutIdentitiesRefusesStripesInAnotherOrder(t *testing.T) {
	dirs := stripesAfterAFailedCheckpoint(t)
	for _, d := range dirs {
		if err := os.Remove(filepath.Join(d, stripeFile)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := OpenStore(OS{}, []string{dirs[0], dirs[2], dirs[1]})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "mounted") {
		t.Fatalf("%v, want a *CorruptError that says what to check", err)
	}
	s, err := OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatalf("in their order again: %v", err)
	}
	defer s.Close()
	checkStore(t, "in their order again", s, seq(60, "v2"))
	if _, err := s.Checkpoint(seq(60, "v3").objects(), map[string][]byte{"h": []byte("3")}); err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		if id, ok, err := readStripeID(OS{}, d); err != nil || !ok || id.index != i || id.count != 3 {
			t.Errorf("%s after a checkpoint: identity %+v %v %v, want stripe %d of 3", d, id, ok, err, i)
		}
	}
}

// A stripe directory whose disk is not mounted (an empty directory where
// it was) stops the open, with an error naming the directory, whichever
// stripe it is; once the disk is back the store opens whole.
func TestStoreRefusesAnEmptyStripeDirectory(t *testing.T) {
	for i := range 3 {
		dirs := stripesAfterAFailedCheckpoint(t)
		away := dirs[i] + ".unmounted"
		if err := os.Rename(dirs[i], away); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dirs[i], 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := OpenStore(OS{}, dirs)
		if err == nil || !strings.Contains(err.Error(), dirs[i]) {
			t.Fatalf("stripe %d not mounted: %v, want an error naming %s", i, err, dirs[i])
		}
		if err := os.Remove(dirs[i]); err != nil {
			t.Fatalf("the open wrote into the empty %s: %v", dirs[i], err)
		}
		if err := os.Rename(away, dirs[i]); err != nil {
			t.Fatal(err)
		}
		s, err := OpenStore(OS{}, dirs)
		if err != nil {
			t.Fatalf("stripe %d mounted again: %v", i, err)
		}
		checkStore(t, "mounted again", s, seq(60, "v2"))
		s.Close()
	}
}

// A store given a stripe more or fewer is refused, naming the directory
// or the manifest, and loads whole with its own stripes.
func TestStoreRefusesAnotherNumberOfStripes(t *testing.T) {
	dirs := stripesAfterAFailedCheckpoint(t)
	more := append(slices.Clone(dirs), filepath.Join(filepath.Dir(dirs[0]), "d"))
	for _, ds := range [][]string{more, dirs[:2], {more[3], dirs[0], dirs[1], dirs[2]}} {
		if _, err := OpenStore(OS{}, ds); err == nil || !strings.Contains(err.Error(), filepath.Dir(dirs[0])) {
			t.Fatalf("opened with %v: %v, want an error naming a directory", ds, err)
		}
	}
	s, err := OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkStore(t, "with its own stripes", s, seq(60, "v2"))
}

// The first checkpoint writes the stripes' identities; one failed
// operation at each step of it (a creation, a write, a sync, a rename, a
// directory's sync) fails that checkpoint, and the store, reopened on the
// files as they are or after a power loss, takes the next checkpoint with
// every stripe's identity in place and loads it.
func TestStoreFirstCheckpointFailingAtEachStep(t *testing.T) {
	dirs := stripeDirs(3)
	for k := 1; ; k++ {
		mem := NewMemFS()
		ffs := &FaultFS{FS: mem}
		s, err := OpenStore(ffs, dirs)
		if err != nil {
			t.Fatal(err)
		}
		var count atomic.Int64
		ffs.SetRule(func(op Op, name string) error {
			if op != OpClose && op != OpOpen && count.Add(1) == int64(k) {
				return syscall.EIO
			}
			return nil
		})
		_, err = s.Checkpoint(seq(30, "v1").objects(), map[string][]byte{"h": []byte("1")})
		s.Close()
		if err == nil {
			if k == 1 {
				t.Fatal("no operation to fail")
			}
			break
		}
		for _, fsys := range []FS{mem, mem.Crash(rand.New(rand.NewPCG(uint64(k), 1)))} {
			s, err := OpenStore(fsys, dirs)
			if err != nil {
				t.Fatalf("operation %d failed, reopened: %v", k, err)
			}
			if _, err := s.Checkpoint(seq(30, "v2").objects(), map[string][]byte{"h": []byte("2")}); err != nil {
				t.Fatalf("operation %d failed, the next checkpoint: %v", k, err)
			}
			s.Close()
			if s, err = OpenStore(fsys, dirs); err != nil {
				t.Fatalf("operation %d failed, reopened after the next checkpoint: %v", k, err)
			}
			checkStore(t, fmt.Sprintf("operation %d failed", k), s, seq(30, "v2"))
			s.Close()
			for i, d := range dirs {
				if id, ok, err := readStripeID(fsys, d); err != nil || !ok || id.index != i {
					t.Fatalf("operation %d failed: %s's identity %+v %v %v", k, d, id, ok, err)
				}
			}
		}
	}
}
