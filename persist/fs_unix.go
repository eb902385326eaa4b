//go:build unix

package persist

import (
	"errors"
	"os"
	"syscall"
)

// linkCount returns the file's link count, if the system reports one.
func linkCount(st os.FileInfo) (uint64, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(sys.Nlink), true
}

// mayWrite reports whether the process may write in dir, as far as
// access(2) tells: false only if it says permission denied or a
// read-only file system; true if dir may be written or access fails
// otherwise (dir not there: MakeDir then reports the sync's error).
var mayWrite = func(dir string) bool {
	err := syscall.Access(dir, 2) // W_OK
	return !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EROFS)
}
