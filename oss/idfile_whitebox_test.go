package oss

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/objectsharing/oss/persist"
)

// NODE_ID and CLUSTER are read and written by one parser and writer: each
// round-trips its ID in the bytes nodes have written ("%016x %08x\n", the
// CRC-32C of the ID's 8 bytes), and any bit flipped in either is
// ErrCorrupt naming the file. CLUSTER took its checksum's hex digits in
// either case, so a flipped bit 5 in one of them (an 'a' read as 'A') went
// unseen; it is refused as NODE_ID's is. Only NODE_ID is read without
// its checksum, as nodes wrote it before it had one.
func TestIDFilesRoundTripAndRefuseAFlippedBit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file  string
		store func(persist.FS, string, uint64) error
		load  func(persist.FS, string) (uint64, error)
		id    uint64
		disk  string
		bare  bool // read without its checksum
	}{
		{nodeIDFile, storeNodeID, loadNodeID, 0x5a17c3d2e4f60789, "5a17c3d2e4f60789 1addff6b\n", true},
		{clusterIDFile, storeClusterID, loadClusterID, 0x0123456789abcdef, "0123456789abcdef 2f720f20\n", false},
	} {
		t.Run(c.file, func(t *testing.T) {
			dir := t.TempDir()
			fsys := persist.OS{}
			if got, err := c.load(fsys, dir); err != nil || got != 0 {
				t.Fatalf("no %s: %x, %v; want 0 and no error", c.file, got, err)
			}
			if err := c.store(fsys, dir, c.id); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, c.file)
			good, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(good) != c.disk {
				t.Fatalf("%s holds %q, want %q", c.file, good, c.disk)
			}
			if got, err := c.load(fsys, dir); err != nil || got != c.id {
				t.Fatalf("%s read back as %x, %v; want %x", c.file, got, err, c.id)
			}
			for i := range len(good) - 1 { // every byte but the newline
				for bit := range 8 {
					bad := append([]byte(nil), good...)
					bad[i] ^= 1 << bit
					if err := os.WriteFile(path, bad, 0o600); err != nil {
						t.Fatal(err)
					}
					got, err := c.load(fsys, dir)
					if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || got != 0 {
						t.Fatalf("byte %d bit %d of %s flipped (%q): %x, %v; want ErrCorrupt naming %s", i, bit, c.file, bad, got, err, path)
					}
				}
			}
			if err := os.WriteFile(path, fmt.Appendf(nil, "%016x\n", c.id), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := c.load(fsys, dir)
			if c.bare && (err != nil || got != c.id) {
				t.Fatalf("%s without its checksum: %x, %v; want %x", c.file, got, err, c.id)
			}
			if !c.bare && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path)) {
				t.Fatalf("%s without its checksum: %x, %v; want ErrCorrupt naming %s", c.file, got, err, path)
			}
		})
	}
}
