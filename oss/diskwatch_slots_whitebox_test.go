package oss

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// holdOps makes the syncs of name and the renames from it block until
// the returned release is called (also when the test ends); held
// receives the op of each that blocks.
func holdOps(t *testing.T, ffs *persist.FaultFS, name string) (held <-chan persist.Op, release func()) {
	h := make(chan persist.Op, 2)
	let := make(chan struct{})
	ffs.SetRule(func(op persist.Op, n string) error {
		if n == name && (op == persist.OpSync || op == persist.OpRename) {
			h <- op
			<-let
		}
		return nil
	})
	release = sync.OnceFunc(func() { close(let) })
	t.Cleanup(release)
	return h, release
}

// The stall check finds a stalled sync of an open file while other
// operations of the same file, more at once than the file has slots,
// come and go, and a stalled rename of the file system beside it: the
// oldest is named, both are counted, and once they return nothing is.
func TestStallCheckFindsAStalledFileOpAmongOthersAndAStalledFSOp(t *testing.T) {
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	d := &diskOps{}
	fsys := watchFS(ffs, d)
	if err := fsys.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	held, release := holdOps(t, ffs, "/d/f")
	synced := make(chan error, 1)
	go func() { synced <- f.Sync() }()
	await.Recv(t, held, "the file's sync to stall")
	renamed := make(chan error, 1)
	go func() { renamed <- fsys.Rename("/d/f", "/d/g") }()
	await.Recv(t, held, "the rename to stall")

	var stop atomic.Bool
	var ops atomic.Int64
	var readers sync.WaitGroup
	for range 4 * fileSlots {
		readers.Go(func() {
			p := make([]byte, 512)
			for !stop.Load() {
				if _, err := f.ReadAt(p, 1024); err != nil {
					t.Error(err)
					return
				}
				if _, err := f.WriteAt(p[:1], 0); err != nil {
					t.Error(err)
					return
				}
				ops.Add(2)
			}
		})
	}
	for checks := 0; checks < 200 || ops.Load() < 20000; checks++ {
		o, _, ok := d.stalled(0)
		if !ok || o.op != persist.OpSync || o.name != "/d/f" {
			stop.Store(true)
			t.Fatalf("with reads and writes of the file under way, the stall check found %v %q (%v); want the stalled sync of /d/f", o.op, o.name, ok)
		}
	}
	stop.Store(true)
	await.Wait(t, &readers, "the readers to stop")
	t.Logf("%d reads and writes beside the stalled sync, %d of them with every slot of the file busy", ops.Load(), d.next)

	o, busy, ok := d.stalled(0)
	if msg := o.stallError(busy).Error(); !ok || busy != 2 || !strings.Contains(msg, "sync of /d/f") || !strings.Contains(msg, "and 1 more") {
		t.Fatalf("the stall check found %d under way (%v): %s; want the sync of /d/f and 1 more", busy, ok, msg)
	}
	release()
	if err := await.Recv(t, synced, "the sync once let go"); err != nil {
		t.Fatal(err)
	}
	if err := await.Recv(t, renamed, "the rename once let go"); err != nil {
		t.Fatal(err)
	}
	if o, busy, ok := d.stalled(0); ok || busy != 0 {
		t.Fatalf("once every operation returned the stall check found %d under way, the oldest %v of %s", busy, o.op, o.name)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if len(d.files) != 0 {
		t.Fatalf("%d files left in the stall check's set after their close", len(d.files))
	}
}

// An operation of a file, and one of the file system, takes no lock of
// the node: they return while the disk watch's mutex is held. Every one
// took it, twice, and all of a node's goroutines waited on each other
// for it.
func TestDiskOpsReturnWhileTheDiskWatchIsLocked(t *testing.T) {
	d := &diskOps{}
	fsys := watchFS(persist.NewMemFS(), d)
	if err := fsys.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d.mu.Lock()
	done := make(chan error, 1)
	go func() {
		p := make([]byte, 128)
		_, err := f.WriteAt(p, 0)
		if err == nil {
			_, err = f.ReadAt(p, 0)
		}
		if err == nil {
			err = f.Sync()
		}
		if err == nil {
			err = fsys.SyncDir("/d")
		}
		done <- err
	}()
	err = await.Recv(t, done, "a write, a read, a sync and a directory's sync while the disk watch's mutex is held")
	d.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}
