package oss

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// A reset key file that other users may read (restored or copied with
// cp or an archive, mode 0644) is rewritten mode 0600, with a warning,
// and its key kept: it was taken silently, the secret that can close
// the node's connections readable by every user of the host.
func TestResetKeyOpenToOtherUsersIsMadePrivate(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	dir := filepath.Join(t.TempDir(), "n1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, resetKeyFile)
	kept := bytes.Repeat([]byte{5}, resetKeySize)
	if err := os.WriteFile(path, kept, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	key, logs := startOnDir(t, dir)
	if !bytes.Equal(key, kept) {
		t.Fatalf("the node's reset key is %x, want the one kept, %x", key, kept)
	}
	mustBePrivate(t, path, kept)
	if !strings.Contains(logs, "readable or writable by other users") || !strings.Contains(logs, "mode=0644") {
		t.Errorf("no warning of the file's mode 0644; the node logged:\n%s", logs)
	}
	if _, logs := startOnDir(t, dir); strings.Contains(logs, "other users") {
		t.Errorf("a file of mode 0600 was warned of:\n%s", logs)
	}
}
