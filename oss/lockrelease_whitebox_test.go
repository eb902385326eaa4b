//go:build unix

package oss

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A node's Close releases the locks of its data and stripe directories
// even while another descriptor of their LOCK files is open, as it is in
// a child process that the program embedding the node forks, until the
// child execs: a node started right after on the same directories is not
// refused as "in use". It was when a lock went only with the last
// descriptor of its file: TestStripeDirsAreLocked failed so at load 30,
// the other tests of its binary forking processes meanwhile.
func TestCloseReleasesLocksAForkedChildStillHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := t.TempDir()
	cfg := func() *Config {
		return &Config{DataDir: filepath.Join(d, "data"), StripeDirs: []string{filepath.Join(d, "s1"), filepath.Join(d, "s2")}, Logger: testLogger()}
	}
	n, err := Start(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	// What a fork leaves in the child until it execs: another descriptor
	// of each LOCK file's open file.
	locks := append([]*os.File{n.lock}, n.stripeLocks...)
	if len(locks) != 3 {
		t.Fatalf("%d locks taken, want the data directory's and two stripe directories'", len(locks))
	}
	for _, f := range locks {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := Start(ctx, cfg())
	if err != nil {
		t.Fatalf("a node on the directories of one that closed, while copies of their LOCK files' descriptors are open: %v", err)
	}
	if err := again.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
