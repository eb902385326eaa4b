//go:build linux && (amd64 || arm64)

package persist

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A file of the OS file system syncs through the kernel's asynchronous
// fsync, and what it wrote reads back after a reopen.
func TestOSFileSyncsAsynchronously(t *testing.T) {
	asyncOnly(t)
	name := filepath.Join(t.TempDir(), "f")
	f, err := OS{}.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := f.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	a := &f.(*osFile).aio
	if a.state != aioReady {
		t.Fatalf("after three syncs the file's asynchronous sync is in state %d, want ready (%d)", a.state, aioReady)
	}
	// The eventfd stays non-blocking: a blocking read would hold its
	// processor for the whole sync, which is what this is for.
	fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, a.efd, syscall.F_GETFL, 0)
	if e != 0 || fl&syscall.O_NONBLOCK == 0 {
		t.Fatalf("the eventfd's flags %#x (%v): not non-blocking", fl, e)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil || string(b) != "\x00\x01\x02" {
		t.Fatalf("read back %q, %v", b, err)
	}
}

// A file the kernel cannot sync (a pipe) gets the error a plain sync
// gives, and syncs plainly from then on.
func TestOSFileSyncOfWhatCannotSync(t *testing.T) {
	asyncOnly(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f := &osFile{File: w}
	defer f.Close()
	for range 2 {
		if err := f.Sync(); !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("sync of a pipe: %v, want EINVAL", err)
		}
	}
	if f.aio.state != aioOff {
		t.Fatalf("state %d after a refused submit, want off (%d)", f.aio.state, aioOff)
	}
}

// asyncOnly makes every sync of the test go through the kernel's
// asynchronous fsync, as when half the processors are in syncs.
func asyncOnly(t *testing.T) {
	plainOverride.Store(0 + 1)
	t.Cleanup(func() { plainOverride.Store(0) })
}

// A sync with processors to spare is plain and makes no context; one
// made while the limit of plain syncs is in flight is asynchronous.
func TestOSFileSyncIsPlainUntilHalfTheProcessorsSync(t *testing.T) {
	plainOverride.Store(1 + 1)
	t.Cleanup(func() { plainOverride.Store(0) })
	f, err := OS{}.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := &f.(*osFile).aio
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if a.state != aioUnset {
		t.Fatalf("a lone sync made the file's asynchronous sync (state %d): it should have been plain", a.state)
	}
	plainSyncs.Add(1) // another sync in flight
	err = f.Sync()
	plainSyncs.Add(-1)
	if err != nil {
		t.Fatal(err)
	}
	if a.state != aioReady {
		t.Fatalf("a sync beyond the limit left state %d, want asynchronous (%d)", a.state, aioReady)
	}
	if n := plainSyncs.Load(); n != 0 {
		t.Fatalf("%d plain syncs counted in flight after all returned", n)
	}
}
