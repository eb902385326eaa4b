package persist

import (
	"errors"
	"sync"
)

// Op names an FS or File operation for FaultFS.
type Op string

// The operations FaultFS can fail.
const (
	OpCreate   Op = "create"
	OpOpen     Op = "open"
	OpWrite    Op = "write"
	OpSync     Op = "sync"
	OpTruncate Op = "truncate"
	OpRename   Op = "rename"
	OpRemove   Op = "remove"
	OpSyncDir  Op = "syncdir"
	OpClose    Op = "close"
)

// FaultFS wraps an FS and fails the operations its rule picks: EIO on a
// sync, ENOSPC on a write, after the nth, on one file. A failed write
// writes nothing, unless the rule returns a *ShortWrite. A failed close
// still closes the file.
type FaultFS struct {
	FS FS

	mu   sync.Mutex
	rule func(op Op, name string) error
}

// SetRule makes every later operation ask rule first; a non-nil error
// fails the operation. A nil rule fails nothing.
func (f *FaultFS) SetRule(rule func(op Op, name string) error) {
	f.mu.Lock()
	f.rule = rule
	f.mu.Unlock()
}

func (f *FaultFS) fail(op Op, name string) error {
	f.mu.Lock()
	rule := f.rule
	f.mu.Unlock()
	if rule == nil {
		return nil
	}
	return rule(op, name)
}

func (f *FaultFS) MkdirAll(dir string) error { return f.FS.MkdirAll(dir) }

func (f *FaultFS) Create(name string) (File, error) {
	if err := f.fail(OpCreate, name); err != nil {
		return nil, err
	}
	fl, err := f.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: fl, fs: f, name: name}, nil
}

func (f *FaultFS) OpenAppend(name string) (File, error) {
	if err := f.fail(OpOpen, name); err != nil {
		return nil, err
	}
	fl, err := f.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: fl, fs: f, name: name}, nil
}

func (f *FaultFS) OpenWrite(name string) (File, error) {
	if err := f.fail(OpOpen, name); err != nil {
		return nil, err
	}
	fl, err := f.FS.OpenWrite(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: fl, fs: f, name: name}, nil
}

func (f *FaultFS) Open(name string) (File, error) {
	if err := f.fail(OpOpen, name); err != nil {
		return nil, err
	}
	fl, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: fl, fs: f, name: name}, nil
}

func (f *FaultFS) Remove(name string) error {
	if err := f.fail(OpRemove, name); err != nil {
		return err
	}
	return f.FS.Remove(name)
}

func (f *FaultFS) Rename(from, to string) error {
	if err := f.fail(OpRename, from); err != nil {
		return err
	}
	return f.FS.Rename(from, to)
}

func (f *FaultFS) ReadDir(dir string) ([]string, error) { return f.FS.ReadDir(dir) }

func (f *FaultFS) SyncDir(dir string) error {
	if err := f.fail(OpSyncDir, dir); err != nil {
		return err
	}
	return f.FS.SyncDir(dir)
}

// ShortWrite, returned by a rule for a write, makes the write put down the
// first half of its bytes and then fail with Err: what a disk that fills
// up in the middle of a write leaves.
type ShortWrite struct{ Err error }

func (e *ShortWrite) Error() string { return "short write: " + e.Err.Error() }

// Unwrap returns Err.
func (e *ShortWrite) Unwrap() error { return e.Err }

type faultFile struct {
	File
	fs   *FaultFS
	name string
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.fail(OpWrite, f.name); err != nil {
		var sw *ShortWrite
		if !errors.As(err, &sw) {
			return 0, err
		}
		n, werr := f.File.Write(p[:len(p)/2])
		if werr != nil {
			return n, werr
		}
		return n, sw.Err
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.fail(OpWrite, f.name); err != nil {
		var sw *ShortWrite
		if !errors.As(err, &sw) {
			return 0, err
		}
		n, werr := f.File.WriteAt(p[:len(p)/2], off)
		if werr != nil {
			return n, werr
		}
		return n, sw.Err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.fail(OpSync, f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.fail(OpTruncate, f.name); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Close() error {
	err := f.fs.fail(OpClose, f.name)
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}

// Linked implements PlacedFile, for a file of an FS whose files are; other
// files are taken as linked.
func (f *faultFile) Linked() (bool, error) {
	if p, ok := f.File.(PlacedFile); ok {
		return p.Linked()
	}
	return true, nil
}

// Named implements PlacedFile as Linked does.
func (f *faultFile) Named(name string) (bool, error) {
	if p, ok := f.File.(PlacedFile); ok {
		return p.Named(name)
	}
	return true, nil
}
