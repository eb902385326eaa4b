package persist

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// MemFS is an in-memory FS that remembers what is durable: a file's bytes
// up to its last Sync, a directory's names as of its last SyncDir. Crash
// returns the file system a machine would find after losing power now.
// MemFS is safe for concurrent use.
type MemFS struct {
	mu   sync.Mutex
	dirs map[string]*memDir
}

type memDir struct {
	names   map[string]*memNode // as the running system sees them
	durable map[string]*memNode // as of the last SyncDir
}

// memNode is a file's content, shared by every open handle and name.
type memNode struct {
	data    []byte
	durable []byte // content as of the last Sync
	// clean is how much of data is durable's as it is: nothing before
	// it was overwritten or cut off since the last Sync, which copies
	// data from there on (appends are after it). Zero copies the whole.
	clean int
}

// NewMemFS returns an empty in-memory file system.
func NewMemFS() *MemFS {
	return &MemFS{dirs: map[string]*memDir{".": {names: map[string]*memNode{}, durable: map[string]*memNode{}}}}
}

func clean(name string) string { return filepath.Clean(name) }

func (m *MemFS) dir(name string) (*memDir, string, error) {
	d, base := filepath.Split(clean(name))
	d = clean(d)
	md, ok := m.dirs[d]
	if !ok {
		return nil, "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return md, base, nil
}

// MkdirAll implements FS; directories are durable at once.
func (m *MemFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = clean(dir)
	for d := dir; ; d = filepath.Dir(d) {
		if _, ok := m.dirs[d]; !ok {
			m.dirs[d] = &memDir{names: map[string]*memNode{}, durable: map[string]*memNode{}}
		}
		if d == "." || d == "/" || d == filepath.Dir(d) {
			return nil
		}
	}
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.dir(name)
	if err != nil {
		return nil, err
	}
	n := &memNode{}
	d.names[base] = n
	return &memFile{fs: m, node: n, name: name, write: true}, nil
}

// OpenAppend implements FS.
func (m *MemFS) OpenAppend(name string) (File, error) {
	return m.open(name, true)
}

// OpenWrite implements FS.
func (m *MemFS) OpenWrite(name string) (File, error) {
	return m.open(name, true)
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.open(name, false) }

func (m *MemFS) open(name string, write bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.dir(name)
	if err != nil {
		return nil, err
	}
	n, ok := d.names[base]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{fs: m, node: n, name: name, write: write}, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.dir(name)
	if err != nil {
		return err
	}
	if _, ok := d.names[base]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(d.names, base)
	return nil
}

// Rename implements FS.
func (m *MemFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fd, fb, err := m.dir(from)
	if err != nil {
		return err
	}
	td, tb, err := m.dir(to)
	if err != nil {
		return err
	}
	n, ok := fd.names[fb]
	if !ok {
		return &fs.PathError{Op: "rename", Path: from, Err: fs.ErrNotExist}
	}
	delete(fd.names, fb)
	td.names[tb] = n
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[clean(dir)]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for n := range d.names {
		names = append(names, n)
	}
	prefix := clean(dir) + string(filepath.Separator)
	for p := range m.dirs {
		if rest, ok := strings.CutPrefix(p, prefix); ok && !strings.ContainsRune(rest, filepath.Separator) {
			names = append(names, rest)
		}
	}
	slices.Sort(names)
	return names, nil
}

// SyncDir implements FS.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[clean(dir)]
	if !ok {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: fs.ErrNotExist}
	}
	d.durable = make(map[string]*memNode, len(d.names))
	for k, v := range d.names {
		d.durable[k] = v
	}
	return nil
}

// Crash returns the file system as it would be found after a power loss
// now: the names each directory held at its last SyncDir, each file's bytes
// as of its last Sync, and, drawn from rng, a prefix of what was written
// after it, possibly with its last bytes garbled: a torn write. The
// receiver stays usable, as the machine that crashed, for no purpose.
func (m *MemFS) Crash(rng *rand.Rand) *MemFS {
	return m.crash(func(n *memNode) []byte { return crashPrefix(n, rng) })
}

// CrashPages returns the file system as a power loss now would leave it
// on a disk whose page cache writes back in any order: the names each
// directory held at its last SyncDir, each file's bytes as of its last
// Sync, and, drawn from rng, any subset of the 4 KiB pages written since
// (a page written back may be torn, some of its 512-byte sectors new and
// the rest old). A file whose size changed since its last Sync has the old
// size, the new one, or one between; what it grew by reads as zeros where
// its pages were not written back. The receiver stays usable, as the
// machine that crashed, for no purpose.
func (m *MemFS) CrashPages(rng *rand.Rand) *MemFS {
	// How much of the page cache the disk saw: now none, now all of it.
	keep := []float64{0, 0.2, 0.5, 0.8, 1}[rng.IntN(5)]
	return m.crash(func(n *memNode) []byte { return crashPages(n, rng, keep) })
}

// crash returns the durable names of m, each file's content as content
// says a power loss leaves it. Names are visited in order, so that a
// seeded content draws the same.
func (m *MemFS) crash(content func(n *memNode) []byte) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &MemFS{dirs: map[string]*memDir{}}
	copied := map[*memNode]*memNode{}
	for _, path := range slices.Sorted(maps.Keys(m.dirs)) {
		d := m.dirs[path]
		nd := &memDir{names: map[string]*memNode{}, durable: map[string]*memNode{}}
		for _, name := range slices.Sorted(maps.Keys(d.durable)) {
			n := d.durable[name]
			c, ok := copied[n]
			if !ok {
				data := content(n)
				c = &memNode{data: data, durable: slices.Clone(data)}
				copied[n] = c
			}
			nd.names[name], nd.durable[name] = c, c
		}
		out.dirs[path] = nd
	}
	return out
}

// crashPrefix returns n's durable bytes and, drawn from rng, a prefix of
// what was written after its last Sync, its last byte perhaps garbled.
func crashPrefix(n *memNode, rng *rand.Rand) []byte {
	data := slices.Clone(n.durable)
	// What was written since the last sync, from the first byte that
	// differs: a prefix of it reached the disk.
	from := commonPrefix(n.data, n.durable)
	if extra := len(n.data) - from; extra > 0 && rng != nil && rng.IntN(2) == 0 {
		tail := slices.Clone(n.data[from : from+rng.IntN(extra+1)])
		if len(tail) > 0 && rng.IntN(2) == 0 {
			tail[len(tail)-1] ^= byte(1 + rng.IntN(255))
		}
		if end := from + len(tail); end > len(data) {
			data = append(data, make([]byte, end-len(data))...)
		}
		copy(data[from:], tail)
	}
	return data
}

// The units a disk writes back: pages, and the sectors a page written
// when the power fails may be torn at.
const (
	crashPage   = 4096
	crashSector = 512
)

// crashPages returns n's durable bytes with each page that differs in
// what was written since its last Sync written back (whole, or some of its
// sectors) with probability keep, drawn from rng, in a file of the old
// size, the new one or one between.
func crashPages(n *memNode, rng *rand.Rand, keep float64) []byte {
	size := len(n.durable)
	if lo, hi := min(len(n.durable), len(n.data)), max(len(n.durable), len(n.data)); lo != hi {
		size = []int{len(n.durable), len(n.data), lo + rng.IntN(hi-lo+1)}[rng.IntN(3)]
	}
	out := make([]byte, size)
	copy(out, n.durable)
	for p := 0; p < size; p += crashPage {
		old := out[p:min(p+crashPage, size)]
		var cur []byte
		if p < len(n.data) {
			cur = n.data[p:min(p+crashPage, size, len(n.data))]
		}
		if bytes.Equal(old[:len(cur)], cur) || rng.Float64() >= keep {
			continue // as it was, or zeros where the file grew
		}
		torn := rng.IntN(4) == 0
		for s := 0; s < len(cur); s += crashSector {
			if !torn || rng.IntN(2) == 0 {
				copy(old[s:], cur[s:min(s+crashSector, len(cur))])
			}
		}
	}
	return out
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

type memFile struct {
	fs     *MemFS
	node   *memNode
	name   string
	write  bool
	off    int64
	closed bool
}

func (f *memFile) check(write bool) error {
	if f.closed {
		return fmt.Errorf("%s: %w", f.name, fs.ErrClosed)
	}
	if write && !f.write {
		return &fs.PathError{Op: "write", Path: f.name, Err: fs.ErrPermission}
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(false); err != nil {
		return 0, err
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Write appends: every writer of persist appends.
func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(true); err != nil {
		return 0, err
	}
	f.node.data = append(f.node.data, p...)
	return len(p), nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(true); err != nil {
		return 0, err
	}
	f.node.clean = int(min(int64(f.node.clean), off))
	if end := off + int64(len(p)); end > int64(len(f.node.data)) {
		f.node.data = append(f.node.data, make([]byte, end-int64(len(f.node.data)))...)
	}
	copy(f.node.data[off:], p)
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(false); err != nil {
		return err
	}
	n := f.node
	n.durable = append(n.durable[:min(n.clean, len(n.durable))], n.data[min(n.clean, len(n.data)):]...)
	n.clean = len(n.data)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(true); err != nil {
		return err
	}
	if size < int64(len(f.node.data)) {
		f.node.data = f.node.data[:size:size]
		f.node.clean = min(f.node.clean, int(size))
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.node.data)), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return fmt.Errorf("%s: %w", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// Linked implements PlacedFile: a directory still holds the file under
// some name.
func (f *memFile) Linked() (bool, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	for _, d := range f.fs.dirs {
		for _, n := range d.names {
			if n == f.node {
				return true, nil
			}
		}
	}
	return false, nil
}

// Named implements PlacedFile.
func (f *memFile) Named(name string) (bool, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	d, base, err := f.fs.dir(name)
	if err != nil {
		return false, nil
	}
	return d.names[base] == f.node, nil
}
