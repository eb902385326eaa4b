//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// lockForMove takes the lock a running node holds on dir (its LOCK file,
// as package oss takes it), so that a directory is never moved aside from
// under the node that uses it. The returned function lets go.
func lockForMove(dir string) (func(), error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil // no node ever ran on it
	}
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by a running node (%s is locked): stop that node first: %w", dir, path, err)
	}
	return func() { f.Close() }, nil
}
