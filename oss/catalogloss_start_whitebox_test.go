package oss

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// A node restarts on its data directory and, while Start still runs, its
// catalog replica is lost: a leader's heartbeat carries a commit index
// past the end of the replica's log, as it does to a replica whose log
// lost a tail it had acknowledged, and raft gives up on the replica.
// Start fails with ErrCorrupt naming the catalog and saying what to do,
// not with a bare ErrClosed. The loss is made to happen, and to finish,
// between the catalog's open and Start's watch of it, every time.
func TestStartCatalogLostIsErrCorrupt(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	dir := t.TempDir()
	ctx := context.Background()
	n, err := Start(ctx, &Config{Name: "r", DataDir: dir, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	lost := false
	n, err = Start(ctx, &Config{Name: "r", DataDir: dir, Logger: testLogger(), catalogOpened: func(h *Heap) {
		h.enqueue("leader", &raftpb.Message{Type: raftpb.MsgHeartbeat, To: h.self, From: h.self + 1, Term: 1 << 20, Commit: 1 << 40})
		<-h.done // the loop ends once it has closed the replica
		h.watchMu.Lock()
		lost = h.closed && h.lost != nil
		h.watchMu.Unlock()
	}})
	if err == nil {
		n.Close(ctx)
		t.Fatal("the node started on a lost catalog replica")
	}
	if !lost {
		t.Fatalf("the catalog replica was not lost before Start watched it: %v", err)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "catalog") || !strings.Contains(err.Error(), "move the data directory aside") {
		t.Fatalf("Start on a lost catalog replica: %v; want ErrCorrupt naming the catalog and what to do", err)
	}
}
