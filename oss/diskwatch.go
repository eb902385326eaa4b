package oss

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
// waited for.
type diskOps struct {
	mu   sync.Mutex
	next uint64
	busy map[uint64]diskOp
}

// diskOp is one operation under way.
type diskOp struct {
	op    persist.Op
	name  string
	since time.Time
}

func (d *diskOps) begin(op persist.Op, name string) uint64 {
	now := time.Now()
	d.mu.Lock()
	d.next++
	id := d.next
	if d.busy == nil {
		d.busy = map[uint64]diskOp{}
	}
	d.busy[id] = diskOp{op: op, name: name, since: now}
	d.mu.Unlock()
	return id
}

func (d *diskOps) end(id uint64) {
	d.mu.Lock()
	delete(d.busy, id)
	d.mu.Unlock()
}

// stalled returns the oldest operation under way, and how many are, if
// it has been under way for after or longer.
func (d *diskOps) stalled(after time.Duration) (diskOp, int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var oldest diskOp
	for _, o := range d.busy {
		if oldest.since.IsZero() || o.since.Before(oldest.since) {
			oldest = o
		}
	}
	return oldest, len(d.busy), !oldest.since.IsZero() && time.Since(oldest.since) >= after
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
	return &watchedFile{File: fl, name: name, ops: f.ops}, nil
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
}

func (f *watchedFile) Read(p []byte) (int, error) {
	id := f.ops.begin("read", f.name)
	defer f.ops.end(id)
	return f.File.Read(p)
}

func (f *watchedFile) ReadAt(p []byte, off int64) (int, error) {
	id := f.ops.begin("read", f.name)
	defer f.ops.end(id)
	return f.File.ReadAt(p, off)
}

func (f *watchedFile) Write(p []byte) (int, error) {
	id := f.ops.begin(persist.OpWrite, f.name)
	defer f.ops.end(id)
	return f.File.Write(p)
}

func (f *watchedFile) WriteAt(p []byte, off int64) (int, error) {
	id := f.ops.begin(persist.OpWrite, f.name)
	defer f.ops.end(id)
	return f.File.WriteAt(p, off)
}

func (f *watchedFile) Sync() error {
	id := f.ops.begin(persist.OpSync, f.name)
	defer f.ops.end(id)
	return f.File.Sync()
}

// SyncOffPath is the file's SyncOffPath, or Sync where it has none.
func (f *watchedFile) SyncOffPath() error {
	s, ok := f.File.(interface{ SyncOffPath() error })
	if !ok {
		return f.Sync()
	}
	id := f.ops.begin(persist.OpSync, f.name)
	defer f.ops.end(id)
	return s.SyncOffPath()
}

func (f *watchedFile) Truncate(size int64) error {
	id := f.ops.begin(persist.OpTruncate, f.name)
	defer f.ops.end(id)
	return f.File.Truncate(size)
}

func (f *watchedFile) Close() error {
	id := f.ops.begin(persist.OpClose, f.name)
	defer f.ops.end(id)
	return f.File.Close()
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
