package oss

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A node whose write-ahead log has stopped (its wal/ emptied while it
// ran) reports every replica of it so in the status other members
// gather (HeapStatus.LogFailed), not only as stuck: a replica stuck on a
// full disk goes on once the disk takes its writes again, one whose log
// stopped never does. Before, the status gathered on another node told
// the two apart only by the error's text, and ossd status advised
// freeing space for a node that had to be rebuilt.
func TestStatusNamesTheNodesWhoseLogStopped(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	mem := persist.NewMemFS()
	cfg := segmentedConfig(mem)
	n, h := startBusy(t, &cfg)
	defer n.Close(ctx)
	id, v := relogPut(0)
	if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
		t.Fatal(err)
	}
	for _, hs := range n.Status(ctx).Heaps {
		if len(hs.LogFailed) > 0 {
			t.Fatalf("heap %s of a node whose log runs: LogFailed %v", hs.Name, hs.LogFailed)
		}
	}
	if err := removeWAL(mem, nil); err != nil {
		t.Fatal(err)
	}
	id, v = relogPut(1)
	if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); !errors.Is(err, persist.ErrGone) {
		t.Fatalf("a commit once the log is gone: %v", err)
	}
	st := n.Status(ctx)
	if st.LogFailed == "" {
		t.Fatal("the node's own status does not say its log stopped")
	}
	for _, hs := range st.Heaps {
		if !slices.Equal(hs.LogFailed, []string{cfg.Name}) {
			t.Errorf("heap %s of a node whose log stopped: LogFailed %v, want [%s]", hs.Name, hs.LogFailed, cfg.Name)
		}
	}
	// What another member gathers is the replicas' reports, as the
	// status call carries them.
	for _, r := range n.localStatus() {
		if !r.LogFailed {
			t.Errorf("the report of the replica of %s does not say its node's log stopped: %+v", r.Heap, r)
		}
	}
	n.Close(ctx)
}
