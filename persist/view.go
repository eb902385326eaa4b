package persist

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
)

// A View is one space's objects as of the last checkpoint, read from the
// stripes while checkpoints and compactions go on: the records it points at
// never change (stripes only append) and the segments holding them stay
// until the view is closed. A raft snapshot for a lagging replica streams
// from one.
type View struct {
	s     *Store
	meta  []byte
	gen   uint64
	count int
	locs  [][]loc    // per stripe; in file order once sorted
	pins  [][]string // per stripe, the segments pinned
	once  sync.Once
	// sorted puts locs in file order, at the first Scan: a view is taken
	// after every checkpoint, for the snapshots of lagging replicas, and
	// most are never read.
	sorted sync.Once
}

// View returns the space's objects and metadata as of the last checkpoint,
// or false if the manifest does not list the space. The caller must Close
// it.
func (s *Store) View(space string) (*View, bool, error) {
	if err := s.index(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waitIndex()
	meta, ok := s.manifest.Spaces[space]
	if !ok {
		return nil, false, nil
	}
	v := &View{s: s, meta: meta, gen: s.manifest.Gen, locs: make([][]loc, len(s.stripes)), pins: make([][]string, len(s.stripes))}
	for i, st := range s.stripes {
		ids := st.idx[space]
		locs := make([]loc, 0, ids.Len())
		ids.each(func(l loc) { locs = append(locs, l) })
		v.locs[i] = locs
		v.count += len(locs)
		for _, seg := range s.manifest.Stripes[i] {
			st.pins[seg.Name]++
			v.pins[i] = append(v.pins[i], seg.Name)
		}
	}
	return v, true, nil
}

// Meta returns the space's metadata the view was taken with.
func (v *View) Meta() []byte { return v.meta }

// Gen returns the number of the checkpoint the view shows.
func (v *View) Gen() uint64 { return v.gen }

// Len returns the number of objects in the view.
func (v *View) Len() int { return v.count }

// Scan reads the view's objects, every stripe in parallel in file order,
// and calls fn for each from the calling goroutine, in no particular order,
// until fn fails. An object's Value is valid only during the call. A
// record that does not check out fails with a *CorruptError.
func (v *View) Scan(fn func(Object) error) error {
	type batch struct {
		objs []Object
		err  error
	}
	v.sorted.Do(func() {
		for _, locs := range v.locs {
			slices.SortFunc(locs, func(a, b loc) int {
				if a.seg != b.seg {
					return int(a.seg) - int(b.seg)
				}
				return int(a.off - b.off)
			})
		}
	})
	out := make(chan batch, 2*len(v.locs))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, locs := range v.locs {
		if len(locs) == 0 {
			continue
		}
		wg.Go(func() {
			v.s.stripes[i].read(v.s.fs, locs, stop, func(objs []Object, err error) bool {
				select {
				case out <- batch{objs, err}:
					return err == nil
				case <-stop:
					return false
				}
			})
		})
	}
	go func() { wg.Wait(); close(out) }()
	var err error
	for b := range out {
		if err != nil {
			continue
		}
		if err = b.err; err != nil {
			close(stop)
			continue
		}
		for _, o := range b.objs {
			if err = fn(o); err != nil {
				close(stop)
				break
			}
		}
	}
	return err
}

// readRun is how much a stripe reader reads at once: records close
// together are read in one call.
const readRun = 1 << 20

// read reads the records at locs (sorted) in runs and hands them over in
// batches until send returns false.
func (st *stripe) read(fsys FS, locs []loc, stop <-chan struct{}, send func([]Object, error) bool) {
	var f File
	var fseg uint32
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for k := 0; k < len(locs); {
		l := locs[k]
		if f == nil || fseg != l.seg {
			if f != nil {
				f.Close()
			}
			var err error
			if f, err = fsys.Open(filepath.Join(st.dir, stripeSegment(uint64(l.seg)))); err != nil {
				f = nil
				send(nil, fmt.Errorf("persist: view: %w", err))
				return
			}
			fseg = l.seg
		}
		// A run: the records from l on in this segment that end within
		// readRun of its start, with small gaps.
		end := k + 1
		for end < len(locs) && locs[end].seg == l.seg && locs[end].off+int64(locs[end].size)-l.off <= readRun && locs[end].off-(locs[end-1].off+int64(locs[end-1].size)) < 4096 {
			end++
		}
		last := locs[end-1]
		buf := make([]byte, last.off+int64(last.size)-l.off)
		path := filepath.Join(st.dir, stripeSegment(uint64(l.seg)))
		if n, err := f.ReadAt(buf, l.off); n < len(buf) {
			if err != nil && !errors.Is(err, io.EOF) {
				send(nil, fmt.Errorf("persist: view: %w", err)) // an I/O error, not damage
				return
			}
			send(nil, &CorruptError{File: path, Offset: l.off + int64(n), Reason: "shorter than the index records"})
			return
		}
		objs := make([]Object, 0, end-k)
		for ; k < end; k++ {
			r := locs[k]
			o, size, reason := decodeObject(buf[r.off-l.off:])
			if reason == "" && size != int(r.size) {
				reason = "record size differs from the index"
			}
			if reason != "" {
				send(nil, &CorruptError{File: path, Offset: r.off, Reason: reason})
				return
			}
			objs = append(objs, o)
		}
		if !send(objs, nil) {
			return
		}
	}
}

// Close releases the view's segments; those a compaction replaced
// meanwhile are removed.
func (v *View) Close() {
	v.once.Do(func() {
		s := v.s
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, names := range v.pins {
			st := s.stripes[i]
			for _, name := range names {
				if st.pins[name]--; st.pins[name] > 0 {
					continue
				}
				delete(st.pins, name)
				if st.doomed[name] {
					delete(st.doomed, name)
					if s.fs.Remove(filepath.Join(st.dir, name)) != nil {
						// The next compaction, or the next open, removes it.
						st.leftover = append(st.leftover, name)
					}
				}
			}
		}
	})
}
