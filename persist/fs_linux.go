package persist

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// The log asks after every sync whether its segment is still linked
// (WAL.inPlace). fstat would answer, but on a file system with
// multigrain timestamps (ext4, XFS, btrfs and tmpfs since Linux 6.13)
// a stat that reports a file's times marks them as seen, and the next
// write then stamps the file with a fine-grained time of its own: every
// append after a check dirtied the inode, in ext4's journal, where
// without one a write changes the times once a clock tick. Three logs
// syncing on one disk took 20% longer a commit for it (docs/design.md,
// "The log's check that its segment is in place"). statx asked for the
// link count or the inode number alone reports no times, so it marks
// none; a kernel without statx (before 4.11) is asked with fstat.

// fileLinked reports whether f's link count is not zero.
func fileLinked(f *os.File) (bool, error) {
	var st unix.Statx_t
	err := statxFile(f, unix.STATX_NLINK, &st)
	if errors.Is(err, unix.ENOSYS) {
		return linkedByStat(f)
	}
	if err != nil {
		return false, err
	}
	if st.Mask&unix.STATX_NLINK == 0 {
		return true, nil
	}
	return st.Nlink > 0, nil
}

// fileNamed reports whether name, looked up now, is f: the same device
// and inode.
func fileNamed(f *os.File, name string) (bool, error) {
	var at, st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, name, 0, unix.STATX_INO, &at)
	if errors.Is(err, unix.ENOSYS) {
		return namedByStat(f, name)
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "statx", Path: name, Err: err}
	}
	if err := statxFile(f, unix.STATX_INO, &st); err != nil {
		return false, err
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
		serr = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH, mask, st)
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "statx", Path: f.Name(), Err: serr}
	}
	return nil
}
