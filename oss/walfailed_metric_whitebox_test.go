package oss

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// oss_wal_failed is 0 while the node's log takes appends and 1 once it
// has stopped (its wal/ removed while the node ran): an alert on it finds
// a node that commits nothing more, though it answers and is a member.
func TestMetricWALFailed(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	mem := persist.NewMemFS()
	cfg := Config{Name: "solo", DataDir: "/data", FS: mem, Logger: testLogger(), TickInterval: 10 * time.Millisecond}
	n, h := startBusy(t, &cfg)
	defer n.Close(ctx)
	put := func(i int) error {
		id, v := relogPut(i)
		return update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) })
	}
	if err := put(0); err != nil {
		t.Fatal(err)
	}
	if v, ok := metricValue(gather(t, n), "oss_wal_failed", "node", "solo"); !ok || v != 0 {
		t.Fatalf("oss_wal_failed of a node whose log is well: %v (%v); want 0", v, ok)
	}
	if err := removeWAL(mem, nil); err != nil {
		t.Fatal(err)
	}
	if err := put(1); err == nil {
		t.Fatal("a commit once wal/ is gone succeeded")
	}
	if v, ok := metricValue(gather(t, n), "oss_wal_failed", "node", "solo"); !ok || v != 1 {
		t.Fatalf("oss_wal_failed of a node whose log is gone: %v (%v); want 1", v, ok)
	}
}
