package persist

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOpenRefusesAFIFO: a FIFO where the store expects a file (a
// NODE_NAME made with mkfifo) held the open in open(2) until a writer
// came, for ever at a node's start. Every way of opening refuses it at
// once, and a device too; a file and a directory open as before.
func TestOpenRefusesAFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "NODE_NAME")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opens := map[string]func(string) (File, error){
		"Open": OS{}.Open, "OpenWrite": OS{}.OpenWrite, "OpenAppend": OS{}.OpenAppend, "Create": OS{}.Create,
	}
	for what, open := range opens {
		for _, name := range []string{fifo, "/dev/zero"} {
			done := make(chan error, 1)
			go func() {
				f, err := open(name)
				if err == nil {
					f.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegular) {
					t.Errorf("%s of %s: %v; want ErrNotRegular", what, name, err)
				}
			case <-time.After(time.Minute):
				t.Fatalf("%s of %s still waits after a minute", what, name)
			}
		}
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for what, open := range opens {
		f, err := open(plain)
		if err != nil {
			t.Fatalf("%s of a regular file: %v", what, err)
		}
		f.Close()
	}
	if f, err := (OS{}).Open(dir); err != nil {
		t.Fatalf("Open of a directory: %v", err)
	} else {
		f.Close()
	}
}
