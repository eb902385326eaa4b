package oss

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/objectsharing/oss/persist"
)

// A bit flipped in a node's identity file is refused, whichever bit:
// without the checksum most flips of a hex digit name another valid raft
// ID, under which the node would recover replicas its groups never knew.
// An identity file written before the checksum is still read.
func TestNodeIDBitFlipIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := persist.OS{}
	const id = 0x5a17c3d2e4f60789
	if err := storeNodeID(fsys, dir, id); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, nodeIDFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := loadNodeID(fsys, dir); err != nil || got != id {
		t.Fatalf("read back %x, %v; want %x", got, err, uint64(id))
	}
	for i := range len(good) - 1 { // every byte but the newline
		for bit := range 8 {
			bad := append([]byte(nil), good...)
			bad[i] ^= 1 << bit
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := loadNodeID(fsys, dir)
			if err == nil {
				t.Fatalf("byte %d bit %d flipped (%q): read as %x, want ErrCorrupt", i, bit, bad, got)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d bit %d flipped: %v, want ErrCorrupt", i, bit, err)
			}
		}
	}
	if err := os.WriteFile(path, fmt.Appendf(nil, "%016x\n", uint64(id)), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := loadNodeID(fsys, dir); err != nil || got != id {
		t.Fatalf("an identity file without its checksum: %x, %v; want %x", got, err, uint64(id))
	}
}
