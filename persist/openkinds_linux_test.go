package persist

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenThroughASymlinkAndLargeIO: the opens refuse what is not a
// regular file or a directory, and pass O_NONBLOCK so a FIFO does not
// hold them. A symlink to a regular file is the file (a data directory's
// file linked elsewhere), and a regular file opened so reads and writes
// whole, synced, as before: O_NONBLOCK stays set on it, which regular
// files ignore.
func TestOpenThroughASymlinkAndLargeIO(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	if err := os.WriteFile(real, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	f, err := OS{}.OpenAppend(link)
	if err != nil {
		t.Fatalf("OpenAppend through a symlink: %v", err)
	}
	if n, err := f.Write(big); err != nil || n != len(big) {
		t.Fatalf("write of %d bytes: %d, %v", len(big), n, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for what, open := range map[string]func(string) (File, error){"Open": OS{}.Open, "OpenWrite": OS{}.OpenWrite} {
		f, err := open(link)
		if err != nil {
			t.Fatalf("%s through a symlink: %v", what, err)
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("%s: read %d bytes back, %v; want the %d written", what, len(got), err, len(big))
		}
	}
	f, err = OS{}.Create(link)
	if err != nil {
		t.Fatalf("Create through a symlink: %v", err)
	}
	if _, err := f.WriteAt([]byte("x"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if size, err := f.Size(); err != nil || size != 1<<20+1 {
		t.Fatalf("size after Create and a write past the end: %d, %v", size, err)
	}
	f.Close()
}
