//go:build unix

package oss

import (
	"os"
	"syscall"
)

func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// unlockFile releases f's lock. Closing f alone releases it only once no
// other descriptor refers to f's open file: a child process the program
// forks holds a copy until it execs, which on a loaded machine may come
// after the node has closed and another has tried to take the lock.
func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
