package oss

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/objectsharing/oss/persist"
)

// lockDirs takes the lock of the data directory and of every stripe
// directory but the data directory itself (none for a node that keeps
// nothing on disk): two processes never use one data directory, and two
// nodes given one stripe directory would write over each other's
// segments and manifest. The locks are released by closing the files.
//
// Nothing is written before check (reading only) has accepted the
// directories: the locks whose LOCK file exists are taken first, so that
// a directory another node uses is refused as in use before it is read;
// then the stripe directories are checked; only then are the directories
// and LOCK files that are missing created and locked. A refused start
// leaves them as it found them: a LOCK file written into an empty
// directory (a disk not mounted) would be hidden under the disk once it
// is mounted, or make the mount point look used.
//
// A node that has run before (its data directory holds NODE_ID) creates
// no stripe directory: one that is missing is most likely a disk not
// mounted, and creating it would leave an empty directory, and a LOCK
// file, on the filesystem below the mount point.
func lockDirs(dataDir string, stripes []string, check func() error) (data *os.File, stripeLocks []*os.File, err error) {
	dirs, what := []string{dataDir}, []string{"data directory"}
	for _, d := range stripes {
		if filepath.Clean(d) != filepath.Clean(dataDir) {
			dirs, what = append(dirs, d), append(what, "stripe directory")
		}
	}
	locks := make([]*os.File, len(dirs))
	defer func() {
		if err != nil {
			closeLocks(locks)
		}
	}()
	for i, d := range dirs {
		if locks[i], err = lockExisting(d, what[i]); err != nil {
			return nil, nil, err
		}
	}
	_, err = os.Stat(filepath.Join(dataDir, nodeIDFile))
	ranBefore := err == nil
	for _, d := range dirs[1:] {
		if _, err := os.Stat(d); ranBefore && errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: stripe directory %s is missing, and the node has run on %s before: is its disk mounted? Start with the stripe directories the node ran with, in their order (create the directory first only if the node never wrote a checkpoint and it is to be a new, empty stripe)", persist.ErrStripeDirs, d, dataDir)
		}
	}
	if err = check(); err != nil {
		return nil, nil, err
	}
	for i, d := range dirs {
		if locks[i] == nil {
			if locks[i], err = lockDir(d, what[i]); err != nil {
				return nil, nil, err
			}
		}
	}
	return locks[0], locks[1:], nil
}

// lockExisting takes the lock of dir's LOCK file if the file exists, and
// returns nil if it does not: it writes nothing. what names the directory
// in errors.
func lockExisting(dir, what string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oss: %s: %w", what, err)
	}
	return takeLock(f, dir, what)
}

// lockDir creates dir if needed and takes the lock of its LOCK file; what
// names the directory in errors.
func lockDir(dir, what string) (*os.File, error) {
	// Durably: the node acknowledges what it syncs in the directory.
	if err := persist.MakeDir(persist.OS{}, dir); err != nil {
		return nil, fmt.Errorf("oss: %s: %w", what, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("oss: %s: %w", what, err)
	}
	return takeLock(f, dir, what)
}

// takeLock takes the lock of f, the LOCK file of dir, or closes it.
func takeLock(f *os.File, dir, what string) (*os.File, error) {
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("oss: %s %s is in use by another process or node (%s is locked): %w", what, dir, f.Name(), err)
	}
	return f, nil
}

// closeLocks releases the locks and closes their files. Each lock is
// released before its file is closed: a child process forked meanwhile
// (by the program that embeds the node) holds a copy of the file until
// it execs, and the lock with it.
func closeLocks(locks []*os.File) error {
	var errs []error
	for _, l := range locks {
		if l != nil {
			errs = append(errs, unlockFile(l), l.Close())
		}
	}
	return errors.Join(errs...)
}

// notDurableData refuses a node that keeps nothing on disk a data
// directory that holds a durable node's identity: it would leave that
// node's replicas unread and start empty, as another member, where a
// node restarted on its data directory recovers them.
func notDurableData(fsys persist.FS, dir string) error {
	if dir == "" {
		return nil
	}
	f, err := fsys.Open(filepath.Join(dir, nodeIDFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("oss: data directory: %w", err)
	}
	f.Close()
	return fmt.Errorf("oss: invalid config: %w", configError{fmt.Errorf("DataDir %s holds a durable node's data (%s): with DurabilityMemory the node would leave it unread and start empty, as a new member; start it with DurabilitySync or DurabilityBatch (ossd --durability sync) to recover it, or give it another DataDir", dir, nodeIDFile)})
}
