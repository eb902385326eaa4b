package oss

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
)

// A stalled disk is told while the node runs, not only by a Close that
// gives up on it: with a sync of the log held, Node.DiskStalled, the
// status (ClusterStatus.DiskStalled, which ossd status prints) and the
// gauges oss_disk_stalled and oss_disk_oldest_op_seconds name the sync
// and its file once it has been under way for DiskStallAfter, and all
// clear once the sync returns. Before, nothing said so until Close.
//
// It waits DiskStallAfter (5 s) for a node of its own: it runs in
// parallel, and TestMain checks for leaked goroutines after every test.
func TestStalledDiskToldWhileTheNodeRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	cfg := Config{Name: "solo", DataDir: "/data", FS: ffs, Durability: DurabilitySync, Logger: testLogger(), TickInterval: 10 * time.Millisecond}
	n, h := startBusy(t, &cfg)
	defer n.Close(ctx)
	put := func(i int) error {
		id, v := relogPut(i)
		return update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) })
	}
	if err := put(0); err != nil {
		t.Fatal(err)
	}
	if err := n.DiskStalled(); err != nil {
		t.Fatalf("DiskStalled of a node whose disk answers: %v", err)
	}
	if v, ok := metricValue(gather(t, n), "oss_disk_stalled", "node", "solo"); !ok || v != 0 {
		t.Fatalf("oss_disk_stalled of a node whose disk answers: %v (%v); want 0", v, ok)
	}

	held := make(chan string, 1)
	let := make(chan struct{})
	var once sync.Once
	ffs.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpSync && strings.Contains(name, "/wal/") {
			once.Do(func() { held <- name })
			<-let
		}
		return nil
	})
	release := sync.OnceFunc(func() { close(let) })
	defer release()
	committed := make(chan error, 1)
	go func() { committed <- put(1) }()
	file := await.Recv(t, held, "the log's sync to stall")

	await.Until(t, "DiskStalled to name the held sync", func() bool { return n.DiskStalled() != nil })
	err := n.DiskStalled()
	if !errors.Is(err, ErrDiskStalled) || !strings.Contains(err.Error(), "sync of "+file) {
		t.Fatalf("DiskStalled while a sync is held: %v; want ErrDiskStalled naming the sync of %s", err, file)
	}
	t.Logf("DiskStalled: %v", err)
	if st := n.Status(ctx); !strings.Contains(st.DiskStalled, "sync of "+file) {
		t.Fatalf("the status while a sync is held says %q; want the sync of %s", st.DiskStalled, file)
	}
	mfs := gather(t, n)
	if v, ok := metricValue(mfs, "oss_disk_stalled", "node", "solo"); !ok || v != 1 {
		t.Fatalf("oss_disk_stalled while a sync is held: %v (%v); want 1", v, ok)
	}
	if v, ok := metricValue(mfs, "oss_disk_oldest_op_seconds", "node", "solo"); !ok || v < DiskStallAfter.Seconds() {
		t.Fatalf("oss_disk_oldest_op_seconds while a sync is held: %v (%v); want %v or more", v, ok, DiskStallAfter.Seconds())
	}

	ffs.SetRule(nil)
	release()
	await.Recv(t, committed, "the held commit's answer once the disk answers") // its own timeout may have ended it
	await.Until(t, "DiskStalled to clear once the sync returned", func() bool { return n.DiskStalled() == nil })
	if st := n.Status(ctx); st.DiskStalled != "" {
		t.Fatalf("the status once the disk answers still says %q", st.DiskStalled)
	}
	if v, ok := metricValue(gather(t, n), "oss_disk_stalled", "node", "solo"); !ok || v != 0 {
		t.Fatalf("oss_disk_stalled once the disk answers: %v (%v); want 0", v, ok)
	}
	if err := put(2); err != nil {
		t.Fatal(err)
	}
}
