package oss

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/persist"
)

// ErrDiskStalled is returned by Node.Close when it stopped waiting for
// the data directory's disk: its ctx had ended and a file operation had
// been under way for DiskStallAfter without returning (a hung NFS
// mount, a dying disk). The error names the operation and the file. A
// goroutine blocked in a system call cannot be stopped: the one in that
// operation, and those waiting for it (the replica's loop, the log's
// writer, the rest of the close), stay until it returns; then the close
// ends, closing the log and the store, and releases the data
// directory's lock. Until then a Start on the directory is refused (the
// lock), and Close waits for the close under way, within its own ctx.
// Everything else (the network endpoint, membership) is stopped before
// Close returns.
var ErrDiskStalled = errors.New("oss: the data directory's disk is stalled")

// DiskStallAfter is how long a file operation of the data directory may
// be under way before a Close whose ctx has ended gives up waiting for
// it. A disk that answers, however slowly, is waited for: a close cut
// short by its ctx still syncs the log and closes the store.
const DiskStallAfter = 5 * time.Second

// diskOps are the file operations of a node's data directory under way,
// so that a close that gives up on a stalled disk can say which one it
// waited for. An operation takes no lock and touches nothing shared by
// the node: one on a file marks a slot of the file (a clock read and a
// compare-and-swap), one of the file system (open, rename, remove, a
// directory's sync) a slot of pool. The mutex is taken when a file is
// opened or closed, by the stall check, and by an operation that finds
// every slot it may take busy (more than fileSlots at once on one file,
// more than len(pool) of the file system), which goes in busy.
type diskOps struct {
	pool [8]atomic.Pointer[diskOp]

	mu    sync.Mutex
	files map[*watchedFile]struct{} // open, from their open to their close's end
	next  uint64
	busy  map[uint64]diskOp
}

// diskOp is one operation under way.
type diskOp struct {
	op    persist.Op
	name  string
	since time.Time
}

// diskEpoch is what a file's slot counts its start from, in nanoseconds
// on the monotonic clock.
var diskEpoch = time.Now()

// begin records an operation of the file system; end(begin(...)) ends
// it. A token of 0 or more is a slot of pool, below 0 an entry of busy.
func (d *diskOps) begin(op persist.Op, name string) int {
	o := &diskOp{op: op, name: name, since: time.Now()}
	for i := range d.pool {
		if d.pool[i].Load() == nil && d.pool[i].CompareAndSwap(nil, o) {
			return i
		}
	}
	return d.beginBusy(*o)
}

func (d *diskOps) end(token int) {
	if token >= 0 {
		d.pool[token].Store(nil)
		return
	}
	d.endBusy(token)
}

// beginBusy records an operation that found no free slot.
func (d *diskOps) beginBusy(o diskOp) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	if d.busy == nil {
		d.busy = map[uint64]diskOp{}
	}
	d.busy[d.next] = o
	return -int(d.next)
}

func (d *diskOps) endBusy(token int) {
	d.mu.Lock()
	delete(d.busy, uint64(-token))
	d.mu.Unlock()
}

// opened and closed add f to the files the stall check looks at, and
// take it out once its close has returned.
func (d *diskOps) opened(f *watchedFile) {
	d.mu.Lock()
	if d.files == nil {
		d.files = map[*watchedFile]struct{}{}
	}
	d.files[f] = struct{}{}
	d.mu.Unlock()
}

func (d *diskOps) closed(f *watchedFile) {
	d.mu.Lock()
	delete(d.files, f)
	d.mu.Unlock()
}

// stalled returns the oldest operation under way, and how many are, if
// it has been under way for after or longer. An operation that began
// before the call and has not ended is in a slot of pool, of a file in
// files, or in busy until it ends: none is missed; one that begins or
// ends meanwhile may be counted or not, and is not the oldest.
func (d *diskOps) stalled(after time.Duration) (diskOp, int, bool) {
	var oldest diskOp
	n := 0
	see := func(o diskOp) {
		n++
		if oldest.since.IsZero() || o.since.Before(oldest.since) {
			oldest = o
		}
	}
	for i := range d.pool {
		if o := d.pool[i].Load(); o != nil {
			see(*o)
		}
	}
	d.mu.Lock()
	for f := range d.files {
		for i := range f.slots {
			if v := f.slots[i].Load(); v != 0 {
				see(f.op(v))
			}
		}
	}
	for _, o := range d.busy {
		see(o)
	}
	d.mu.Unlock()
	return oldest, n, !oldest.since.IsZero() && time.Since(oldest.since) >= after
}

// stallError is the error of a close that gave up on o, with busy
// operations under way.
func (o diskOp) stallError(busy int) error {
	more := ""
	if busy > 1 {
		more = fmt.Sprintf(" (and %d more operations under way)", busy-1)
	}
	return fmt.Errorf("%w: %s of %s has not returned in %v%s; the goroutine in it cannot be stopped and stays until it returns, and the close ends then, releasing the data directory's lock",
		ErrDiskStalled, o.op, o.name, time.Since(o.since).Round(time.Millisecond), more)
}

// stallPoll is how often a close whose ctx has ended looks whether the
// disk it waits for is stalled.
const stallPoll = 50 * time.Millisecond

// awaitDisk waits for done, a part of the close that uses the disk. Once
// ctx has ended it waits only while the disk answers: it returns an
// error matching ErrDiskStalled when an operation of the data directory
// has been under way for DiskStallAfter. A node without a data directory
// waits for done.
func (n *Node) awaitDisk(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	if n.diskOps == nil {
		<-done
		return nil
	}
	t := time.NewTicker(stallPoll)
	defer t.Stop()
	for {
		if o, busy, ok := n.diskOps.stalled(DiskStallAfter); ok {
			err := o.stallError(busy)
			n.log.Error("closing without waiting for the disk: it is stalled", "op", string(o.op), "file", o.name,
				"for", time.Since(o.since).Round(time.Millisecond), "under_way", busy, "err", err)
			return err
		}
		select {
		case <-done:
			return nil
		case <-t.C:
		}
	}
}

// watchFS returns fsys with its operations counted in d.
func watchFS(fsys persist.FS, d *diskOps) persist.FS { return watchedFS{fsys, d} }

// watchedFS records every operation of the FS it wraps, and of its
// files, in ops while it is under way.
type watchedFS struct {
	fs  persist.FS
	ops *diskOps
}

func (f watchedFS) do(op persist.Op, name string, fn func() error) error {
	id := f.ops.begin(op, name)
	defer f.ops.end(id)
	return fn()
}

func (f watchedFS) open(op persist.Op, name string, fn func(string) (persist.File, error)) (persist.File, error) {
	id := f.ops.begin(op, name)
	defer f.ops.end(id)
	fl, err := fn(name)
	if err != nil {
		return nil, err
	}
	w := &watchedFile{File: fl, name: name, ops: f.ops}
	f.ops.opened(w)
	return w, nil
}

func (f watchedFS) MkdirAll(dir string) error {
	return f.do("mkdir", dir, func() error { return f.fs.MkdirAll(dir) })
}

func (f watchedFS) Create(name string) (persist.File, error) {
	return f.open(persist.OpCreate, name, f.fs.Create)
}

func (f watchedFS) OpenAppend(name string) (persist.File, error) {
	return f.open(persist.OpOpen, name, f.fs.OpenAppend)
}

func (f watchedFS) OpenWrite(name string) (persist.File, error) {
	return f.open(persist.OpOpen, name, f.fs.OpenWrite)
}

func (f watchedFS) Open(name string) (persist.File, error) {
	return f.open(persist.OpOpen, name, f.fs.Open)
}

func (f watchedFS) Remove(name string) error {
	return f.do(persist.OpRemove, name, func() error { return f.fs.Remove(name) })
}

func (f watchedFS) Rename(from, to string) error {
	return f.do(persist.OpRename, from, func() error { return f.fs.Rename(from, to) })
}

func (f watchedFS) ReadDir(dir string) (names []string, err error) {
	err = f.do("readdir", dir, func() error {
		names, err = f.fs.ReadDir(dir)
		return err
	})
	return names, err
}

func (f watchedFS) SyncDir(dir string) error {
	return f.do(persist.OpSyncDir, dir, func() error { return f.fs.SyncDir(dir) })
}

// watchedFile is a file of a watchedFS. It passes on the optional
// methods persist asks its files for (SyncOffPath, PlacedFile).
type watchedFile struct {
	persist.File
	name string
	ops  *diskOps
	// slots are the file's operations under way, each 0 when free, else
	// its start in nanoseconds since diskEpoch shifted left by
	// fileOpBits, or'ed with its fileOp. Operations of one file may run
	// at once (reads from several goroutines); one that finds every
	// slot busy goes in ops.busy.
	slots [fileSlots]atomic.Uint64
}

// fileSlots is how many operations of one file at once are recorded
// without a lock.
const fileSlots = 4

// fileOp is the kind of a file's operation, in the low fileOpBits of
// its slot.
type fileOp uint64

const (
	fileRead fileOp = iota + 1
	fileWrite
	fileSync
	fileTruncate
	fileClose

	fileOpBits = 3
)

var fileOps = [...]persist.Op{fileRead: "read", fileWrite: persist.OpWrite, fileSync: persist.OpSync,
	fileTruncate: persist.OpTruncate, fileClose: persist.OpClose}

// begin records an operation of the file; end(begin(k)) ends it. A
// token of 0 or more is a slot, below 0 an entry of ops.busy.
func (f *watchedFile) begin(k fileOp) int {
	v := uint64(time.Since(diskEpoch))<<fileOpBits | uint64(k)
	for i := range f.slots {
		if f.slots[i].Load() == 0 && f.slots[i].CompareAndSwap(0, v) {
			return i
		}
	}
	return f.ops.beginBusy(f.op(v))
}

func (f *watchedFile) end(token int) {
	if token >= 0 {
		f.slots[token].Store(0)
		return
	}
	f.ops.endBusy(token)
}

// op is the operation a slot holding v records.
func (f *watchedFile) op(v uint64) diskOp {
	return diskOp{op: fileOps[v&(1<<fileOpBits-1)], name: f.name, since: diskEpoch.Add(time.Duration(v >> fileOpBits))}
}

func (f *watchedFile) Read(p []byte) (int, error) {
	t := f.begin(fileRead)
	defer f.end(t)
	return f.File.Read(p)
}

func (f *watchedFile) ReadAt(p []byte, off int64) (int, error) {
	t := f.begin(fileRead)
	defer f.end(t)
	return f.File.ReadAt(p, off)
}

func (f *watchedFile) Write(p []byte) (int, error) {
	t := f.begin(fileWrite)
	defer f.end(t)
	return f.File.Write(p)
}

func (f *watchedFile) WriteAt(p []byte, off int64) (int, error) {
	t := f.begin(fileWrite)
	defer f.end(t)
	return f.File.WriteAt(p, off)
}

func (f *watchedFile) Sync() error {
	t := f.begin(fileSync)
	defer f.end(t)
	return f.File.Sync()
}

// SyncOffPath is the file's SyncOffPath, or Sync where it has none.
func (f *watchedFile) SyncOffPath() error {
	s, ok := f.File.(interface{ SyncOffPath() error })
	if !ok {
		return f.Sync()
	}
	t := f.begin(fileSync)
	defer f.end(t)
	return s.SyncOffPath()
}

func (f *watchedFile) Truncate(size int64) error {
	t := f.begin(fileTruncate)
	defer f.end(t)
	return f.File.Truncate(size)
}

// Close leaves the files the stall check looks at once the close has
// returned: a close that stalls is found as any operation is.
func (f *watchedFile) Close() error {
	t := f.begin(fileClose)
	err := f.File.Close()
	f.end(t)
	f.ops.closed(f)
	return err
}

// Linked and Named pass persist.PlacedFile on; a file that cannot tell
// is taken as in place.
func (f *watchedFile) Linked() (bool, error) {
	if p, ok := f.File.(persist.PlacedFile); ok {
		return p.Linked()
	}
	return true, nil
}

func (f *watchedFile) Named(name string) (bool, error) {
	if p, ok := f.File.(persist.PlacedFile); ok {
		return p.Named(name)
	}
	return true, nil
}
