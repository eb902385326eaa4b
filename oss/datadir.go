package oss

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/objectsharing/oss/persist"
)

// lockDataDir creates the data directory if needed and takes its lock, so
// that two processes never use one directory.
func lockDataDir(dir string) (*os.File, error) {
	return lockDir(dir, "data directory")
}

// lockStripeDirs takes the lock of every stripe directory but the data
// directory itself (locked already): two nodes given one stripe directory
// would write over each other's segments and manifest. The locks are
// released by closing the files.
//
// A node that has run before (its data directory holds NODE_ID) creates
// no stripe directory: one that is missing is most likely a disk not
// mounted, and creating it would leave an empty directory, and a LOCK
// file, on the filesystem below the mount point.
func lockStripeDirs(dataDir string, dirs []string) ([]*os.File, error) {
	var locks []*os.File
	_, err := os.Stat(filepath.Join(dataDir, nodeIDFile))
	ranBefore := err == nil
	for _, d := range dirs {
		if filepath.Clean(d) == filepath.Clean(dataDir) {
			continue
		}
		if _, err := os.Stat(d); ranBefore && errors.Is(err, fs.ErrNotExist) {
			closeLocks(locks)
			return nil, fmt.Errorf("%w: stripe directory %s is missing, and the node has run on %s before: is its disk mounted? Start with the stripe directories the node ran with, in their order (create the directory first only if the node never wrote a checkpoint and it is to be a new, empty stripe)", persist.ErrStripeDirs, d, dataDir)
		}
		f, err := lockDir(d, "stripe directory")
		if err != nil {
			for _, l := range locks {
				l.Close()
			}
			return nil, err
		}
		locks = append(locks, f)
	}
	return locks, nil
}

// lockDir creates dir if needed and takes the lock of its LOCK file; what
// names the directory in errors.
func lockDir(dir, what string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oss: %s: %w", what, err)
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("oss: %s: %w", what, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("oss: %s %s is in use by another process or node (%s is locked): %w", what, dir, path, err)
	}
	return f, nil
}

// closeLocks releases the locks.
func closeLocks(locks []*os.File) error {
	var errs []error
	for _, l := range locks {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}
