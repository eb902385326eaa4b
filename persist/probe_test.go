package persist

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A segment the manifest lists that is missing from its stripe's
// directory is damage, as one whose bytes are wrong: loading it returns a
// *CorruptError (which a node reports as ErrCorrupt, with the way to
// rebuild its replicas), not a plain file error.
func TestProbeStoreMissingSegmentIsCorrupt(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "s0"), filepath.Join(root, "s1")}
	s, err := OpenStore(OS{}, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(seq(20, "v").objects(), map[string][]byte{"h": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(root, "s*", "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segment written: %v", err)
	}
	if err := os.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(OS{}, dirs)
	if err == nil {
		err = s.Load(func(Object) {})
		s.Close()
	}
	if err == nil {
		t.Fatalf("the store opened and loaded without %s", segs[0])
	}
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != segs[0] {
		t.Fatalf("%v, want a *CorruptError naming %s", err, segs[0])
	}
}
