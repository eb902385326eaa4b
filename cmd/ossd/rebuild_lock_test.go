//go:build unix

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

// --rebuild-replica moved the data directory aside even while a node ran
// on it: the running node went on writing into the moved files and, by
// path, into the new directory the second process created. It now takes
// the directory's lock first and refuses while a node holds it.
func TestRebuildReplicaRefusesADirectoryInUse(t *testing.T) {
	data := filepath.Join(t.TempDir(), "n1")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	held, err := os.OpenFile(filepath.Join(data, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	f := &runFlags{dataDir: data, join: "127.0.0.1:1", rebuild: true}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	err = f.moveAside(logger)
	if err == nil || !strings.Contains(err.Error(), "in use by a running node") {
		t.Fatalf("--rebuild-replica on a directory in use: %v", err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("the directory in use was moved: %v", err)
	}
	held.Close() // the node stopped: now it moves
	if err := f.moveAside(logger); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the directory was not moved aside: %v", err)
	}
}
