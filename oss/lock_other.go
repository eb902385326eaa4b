//go:build !unix

package oss

import "os"

// lockFile is a no-op where flock is not available.
func lockFile(f *os.File) error { return nil }

// unlockFile is a no-op where flock is not available.
func unlockFile(f *os.File) error { return nil }
