package persist

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// WriteFileAtomic makes its temporary file anew: one left there (a
// crash's, or one copied in with the data directory) was truncated and
// written over, so the file renamed into place kept that one's mode
// (0644: RESET_KEY, a secret, readable by every user), and a symbolic
// link of that name was followed, writing the bytes into the file it
// named outside the directory.
func TestWriteFileAtomicTakesNothingOfAStaleTemporaryFile(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{9}, 32)

	stale := filepath.Join(dir, "A.tmp")
	if err := os.WriteFile(stale, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stale, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := WriteFileAtomic(OS{}, dir, "A", secret); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "A"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("A written over a stale A.tmp of mode 0644: mode %v, want a file of mode 0600", fi.Mode())
	}

	victim := filepath.Join(root, "victim")
	if err := os.WriteFile(victim, []byte("not the data directory's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "B.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(OS{}, dir, "B", secret); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(victim); err != nil || string(got) != "not the data directory's" {
		t.Errorf("the file B.tmp linked to holds %q (%v): written through the link", got, err)
	}
	fi, err = os.Lstat(filepath.Join(dir, "B"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("B written over a B.tmp that is a link: mode %v, want a file of mode 0600", fi.Mode())
	}
	if got, err := os.ReadFile(filepath.Join(dir, "B")); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("B holds %x (%v), want %x", got, err, secret)
	}
}
