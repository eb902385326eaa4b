package oss_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// stallSyncs makes the syncs of files whose name holds part block, from
// the next one on, until the returned release is called (also when the
// test ends); held receives the name of the first that blocks.
func stallSyncs(t *testing.T, ffs *persist.FaultFS, part string) (held <-chan string, release func()) {
	h := make(chan string, 1)
	let := make(chan struct{})
	var once sync.Once
	ffs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpSync && strings.Contains(name, part) {
			once.Do(func() { h <- name })
			<-let
		}
		return nil
	})
	release = sync.OnceFunc(func() { close(let) })
	t.Cleanup(release)
	return h, release
}

// A node whose disk stalls (a sync of its log that never returns: a hung
// NFS mount, a dying disk) is closed within Close's ctx and
// DiskStallAfter: Close returns an error that says the disk is stalled
// and names the operation and the file, having stopped everything it
// can stop. A later Close waits for the close under way within its own
// ctx and says the same; once the disk returns, the close ends and every
// goroutine of the node with it. Close waited for the disk for ever, and
// ossd's stop with it.
func TestCloseOnAStalledDiskReturnsNamingTheFile(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	n, err := oss.Start(context.Background(), &oss.Config{Name: "solo", DataDir: "/data/solo", FS: ffs, Durability: oss.DurabilitySync, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h := openBank(t, n)
	if err := put(h, uuid.New(), 1); err != nil {
		t.Fatal(err)
	}
	held, release := stallSyncs(t, ffs, "/wal/")
	committed := make(chan error, 1)
	go func() { committed <- put(h, uuid.New(), 2) }()
	file := await.Recv(t, held, "the log's sync to stall")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- n.Close(ctx) }()
	err = await.Recv(t, closed, "Close, its ctx ended, to return while the log's sync stalls")
	if !errors.Is(err, oss.ErrDiskStalled) || !strings.Contains(err.Error(), "sync of "+file) {
		t.Fatalf("Close on a stalled disk returned %v; want ErrDiskStalled naming the sync of %s", err, file)
	}
	t.Logf("Close: %v", err)
	if err := n.Close(ctx); !errors.Is(err, oss.ErrDiskStalled) {
		t.Fatalf("a second Close while the disk stalls returned %v; want ErrDiskStalled", err)
	}

	release()
	await.Recv(t, committed, "the stalled commit's answer once the disk returns")
	if err := n.Close(context.Background()); err != nil {
		t.Fatalf("Close once the disk returned: %v", err)
	}
}

// The data directory of a node whose Close gave up on a stalled disk
// stays locked until the disk returns and the close ends: a Start on it
// in the same process is refused, rather than opening a log that a
// stalled write of the closing node may still change; once the disk has
// returned, Close returns nil and a Start on the directory starts.
//
// It waits DiskStallAfter (5 s) for a node and a directory of its own: it
// runs in parallel, and TestMain checks for leaked goroutines after
// every test.
func TestStartOnTheDirectoryOfAStalledCloseWaitsForTheDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ffs := &persist.FaultFS{FS: persist.OS{}}
	cfg := func() *oss.Config {
		return &oss.Config{Name: "solo", DataDir: dir, FS: ffs, Durability: oss.DurabilitySync, Logger: quietLogger()}
	}
	n, err := oss.Start(context.Background(), cfg())
	if err != nil {
		t.Fatal(err)
	}
	h := openBank(t, n)
	id := uuid.New()
	if err := put(h, id, 1); err != nil {
		t.Fatal(err)
	}
	held, release := stallSyncs(t, ffs, "wal")
	committed := make(chan error, 1)
	go func() { committed <- put(h, uuid.New(), 2) }()
	await.Recv(t, held, "the log's sync to stall")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	closed := make(chan error, 1)
	go func() { closed <- n.Close(ctx) }()
	if err := await.Recv(t, closed, "Close to return on a stalled disk"); !errors.Is(err, oss.ErrDiskStalled) {
		t.Fatalf("Close on a stalled disk returned %v; want ErrDiskStalled", err)
	}
	if again, err := oss.Start(context.Background(), cfg()); err == nil {
		crash(again)
		t.Fatal("a node started on the data directory of a node whose close waits for its stalled disk")
	} else if !strings.Contains(err.Error(), "LOCK") && !strings.Contains(err.Error(), "lock") {
		t.Fatalf("a start on the directory of a stalled close was refused, but not for its lock: %v", err)
	}

	release()
	await.Recv(t, committed, "the stalled commit's answer once the disk returns")
	if err := n.Close(context.Background()); err != nil {
		t.Fatalf("Close once the disk returned: %v", err)
	}
	again, err := oss.Start(context.Background(), cfg())
	if err != nil {
		t.Fatalf("a start once the stalled close ended: %v", err)
	}
	if got := balance(t, openBank(t, again), id); got != 1 {
		t.Fatalf("after the restart the object holds %d, want 1", got)
	}
	if err := again.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
