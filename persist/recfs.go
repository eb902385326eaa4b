package persist

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"maps"
	"path/filepath"
	"slices"
	"sync"
)

// RecFS is an in-memory FS that records every operation that changes it
// (a create, write, sync, truncate, rename, removal, directory sync or new
// directory) and can give, for a power loss right after any of them, the
// file systems a disk could be left holding (CrashAt): each file's data
// written since its last Sync lost, kept, torn at a sector boundary, or
// its new size kept with zeros for the data; the names created, renamed,
// removed or made since their directory's last SyncDir all lost, all
// kept, or, with prefixes, kept up to some point in the order they were
// made (a journaling file system commits them in order). A new
// directory's name is durable once its parent is synced.
//
// One data mode applies to every file of an image at once: no image
// keeps one file's unsynced data and loses another's, and a torn write
// keeps a prefix, not any subset of the pages written. MemFS.CrashPages,
// drawn at random (wal_power_test.go), covers those; RecFS enumerates the
// points, not every combination at a point.
//
// Operations are serialized, so that a crash point is one instant of
// the whole file system, also under writers in parallel. RecFS is for
// tests: every point keeps a copy of what the files hold.
type RecFS struct {
	mem *MemFS
	// Tag, if not nil, is asked at every crash point for a value stored
	// with it (what the caller had acknowledged by then).
	Tag func() int64

	mu     sync.Mutex
	ids    map[*memNode]int
	dirs   map[string]*recDir
	seq    int // name edits made
	points []recPoint
	prev   map[int]recData // each node's content at the last point
}

// recDir is a directory's names as RecFS sees them: durable as of its
// last SyncDir, and the edits made since, in order. A name maps to a
// node's id, or to recSubdir.
type recDir struct {
	durable map[string]int
	pending []recEdit
}

const recSubdir = -1

type recEdit struct {
	seq  int
	name string
	node int  // recSubdir for a directory
	gone bool // the name was removed
}

type recData struct{ data, durable []byte }

type recPoint struct {
	op    string
	tag   int64
	dirs  map[string]recDir
	nodes map[int]recData
}

// NewRecFS returns an empty recording file system.
func NewRecFS() *RecFS {
	r := &RecFS{mem: NewMemFS(), ids: map[*memNode]int{}, dirs: map[string]*recDir{}, prev: map[int]recData{}}
	r.dirs["."] = &recDir{durable: map[string]int{}}
	r.dirs[string(filepath.Separator)] = &recDir{durable: map[string]int{}}
	return r
}

// CrashData says what a power loss leaves of a file's data written since
// its last Sync.
type CrashData int

// The ways a power loss leaves unsynced data.
const (
	DataLost  CrashData = iota // the file as of its last Sync
	DataKept                   // everything written
	DataTorn                   // written up to the last sector boundary before the end
	DataZeros                  // the new size, zeros for the unsynced bytes
	crashDataModes
)

func (d CrashData) String() string {
	return [...]string{"data lost", "data kept", "data torn", "data zeros"}[d]
}

// CrashDataModes are the CrashData values.
var CrashDataModes = []CrashData{DataLost, DataKept, DataTorn, DataZeros}

// NamesKept, given to CrashAt, keeps every name edit not yet synced;
// NamesLost (0) keeps none; n in between keeps the first n of them.
const (
	NamesLost = 0
	NamesKept = -1
)

// Points returns the number of crash points recorded so far: point k is
// the instant after the k-th operation (from 0).
func (r *RecFS) Points() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.points)
}

// Point returns what operation k was, and its tag.
func (r *RecFS) Point(k int) (op string, tag int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.points[k].op, r.points[k].tag
}

// Pending returns how many name edits were not durable at point k: the
// prefixes CrashAt can keep are 0 to that.
func (r *RecFS) Pending(k int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var edits []recEdit
	for _, d := range r.points[k].dirs {
		edits = append(edits, d.pending...)
	}
	return len(recSeqs(edits))
}

// recSeqs returns the numbers of edits, each once, in order: a rename's
// two halves are one.
func recSeqs(edits []recEdit) []int {
	var seqs []int
	for _, e := range edits {
		seqs = append(seqs, e.seq)
	}
	slices.Sort(seqs)
	return slices.Compact(seqs)
}

// CrashAt returns the file system a power loss right after operation k
// leaves: data as mode says, and names as names says (NamesLost,
// NamesKept, or the first names pending edits kept), and a hash of it, the
// same for two calls that leave the same. The result is an ordinary
// MemFS, all of it durable.
func (r *RecFS) CrashAt(k int, mode CrashData, names int) (*MemFS, uint64) {
	r.mu.Lock()
	p := r.points[k]
	r.mu.Unlock()
	var edits []recEdit
	for _, d := range p.dirs {
		edits = append(edits, d.pending...)
	}
	seqs := recSeqs(edits)
	if names >= 0 {
		seqs = seqs[:min(names, len(seqs))]
	}
	keep := map[int]bool{}
	for _, s := range seqs {
		keep[s] = true
	}
	view := map[string]map[string]int{}
	for path, d := range p.dirs {
		m := maps.Clone(d.durable)
		for _, e := range d.pending {
			if !keep[e.seq] {
				continue
			}
			if e.gone {
				delete(m, e.name)
			} else {
				m[e.name] = e.node
			}
		}
		view[path] = m
	}
	out := &MemFS{dirs: map[string]*memDir{}}
	made := map[int]*memNode{}
	h := fnv.New64a()
	for _, path := range slices.Sorted(maps.Keys(view)) {
		if !recPresent(view, path) {
			continue
		}
		md := &memDir{names: map[string]*memNode{}, durable: map[string]*memNode{}}
		out.dirs[path] = md
		fmt.Fprintf(h, "d%q\x00", path)
		for _, name := range slices.Sorted(maps.Keys(view[path])) {
			id := view[path][name]
			if id == recSubdir {
				continue
			}
			n, ok := made[id]
			if !ok {
				data := crashData(p.nodes[id], mode)
				n = &memNode{data: data, durable: slices.Clone(data)}
				made[id] = n
			}
			md.names[name], md.durable[name] = n, n
			fmt.Fprintf(h, "f%q %d %d\x00", name, id, len(n.data))
			h.Write(n.data)
		}
	}
	return out, h.Sum64()
}

// recPresent reports whether directory path survives: a root, or named
// in its parent, which survives.
func recPresent(view map[string]map[string]int, path string) bool {
	parent := filepath.Dir(path)
	if parent == path {
		return true // a root
	}
	names, ok := view[parent]
	if !ok {
		return false
	}
	if id, ok := names[filepath.Base(path)]; !ok || id != recSubdir {
		return false
	}
	return recPresent(view, parent)
}

// crashData returns what mode leaves of a file's content.
func crashData(d recData, mode CrashData) []byte {
	switch mode {
	case DataKept:
		return slices.Clone(d.data)
	case DataTorn:
		from := commonPrefix(d.data, d.durable)
		end := max(len(d.data), len(d.durable))
		b := (end - 1) / crashSector * crashSector
		if b <= from {
			return slices.Clone(d.durable)
		}
		out := slices.Clone(d.data[:min(b, len(d.data))])
		if len(d.durable) > len(out) {
			out = append(out, d.durable[len(out):]...)
		}
		return out
	case DataZeros:
		out := make([]byte, len(d.data))
		copy(out, d.durable)
		return out
	}
	return slices.Clone(d.durable)
}

// point records the instant after op. The caller holds r.mu.
func (r *RecFS) point(op string) {
	p := recPoint{op: op, dirs: make(map[string]recDir, len(r.dirs)), nodes: map[int]recData{}}
	if r.Tag != nil {
		p.tag = r.Tag()
	}
	live := map[int]bool{}
	for path, d := range r.dirs {
		p.dirs[path] = recDir{durable: maps.Clone(d.durable), pending: slices.Clone(d.pending)}
		for _, id := range d.durable {
			live[id] = true
		}
		for _, e := range d.pending {
			live[e.node] = true
		}
	}
	r.mem.mu.Lock()
	for n, id := range r.ids {
		if !live[id] {
			continue
		}
		prev, ok := r.prev[id]
		if !ok || !bytes.Equal(prev.data, n.data) || !bytes.Equal(prev.durable, n.durable) {
			prev = recData{data: slices.Clone(n.data), durable: slices.Clone(n.durable)}
			r.prev[id] = prev
		}
		p.nodes[id] = prev
	}
	r.mem.mu.Unlock()
	r.points = append(r.points, p)
}

// edit records a name made, replaced or removed in dir. The caller holds
// r.mu.
func (r *RecFS) edit(dir, name string, node int, gone bool) {
	d, ok := r.dirs[dir]
	if !ok {
		d = &recDir{durable: map[string]int{}}
		r.dirs[dir] = d
	}
	r.seq++
	d.pending = append(d.pending, recEdit{seq: r.seq, name: name, node: node, gone: gone})
}

// nodeOf returns the id of the node name names now. The caller holds r.mu.
func (r *RecFS) nodeOf(name string) int {
	r.mem.mu.Lock()
	defer r.mem.mu.Unlock()
	d, base, err := r.mem.dir(name)
	if err != nil {
		return recSubdir
	}
	n := d.names[base]
	id, ok := r.ids[n]
	if !ok {
		id = len(r.ids)
		r.ids[n] = id
	}
	return id
}

func split(name string) (dir, base string) {
	name = clean(name)
	return filepath.Dir(name), filepath.Base(name)
}

// MkdirAll implements FS: each new directory's name is an edit of its
// parent.
func (r *RecFS) MkdirAll(dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	dir = clean(dir)
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, ok := r.dirs[d]; ok || filepath.Dir(d) == d {
			break
		}
		made = append(made, d)
	}
	if err := r.mem.MkdirAll(dir); err != nil {
		return err
	}
	for _, d := range slices.Backward(made) {
		r.dirs[d] = &recDir{durable: map[string]int{}}
		parent, base := split(d)
		r.edit(parent, base, recSubdir, false)
	}
	if len(made) > 0 {
		r.point("mkdir " + dir)
	}
	return nil
}

// Create implements FS.
func (r *RecFS) Create(name string) (File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.mem.Create(name)
	if err != nil {
		return nil, err
	}
	dir, base := split(name)
	r.edit(dir, base, r.nodeOf(name), false)
	r.point("create " + name)
	return &recFile{File: f, r: r, name: name}, nil
}

// OpenAppend implements FS.
func (r *RecFS) OpenAppend(name string) (File, error) { return r.open(name, r.mem.OpenAppend) }

// OpenWrite implements FS.
func (r *RecFS) OpenWrite(name string) (File, error) { return r.open(name, r.mem.OpenWrite) }

// Open implements FS.
func (r *RecFS) Open(name string) (File, error) { return r.open(name, r.mem.Open) }

func (r *RecFS) open(name string, open func(string) (File, error)) (File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	r.nodeOf(name)
	return &recFile{File: f, r: r, name: name}, nil
}

// Remove implements FS.
func (r *RecFS) Remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.mem.Remove(name); err != nil {
		return err
	}
	dir, base := split(name)
	r.edit(dir, base, 0, true)
	r.point("remove " + name)
	return nil
}

// Rename implements FS.
func (r *RecFS) Rename(from, to string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.mem.Rename(from, to); err != nil {
		return err
	}
	id := r.nodeOf(to)
	fd, fb := split(from)
	td, tb := split(to)
	// One edit's number for both halves: kept or lost together.
	r.edit(fd, fb, 0, true)
	r.seq--
	r.edit(td, tb, id, false)
	r.point("rename " + from + " " + to)
	return nil
}

// ReadDir implements FS.
func (r *RecFS) ReadDir(dir string) ([]string, error) { return r.mem.ReadDir(dir) }

// SyncDir implements FS.
func (r *RecFS) SyncDir(dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.mem.SyncDir(dir); err != nil {
		return err
	}
	d := r.dirs[clean(dir)]
	for _, e := range d.pending {
		if e.gone {
			delete(d.durable, e.name)
		} else {
			d.durable[e.name] = e.node
		}
	}
	d.pending = nil
	r.point("syncdir " + dir)
	return nil
}

type recFile struct {
	File
	r    *RecFS
	name string
}

// do runs a changing operation of the file as one crash point.
func (f *recFile) do(op string, fn func() error) error {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	if err := fn(); err != nil {
		return err
	}
	f.r.point(op + " " + f.name)
	return nil
}

func (f *recFile) Write(p []byte) (n int, err error) {
	err = f.do("write", func() error { n, err = f.File.Write(p); return err })
	return n, err
}

func (f *recFile) WriteAt(p []byte, off int64) (n int, err error) {
	err = f.do("writeat", func() error { n, err = f.File.WriteAt(p, off); return err })
	return n, err
}

func (f *recFile) Sync() error { return f.do("sync", f.File.Sync) }

func (f *recFile) Truncate(size int64) error {
	return f.do("truncate", func() error { return f.File.Truncate(size) })
}

// Linked implements PlacedFile.
func (f *recFile) Linked() (bool, error) { return f.File.(PlacedFile).Linked() }

// Named implements PlacedFile.
func (f *recFile) Named(name string) (bool, error) { return f.File.(PlacedFile).Named(name) }
