package oss

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A node with a data directory keeps its transport's stateless reset key
// there (RESET_KEY, mode 0600) and takes the same one at every start: a
// key derived from the node's private key changed with a key reloaded
// by SIGHUP, and the peers of a node restarted after one ignored its
// resets. A damaged file is replaced by a new key; a node without a data
// directory derives it (nil).
func TestResetKeyIsKeptInTheDataDirectory(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "n1")
	path := filepath.Join(dir, resetKeyFile)
	start := func() []byte {
		t.Helper()
		n, err := Start(ctx, &Config{Name: "n1", DataDir: dir, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		key := n.resetKey
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
		onDisk, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != resetKeySize || !bytes.Equal(key, onDisk) {
			t.Fatalf("the node's reset key %x, %s holds %x: want the same %d bytes", key, path, onDisk, resetKeySize)
		}
		return key
	}
	first := start()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, mode)
	}
	if again := start(); !bytes.Equal(again, first) {
		t.Fatalf("restarted with reset key %x, want the one kept, %x", again, first)
	}
	for _, bad := range [][]byte{nil, []byte("short"), append(bytes.Clone(first), 0)} {
		if err := persist.WriteFileAtomic(persist.OS{}, dir, resetKeyFile, bad); err != nil {
			t.Fatal(err)
		}
		if renewed := start(); bytes.Equal(renewed, first) {
			t.Fatalf("a file of %d bytes: the key before it was damaged came back", len(bad))
		}
	}
	n, err := Start(ctx, &Config{Name: "n2", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	if n.resetKey != nil {
		t.Errorf("a node without a data directory has reset key %x, want none (derived from its key)", n.resetKey)
	}
}
