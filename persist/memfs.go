package persist

import (
	"fmt"
	"io"
	"io/fs"
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
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &MemFS{dirs: map[string]*memDir{}}
	copied := map[*memNode]*memNode{}
	for path, d := range m.dirs {
		nd := &memDir{names: map[string]*memNode{}, durable: map[string]*memNode{}}
		for name, n := range d.durable {
			c, ok := copied[n]
			if !ok {
				c = &memNode{data: slices.Clone(n.durable)}
				if extra := len(n.data) - len(n.durable); extra > 0 && rng != nil && rng.IntN(2) == 0 &&
					len(n.data) >= len(n.durable) && string(n.data[:len(n.durable)]) == string(n.durable) {
					tail := slices.Clone(n.data[len(n.durable) : len(n.durable)+rng.IntN(extra+1)])
					if len(tail) > 0 && rng.IntN(2) == 0 {
						tail[len(tail)-1] ^= byte(1 + rng.IntN(255))
					}
					c.data = append(c.data, tail...)
				}
				c.durable = slices.Clone(c.data)
				copied[n] = c
			}
			nd.names[name], nd.durable[name] = c, c
		}
		out.dirs[path] = nd
	}
	return out
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

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check(false); err != nil {
		return err
	}
	f.node.durable = slices.Clone(f.node.data)
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
