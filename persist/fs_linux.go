package persist

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The log asks after every sync whether its segment is still where it
// was opened (WAL.inPlace): whether the segment's path names the file it
// writes, and, to word the error, whether the file is still linked.
// stat and fstat would answer, but on a file system with multigrain
// timestamps (ext4, XFS, btrfs and tmpfs since Linux 6.13) a stat that
// reports a file's times marks them as seen, and the next write then
// stamps the file with a fine-grained time of its own: every append
// after a check dirtied the inode, where without one a write changes
// the times once a clock tick. Three logs syncing on one disk took 20%
// longer a commit for it (docs/design.md, "It was not the system call
// but what it looked at"). statx asked for the link count or the inode
// number alone reports no times, so it marks none. Where statx is
// refused (a kernel before 4.11: ENOSYS; a seccomp filter written
// before it: EPERM, or ENOSYS) the process asks with stat and fstat
// from then on.
var statxRefused atomic.Bool

// statx is unix.Statx; tests refuse it.
var statx = unix.Statx

// refusedStatx reports whether err is statx refused as a call, not an
// answer about the file, and if so asks with fstat from now on.
func refusedStatx(err error) bool {
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		statxRefused.Store(true)
		return true
	}
	return false
}

// fileLinked reports whether f's link count is not zero.
func fileLinked(f *os.File) (bool, error) {
	if statxRefused.Load() {
		return linkedByStat(f)
	}
	var st unix.Statx_t
	err := statxFile(f, unix.STATX_NLINK, &st)
	if refusedStatx(err) {
		return linkedByStat(f)
	}
	if err != nil {
		return false, err
	}
	if st.Mask&unix.STATX_NLINK == 0 {
		// An answer without the link count (a file system that fills
		// only some fields) says nothing: ask fstat, which reports it.
		return linkedByStat(f)
	}
	return st.Nlink > 0, nil
}

// fileIdent is an open file's device and inode, asked of the file once:
// they do not change while it is open, and the log asks after every sync
// whether its segment's path still names them (WAL.inPlace), so only the
// path's side is asked each time.
type fileIdent struct {
	mu    sync.Mutex
	known bool
	st    unix.Statx_t
}

// of returns f's device and inode, asking statx the first time. ok is
// false if statx answered without the inode number (not kept: asked
// again next time).
func (id *fileIdent) of(f *os.File) (st unix.Statx_t, ok bool, err error) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.known {
		return id.st, true, nil
	}
	if err := statxFile(f, unix.STATX_INO, &st); err != nil {
		return st, false, err
	}
	if st.Mask&unix.STATX_INO == 0 {
		return st, false, nil
	}
	id.st, id.known = st, true
	return st, true, nil
}

// fileNamed reports whether name, looked up now, is f (whose identity id
// keeps): the same device and inode.
func fileNamed(f *os.File, id *fileIdent, name string) (bool, error) {
	if statxRefused.Load() {
		return namedByStat(f, name)
	}
	var at unix.Statx_t
	err := statx(unix.AT_FDCWD, name, 0, unix.STATX_INO, &at)
	if refusedStatx(err) {
		return namedByStat(f, name)
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "statx", Path: name, Err: err}
	}
	st, ok, err := id.of(f)
	if err != nil {
		if refusedStatx(err) {
			return namedByStat(f, name)
		}
		return false, err
	}
	if !ok || at.Mask&unix.STATX_INO == 0 {
		// Without the inode numbers every file would look the same.
		return namedByStat(f, name)
	}
	return at.Dev_major == st.Dev_major && at.Dev_minor == st.Dev_minor && at.Ino == st.Ino, nil
}

// statxFile is statx(2) of the open file f, asking for mask.
func statxFile(f *os.File, mask int, st *unix.Statx_t) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = statx(int(fd), "", unix.AT_EMPTY_PATH, mask, st)
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "statx", Path: f.Name(), Err: serr}
	}
	return nil
}
