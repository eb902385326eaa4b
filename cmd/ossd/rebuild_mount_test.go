package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A data or stripe directory that is a mount point (a disk of its own,
// as --stripe-dirs recommends) cannot be renamed: --rebuild-replica failed
// on it with "device or resource busy" and the node could not be rebuilt.
// What it holds now moves into a directory inside it.
func TestRebuildReplicaMovesAMountPointsContents(t *testing.T) {
	data := filepath.Join(t.TempDir(), "n1")
	for _, p := range []string{"wal/0000000000000001.wal", "NODE_ID", "LOCK", ".broken-20260101T000000/NODE_ID"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(data, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, p), []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	defer func(r func(string, string) error) { renameDir = r }(renameDir)
	renameDir = func(from, to string) error {
		if from == data {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EBUSY}
		}
		return os.Rename(from, to)
	}
	f := &runFlags{dataDir: data, join: "127.0.0.1:1", rebuild: true}
	if err := f.moveAside(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("--rebuild-replica on a mount point: %v", err)
	}
	entries, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	var moved string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".broken-") {
			t.Fatalf("%s was left in the data directory", e.Name())
		}
		if e.Name() != ".broken-20260101T000000" {
			moved = filepath.Join(data, e.Name())
		}
	}
	for _, p := range []string{"wal/0000000000000001.wal", "NODE_ID", "LOCK"} {
		if b, err := os.ReadFile(filepath.Join(moved, p)); err != nil || string(b) != p {
			t.Fatalf("%s moved aside: %q, %v", p, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(moved, ".broken-20260101T000000")); err == nil {
		t.Fatal("what an earlier rebuild moved aside was moved again, into the new directory")
	}
}
