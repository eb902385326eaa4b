//go:build unix

package persist

import (
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
