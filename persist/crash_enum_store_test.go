package persist

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
)

// storeEnum is what the enumerated store held at each manifest
// generation: space "h"'s objects and metadata.
type storeEnum struct {
	objs map[uint64]values
	meta map[uint64]string
}

// TestStoreCrashEnumerated runs a striped store of three stripes through
// checkpoints (each stripe's records written and synced in parallel, then
// the manifest written, synced, renamed into place and its directory
// synced), updates, deletions, a space added and dropped, compactions
// (a new segment per stripe, a manifest, the old segments removed), a
// close and an open that removes what no manifest lists; and checks, for
// a power loss after every operation, that the store opens at a
// checkpoint no older than the last one acknowledged and no newer than
// the last one begun, holding exactly what that checkpoint wrote, and
// takes the next checkpoint.
func TestStoreCrashEnumerated(t *testing.T) {
	t.Parallel()
	rec := NewRecFS()
	var acked, begun atomic.Uint64
	// The tag holds both at each operation: the last acknowledged
	// generation, and above it the last begun.
	rec.Tag = func() int64 { return int64(acked.Load()) | int64(begun.Load())<<32 }
	dirs := stripeDirs(3)
	enum := storeEnum{objs: map[uint64]values{0: {}}, meta: map[uint64]string{0: ""}}
	cur := values{}
	for round := range 2 {
		s, err := OpenStore(rec, dirs)
		if err != nil {
			t.Fatal(err)
		}
		for cp := range 4 {
			var objs []Object
			for i := range 24 {
				switch {
				case (i+cp)%5 == 0 && cp > 0:
					objs = append(objs, Object{Space: "h", ID: obj("h", i, 0, "").ID, Version: uint64(cp + 1), Deleted: true})
					delete(cur, i)
				case (i+cp)%3 != 1 || cp == 0:
					v := fmt.Sprintf("r%d-c%d-%d-%s", round, cp, i, string(make([]byte, i*11)))
					objs = append(objs, obj("h", i, uint64(cp+1), v))
					cur[i] = v
				}
			}
			spaces := map[string][]byte{"h": fmt.Appendf(nil, "meta r%d c%d", round, cp)}
			if cp == 1 {
				spaces["g"] = []byte("dropped at the next")
				objs = append(objs, obj("g", 1, 1, "g's"))
			}
			if cp == 2 {
				spaces["g"] = nil
			}
			gen := s.Manifest().Gen + 1
			begun.Store(gen)
			enum.objs[gen], enum.meta[gen] = maps.Clone(cur), string(spaces["h"])
			if _, err := s.Checkpoint(objs, spaces); err != nil {
				t.Fatal(err)
			}
			if got := s.Manifest().Gen; got != gen {
				t.Fatalf("checkpoint of generation %d, want %d", got, gen)
			}
			acked.Store(gen)
			if cp%2 == 1 {
				storeEnumCompact(t, s, &enum, &acked, cur)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	n := crashEnum(t, rec, func(fsys *MemFS, tag int64) error {
		return checkStoreImage(fsys, dirs, enum, uint64(tag)&(1<<32-1), uint64(tag)>>32)
	})
	t.Logf("%d operations, %d file systems checked", rec.Points(), n)
}

// storeEnumCompact compacts every stripe; each compaction's manifest is a
// generation that holds what the one before did.
func storeEnumCompact(t *testing.T, s *Store, enum *storeEnum, acked *atomic.Uint64, cur values) {
	t.Helper()
	gen := s.Manifest().Gen
	// Up to one generation a stripe, the same objects.
	for g := gen + 1; g <= gen+3; g++ {
		enum.objs[g], enum.meta[g] = maps.Clone(cur), enum.meta[gen]
	}
	if _, err := s.Compact(0); err != nil {
		t.Fatal(err)
	}
	acked.Store(s.Manifest().Gen)
}

// checkStoreImage opens the store on fsys and checks that it is at a
// generation from acked to begun, holding what it held then, and takes a
// checkpoint.
func checkStoreImage(fsys FS, dirs []string, enum storeEnum, acked, begun uint64) error {
	s, err := OpenStore(fsys, dirs)
	if err != nil {
		return fmt.Errorf("the store does not open (acknowledged generation %d): %w", acked, err)
	}
	defer s.Close()
	m := s.Manifest()
	if m.Gen < acked || m.Gen > begun+3 {
		return fmt.Errorf("the store opens at generation %d, acknowledged %d, begun %d", m.Gen, acked, begun)
	}
	var mu sync.Mutex
	got := values{}
	var bad error
	if err := s.Load(func(o Object) {
		mu.Lock()
		defer mu.Unlock()
		if o.Space != "h" {
			if _, ok := m.Spaces[o.Space]; !ok {
				bad = fmt.Errorf("at generation %d, an object of space %q, which its manifest does not list", m.Gen, o.Space)
			}
			return
		}
		got[int(o.ID[0])|int(o.ID[1])<<8] = string(o.Value)
	}); err != nil {
		return fmt.Errorf("load at generation %d: %w", m.Gen, err)
	}
	if bad != nil {
		return bad
	}
	if fmt.Sprint(got) != fmt.Sprint(enum.objs[m.Gen]) {
		return fmt.Errorf("at generation %d the store holds %v, want %v", m.Gen, got, enum.objs[m.Gen])
	}
	if string(m.Spaces["h"]) != enum.meta[m.Gen] {
		return fmt.Errorf("at generation %d the metadata reads %q, want %q", m.Gen, m.Spaces["h"], enum.meta[m.Gen])
	}
	if _, err := s.Checkpoint([]Object{obj("h", 1, 99, "after")}, map[string][]byte{"h": []byte("after")}); err != nil {
		return fmt.Errorf("checkpoint after the open: %w", err)
	}
	return errors.Join(s.Close())
}
