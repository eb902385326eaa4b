package persist

import (
	"fmt"
	"testing"
)

// checkLive compares the live bytes Stats keeps as the index changes with
// a count over the index.
func checkLive(t *testing.T, s *Store, when string) {
	t.Helper()
	st := s.Stats()
	for i, str := range s.stripes {
		if !st[i].Indexed {
			t.Fatalf("%s: stripe %d not indexed", when, i)
		}
		if want := min(str.liveBytes(), st[i].Bytes); st[i].Live != want {
			t.Errorf("%s: stripe %d: live %d, the index says %d", when, i, st[i].Live, want)
		}
		if st[i].Live > st[i].Bytes {
			t.Errorf("%s: stripe %d: live %d over its %d bytes", when, i, st[i].Live, st[i].Bytes)
		}
	}
}

func TestStoreStatsLiveAndGarbage(t *testing.T) {
	fsys := NewMemFS()
	dirs := stripeDirs(3)
	s, err := OpenStore(fsys, dirs)
	if err != nil {
		t.Fatal(err)
	}
	var objs []Object
	for i := range 100 {
		objs = append(objs, obj("a", i, 1, fmt.Sprint("v1-", i)), obj("b", i, 1, "b"))
	}
	if _, err := s.Checkpoint(objs, map[string][]byte{"a": []byte("m"), "b": []byte("m")}); err != nil {
		t.Fatal(err)
	}
	checkLive(t, s, "first checkpoint")
	var garbage0 int64
	for _, st := range s.Stats() {
		garbage0 += st.Bytes - st.Live
		if st.Checkpoints != 1 || st.CheckpointBytes == 0 || st.CheckpointBytes != uint64(st.Bytes) {
			t.Errorf("stripe %s: %+v", st.Dir, st)
		}
	}
	// Overwrites and deletions make garbage; a dropped space does too.
	objs = objs[:0]
	for i := range 50 {
		objs = append(objs, obj("a", i, 2, fmt.Sprint("value two, longer-", i)))
	}
	for i := 50; i < 60; i++ {
		o := obj("a", i, 2, "")
		o.Deleted = true
		objs = append(objs, o)
	}
	if _, err := s.Checkpoint(objs, map[string][]byte{"a": []byte("m2"), "b": nil}); err != nil {
		t.Fatal(err)
	}
	checkLive(t, s, "second checkpoint")
	var garbage int64
	for _, st := range s.Stats() {
		garbage += st.Bytes - st.Live
	}
	if garbage <= garbage0 {
		t.Errorf("garbage %d after overwrites, deletions and a drop, was %d", garbage, garbage0)
	}
	if _, err := s.Compact(0); err != nil {
		t.Fatal(err)
	}
	checkLive(t, s, "compaction")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened: unknown until the stripes are loaded.
	s, err = OpenStore(fsys, dirs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st[0].Indexed {
		t.Errorf("a reopened store knows its live bytes before loading: %+v", st[0])
	}
	loadAll(t, s)
	checkLive(t, s, "reopened and loaded")
}
