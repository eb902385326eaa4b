//go:build !unix

package persist

import "os"

// linkCount reports no link count where the system has none to report
// (fs_unix.go).
func linkCount(os.FileInfo) (uint64, bool) { return 0, false }

// mayWrite says true where access(2) is not asked (fs_unix.go): a parent
// MakeDir cannot sync is an error.
var mayWrite = func(string) bool { return true }
