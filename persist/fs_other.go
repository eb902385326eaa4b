//go:build !unix

package persist

import "os"

// linkCount reports no link count where the system has none to report
// (fs_unix.go).
func linkCount(os.FileInfo) (uint64, bool) { return 0, false }
