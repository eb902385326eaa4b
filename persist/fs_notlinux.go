//go:build !linux

package persist

import "os"

// fileLinked reports whether f's link count is not zero (fstat; see
// fs_linux.go for why Linux asks otherwise).
func fileLinked(f *os.File) (bool, error) { return linkedByStat(f) }

// fileIdent keeps nothing here: Named asks with stat and fstat.
type fileIdent struct{}

// fileNamed reports whether name, looked up now, is f.
func fileNamed(f *os.File, _ *fileIdent, name string) (bool, error) { return namedByStat(f, name) }
