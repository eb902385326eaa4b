// Package persist is the on-disk side of OSS: a write-ahead log and the
// files it lives in, behind an FS interface with four implementations:
// the operating system's (OS), an in-memory one that can simulate a crash
// (MemFS: what was not synced is lost, the last write may be torn, or any
// of the pages written since the last sync may be written back), one that
// records every operation and gives the file systems a power loss after
// each may leave (RecFS), and one that injects I/O errors on chosen
// operations (FaultFS).
//
// persist knows nothing of raft or heaps: it stores opaque records.
package persist

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// FS is the file system persist works through. Paths use the OS's
// separator. What a call returns is durable only as documented: file data
// after File.Sync, a created, renamed or removed name after SyncDir of its
// directory.
type FS interface {
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string) error
	// Create creates or truncates a file for writing and reading.
	Create(name string) (File, error)
	// OpenAppend opens an existing file to append to it.
	OpenAppend(name string) (File, error)
	// OpenWrite opens an existing file to write anywhere in it, with
	// WriteAt.
	OpenWrite(name string) (File, error)
	// Open opens an existing file for reading.
	Open(name string) (File, error)
	// Remove removes a file.
	Remove(name string) error
	// Rename renames a file, replacing the target.
	Rename(from, to string) error
	// ReadDir lists the names in a directory, sorted.
	ReadDir(dir string) ([]string, error)
	// SyncDir makes the directory's entries durable.
	SyncDir(dir string) error
}

// File is an open file.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	// WriteAt writes at off, over what is there or past the end (a gap
	// reads as zeros), in a file opened with OpenWrite or Create.
	io.WriterAt
	// Sync makes what was written durable.
	Sync() error
	// Truncate cuts the file to size bytes.
	Truncate(size int64) error
	// Size returns the file's size.
	Size() (int64, error)
	Close() error
}

// PlacedFile is a File that can tell whether it is still where it was
// opened. The write-ahead log asks after its syncs: a file removed, or
// moved away with its directory, takes writes and syncs as before, on an
// inode that no restart finds. The files of OS, MemFS and FaultFS are
// PlacedFiles; an FS whose files are not is not asked, so an FS that
// wraps another's files passes these methods on.
type PlacedFile interface {
	File
	// Linked reports whether the file still has a name: false once every
	// name it had was removed (its link count is zero), as when it, or
	// its directory with everything in it, was removed.
	Linked() (bool, error)
	// Named reports whether name still names this file (the same device
	// and inode): false once name was removed or renamed over, or a
	// directory on its path was moved away or replaced.
	Named(name string) (bool, error)
}

// OS is the operating system's file system.
type OS struct{}

// ErrNotRegular says a file the store would read or write is neither a
// regular file nor a directory.
var ErrNotRegular = errors.New("not a regular file")

// openPlain opens name as os.OpenFile does, refusing anything but a
// regular file or a directory. A FIFO in the data directory (a NODE_NAME
// or RESET_KEY made with mkfifo) held the node's start in open(2) for
// ever, waiting for a writer: the open does not wait (O_NONBLOCK, which
// a regular file or directory ignores), and the file's kind is checked
// before it is used; a device would be written as if it were a file.
func openPlain(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NONBLOCK, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if m := fi.Mode(); !m.IsRegular() && !m.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%v): move it aside", ErrNotRegular, m.Type())}
	}
	return f, nil
}

func (OS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o700) }

func (OS) Create(name string) (File, error) {
	f, err := openPlain(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

func (OS) OpenAppend(name string) (File, error) {
	f, err := openPlain(name, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

func (OS) OpenWrite(name string) (File, error) {
	f, err := openPlain(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

func (OS) Open(name string) (File, error) {
	f, err := openPlain(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f}, nil
}

func (OS) Remove(name string) error     { return os.Remove(name) }
func (OS) Rename(from, to string) error { return os.Rename(from, to) }
func (OS) ReadDir(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(es))
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

func (OS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

type osFile struct {
	*os.File
	aio   aioSync
	ident fileIdent // its device and inode, for Named
}

// Sync makes the file's data durable (fdatasync: its size too, not its
// times), without holding a processor on Linux (fsync_linux.go).
func (f *osFile) Sync() error { return f.aio.sync(f.File) }

// SyncOffPath is Sync through the kernel's asynchronous fsync where it
// can, whatever the other syncs in flight.
func (f *osFile) SyncOffPath() error { return f.aio.syncAsync(f.File) }

func (f *osFile) Close() error {
	f.aio.mu.Lock()
	f.aio.close()
	f.aio.mu.Unlock()
	return f.File.Close()
}

func (f *osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Linked implements PlacedFile: the file's link count is not zero. Where
// the system reports no link count the file is taken as linked.
func (f *osFile) Linked() (bool, error) { return fileLinked(f.File) }

// Named implements PlacedFile: name, looked up now, is this file.
func (f *osFile) Named(name string) (bool, error) { return fileNamed(f.File, &f.ident, name) }

// linkedByStat is Linked through fstat, where the system has no lighter
// way to ask (fs_linux.go).
func linkedByStat(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	n, ok := linkCount(st)
	return !ok || n > 0, nil
}

// namedByStat is Named through stat and fstat.
func namedByStat(f *os.File, name string) (bool, error) {
	at, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	return os.SameFile(st, at), nil
}

// join is filepath.Join, named for the package's use.
func join(elem ...string) string { return filepath.Join(elem...) }

// MakeDir creates dir and its missing parents through fsys, durably: it
// syncs the parent of every directory on dir's path, made by this call or
// before, so that a power loss does not take back the name of a directory
// that files synced in it were acknowledged in (SyncDir of a directory
// makes the names in it durable, not its own). It syncs them all at every
// call, so a call after one that failed or was killed between making a
// directory and syncing its parent repairs what that one left. A relative
// dir is synced up to ".", the working directory, not above it.
//
// dir is cleaned first, as filepath.Join cleans the names persist opens
// in it, and made and synced as cleaned: "link/../x" is "x", wherever
// link points.
//
// A parent that cannot be opened for reading to be synced (permission
// denied) is an error that names it and says what to do, unless the
// process may not write in it either (mayWrite): a directory this user
// could not have made a name in holds names its owner keeps durable (a
// home directory of mode 0711 above the data directory). The rule
// depends on the directories' modes, not on what this call made, so a
// retry fails where the first call failed.
func MakeDir(fsys FS, dir string) error {
	dir = filepath.Clean(dir)
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	var parents []string
	for d := dir; d != "." && filepath.Base(d) != ".." && filepath.Dir(d) != d; d = filepath.Dir(d) {
		parents = append(parents, filepath.Dir(d))
	}
	for _, p := range slices.Backward(parents) {
		err := fsys.SyncDir(p)
		if err == nil || errors.Is(err, fs.ErrPermission) && !mayWrite(p) {
			continue
		}
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("persist: %s cannot be synced, so a power loss could take back the directories made in it: %w (let the process read %s, or choose a directory elsewhere)", p, err, p)
		}
		return err
	}
	return nil
}
