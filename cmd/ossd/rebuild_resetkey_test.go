package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// --rebuild-replica carries the node's stateless reset key (RESET_KEY)
// into the new, empty data directory: it names the node's endpoint, not
// its data, and a rebuilt node that drew a new one sent resets its peers
// ignored, so their connections to the process before it (killed) stayed
// open until they timed out (30 s) and its join waited them out.
func TestRebuildReplicaKeepsTheResetKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "n1")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	if err := os.WriteFile(filepath.Join(data, "RESET_KEY"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "NODE_ID"), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &runFlags{dataDir: data, join: "127.0.0.1:1", rebuild: true}
	if err := f.moveAside(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	names, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name() != "RESET_KEY" {
		t.Fatalf("the new data directory holds %v, want RESET_KEY alone", names)
	}
	got, err := os.ReadFile(filepath.Join(data, "RESET_KEY"))
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("RESET_KEY in the new data directory: %x, %v; want %x", got, err, key)
	}
	fi, err := os.Stat(filepath.Join(data, "RESET_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("RESET_KEY's mode: %v; want 0600", fi.Mode())
	}
}
