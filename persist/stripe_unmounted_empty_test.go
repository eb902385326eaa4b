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

// notInStripe returns the objects of seq(n, val) that the store places in
// a stripe other than k.
func notInStripe(s *Store, k, n int, val string) values {
	v := values{}
	for i := range n {
		if o := obj("h", i, 1, val); s.stripeOf(o.Space, o.ID) != k {
			v[i] = val
		}
	}
	return v
}

// A stripe that never received an object (the manifest lists no segment
// for it), its disk not mounted (an empty directory where it was), is
// refused at open with ErrStripeDirs naming the directory, and nothing is
// written in it: once the disk is back the store opens whole. Before, the
// open took the empty directory and the next checkpoint wrote STRIPE and
// segments in it, below the mount point; with the disk mounted again the
// manifest listed segments the stripe lacks, and the open failed.
func TestStoreRefusesAnEmptyStripeThatNeverHeldAnObject(t *testing.T) {
	for k := 1; k < 3; k++ {
		root := t.TempDir()
		dirs := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")}
		s, err := OpenStore(OS{}, dirs)
		if err != nil {
			t.Fatal(err)
		}
		want := notInStripe(s, k, 60, "v1")
		if _, err := s.Checkpoint(want.objects(), map[string][]byte{"h": []byte("1")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if m := s.Manifest(); len(m.Stripes[k]) != 0 {
			t.Fatalf("stripe %d holds segments %v, want none", k, m.Stripes[k])
		}
		away := dirs[k] + ".unmounted"
		if err := os.Rename(dirs[k], away); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dirs[k], 0o700); err != nil {
			t.Fatal(err)
		}
		if s, err := OpenStore(OS{}, dirs); !errors.Is(err, ErrStripeDirs) || !strings.Contains(err.Error(), dirs[k]) {
			if err == nil {
				s.Checkpoint(seq(60, "v2").objects(), map[string][]byte{"h": []byte("2")})
				s.Close()
			}
			t.Fatalf("stripe %d not mounted: %v, want ErrStripeDirs naming %s", k, err, dirs[k])
		}
		if err := os.Remove(dirs[k]); err != nil {
			t.Fatalf("the refused open wrote into the empty %s: %v", dirs[k], err)
		}
		if err := os.Rename(away, dirs[k]); err != nil {
			t.Fatal(err)
		}
		s, err = OpenStore(OS{}, dirs)
		if err != nil {
			t.Fatalf("stripe %d mounted again: %v", k, err)
		}
		checkStore(t, "mounted again", s, want)
		s.Close()
	}
}

// A store written without stripe identities, whose first checkpoint with
// them fails at each step (one failed operation) and is retried after a
// reopen, on the files as they are or after a power loss, opens and loads:
// a marking cut short is not taken for a disk not mounted. The first
// directory's identity is written last, so a store with a manifest whose
// first directory has its identity has them in every stripe.
func TestStoreUpgradeMarkingFailingAtEachStep(t *testing.T) {
	dirs := stripeDirs(3)
	for op := 1; ; op++ {
		mem := NewMemFS()
		s, err := OpenStore(mem, dirs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Checkpoint(seq(30, "v1").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		for _, d := range dirs {
			if err := mem.Remove(filepath.Join(d, stripeFile)); err != nil {
				t.Fatal(err)
			}
			if err := mem.SyncDir(d); err != nil {
				t.Fatal(err)
			}
		}
		ffs := &FaultFS{FS: mem}
		if s, err = OpenStore(ffs, dirs); err != nil {
			t.Fatal(err)
		}
		var count atomic.Int64
		ffs.SetRule(func(o Op, name string) error {
			if o != OpClose && o != OpOpen && count.Add(1) == int64(op) {
				return syscall.EIO
			}
			return nil
		})
		_, err = s.Checkpoint(seq(30, "v2").objects(), map[string][]byte{"h": []byte("2")})
		s.Close()
		if err == nil {
			break
		}
		for _, fsys := range []FS{mem, mem.Crash(rand.New(rand.NewPCG(uint64(op), 2)))} {
			s, err := OpenStore(fsys, dirs)
			if err != nil {
				t.Fatalf("operation %d failed, reopened: %v", op, err)
			}
			if _, err := s.Checkpoint(seq(30, "v3").objects(), map[string][]byte{"h": []byte("3")}); err != nil {
				t.Fatalf("operation %d failed, the next checkpoint: %v", op, err)
			}
			s.Close()
			if s, err = OpenStore(fsys, dirs); err != nil {
				t.Fatalf("operation %d failed, reopened after the next checkpoint: %v", op, err)
			}
			checkStore(t, fmt.Sprintf("operation %d failed", op), s, seq(30, "v3"))
			s.Close()
			marked := slices.Collect(func(yield func(bool) bool) {
				for _, d := range dirs {
					_, ok, _ := readStripeID(fsys, d)
					yield(ok)
				}
			})
			if slices.Contains(marked, false) {
				t.Fatalf("operation %d failed: stripes marked %v after the next checkpoint", op, marked)
			}
		}
	}
}
