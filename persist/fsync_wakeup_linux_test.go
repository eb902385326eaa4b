//go:build linux && (amd64 || arm64)

package persist

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// Syncs through the kernel's asynchronous fsync end however fast the
// kernel completes them. A sync of a file with nothing to flush completes
// within microseconds of its submission, possibly before the waiter is in
// the poller; a wait that cleared the poller's readiness after the
// submission lost that signal and never ended.
func TestAsyncSyncsThatCompleteAtOnceEnd(t *testing.T) {
	asyncOnly(t)
	f, err := OS{}.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	// Completions that come before the waiter is ready for them.
	late := func() { time.Sleep(time.Millisecond) }
	afterSubmit.Store(&late)
	t.Cleanup(func() { afterSubmit.Store(nil) })
	const syncs = 500
	done := make(chan error, 1)
	var ended atomic.Int64
	go func() {
		for ; ended.Load() < syncs; ended.Add(1) {
			if err := f.(*osFile).SyncOffPath(); err != nil {
				done <- fmt.Errorf("sync %d: %w", ended.Load(), err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(await.Deadline):
		t.Fatalf("a sync of a clean file has not ended after %v (%d of %d ended before it)", await.Deadline, ended.Load(), syncs)
	}
	if a := &f.(*osFile).aio; a.state != aioReady {
		t.Fatalf("the syncs went plain (state %d), not through the kernel's asynchronous fsync", a.state)
	}
}
