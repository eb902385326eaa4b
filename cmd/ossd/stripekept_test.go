package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// ranWith runs node n1 on data with the stripe directories stripes (none:
// the default) until it has checkpointed, and closes it.
func ranWith(t *testing.T, data string, stripes []string) {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Name: "n1", DataDir: data, StripeDirs: stripes, CheckpointEvery: 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeapIfNotExists(ctx, "kv", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := h.Update(ctx, func(tx *oss.Tx) error { _, err := oss.New(tx, int64(i)); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// A node started without the --stripe-dirs it ran with, or with
// --stripe-dirs after it ran on the default, is refused as README says
// of "more or fewer of them": naming the directory and --stripe-dirs,
// having written nothing. It was refused as damaged ("the log records a
// checkpoint of heap ... that the striped store does not hold"), naming
// a heap, with the default directory created in the data directory.
func TestRunRefusesStripeDirsLeftOutOrAdded(t *testing.T) {
	base := t.TempDir()
	certs := probeCerts(t)
	run := func(data string, extra ...string) error {
		args := []string{"run", "--name", "n1", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--certs", certs, "--data-dir", data}
		return dispatch(append(args, extra...))
	}

	data, a, b := filepath.Join(base, "n1"), filepath.Join(base, "a"), filepath.Join(base, "b")
	ranWith(t, data, []string{a, b})
	err := run(data)
	def := filepath.Join(data, "stripes")
	if err == nil || !strings.Contains(err.Error(), def) || !strings.Contains(err.Error(), "--stripe-dirs") || errors.Is(err, oss.ErrCorrupt) {
		t.Errorf("run without the --stripe-dirs the node ran with: %v\nwant an error naming %s and --stripe-dirs, not damage", err, def)
	}
	if _, err := os.Stat(def); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused start made %s: %v", def, err)
	}

	data2, c, d := filepath.Join(base, "n2"), filepath.Join(base, "c"), filepath.Join(base, "d")
	ranWith(t, data2, nil)
	for _, dir := range []string{c, d} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	err = run(data2, "--stripe-dirs", c+","+d)
	def2 := filepath.Join(data2, "stripes")
	if err == nil || !strings.Contains(err.Error(), def2) || !strings.Contains(err.Error(), "--stripe-dirs") || errors.Is(err, oss.ErrCorrupt) {
		t.Errorf("run with --stripe-dirs after running on the default: %v\nwant an error naming %s and --stripe-dirs, not damage", err, def2)
	}
	for _, dir := range []string{c, d} {
		if names, _ := os.ReadDir(dir); len(names) > 0 {
			t.Errorf("the refused start wrote into %s: %v", dir, names)
		}
	}
}
