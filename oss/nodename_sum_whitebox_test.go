package oss

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A NODE_NAME with a flipped bit or cut short is damage, named with its
// file: without a checksum a flipped bit in the name ("n3" read as "n1")
// was refused as another node's directory, with the advice to start that
// node on it, which would claim the other node's place under this one's
// raft ID. A file of the name alone, as nodes wrote it before, is still
// taken.
func TestNodeNameDamageIsRefusedAsDamage(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	fsys := persist.NewMemFS()
	start := func() (*Node, error) {
		return Start(ctx, &Config{Name: "n3", DataDir: "d", FS: fsys, Logger: testLogger()})
	}
	n, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("d", nodeNameFile)
	f, err := fsys.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	good, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, b []byte) {
		t.Helper()
		if err := persist.WriteFileAtomic(fsys, "d", nodeNameFile, b); err != nil {
			t.Fatal(err)
		}
		n, err := start()
		if err == nil {
			n.Close(ctx)
			t.Errorf("NODE_NAME %s (%q): started", what, b)
			return
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), `start "`) {
			t.Errorf("NODE_NAME %s (%q): %v\nwant the damage named, with its file", what, b, err)
		}
	}
	for i := range good {
		for bit := range 8 {
			b := []byte(string(good))
			b[i] ^= 1 << bit
			refused("with a bit flipped", b)
		}
	}
	for k := range len(good) {
		refused("cut short", good[:k])
	}
	// The form before the checksum: the name alone.
	if err := persist.WriteFileAtomic(fsys, "d", nodeNameFile, []byte("n3\n")); err != nil {
		t.Fatal(err)
	}
	if n, err = start(); err != nil {
		t.Fatalf("NODE_NAME of the name alone: %v", err)
	}
	n.Close(ctx)
}
