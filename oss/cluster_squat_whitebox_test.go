package oss

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// Two clusters may share a CA and node names. Node b of cluster X is
// stopped; once X's members hold it failed, a node b of another cluster
// comes up at its old address (a new node started there without Join),
// and X's members, which dial b's last address, connect to it. X's b, started again on its data
// directory at another address, must join its cluster: it was refused
// by every member holding such a connection as a second holder of b's
// certificate ("node "b" is connected from … and answers there"), and
// its Start failed for as long as the other b ran.
func TestANodeRestartedElsewhereJoinsPastItsNameInAnotherCluster(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*await.Deadline)
	defer cancel()
	a := c.nodes["a"]
	old := c.addrs["b"]
	c.kill("b")
	// Once a and c hold b failed: a node of b's name answering at its
	// address before then acks their probes of b, and b stays live there
	// for them (see design.md, "Found by probing identity").
	await.Until(t, "b failed for a and c", func() bool {
		for _, n := range []*Node{a, c.nodes["c"]} {
			for _, m := range n.Members() {
				if m.Name == "b" {
					return false
				}
			}
		}
		return true
	})
	y, err := Start(ctx, &Config{Name: "b", Listen: old, Gossip: GossipLoopback, TLS: c.tls["b"],
		DataDir: filepath.Join(t.TempDir(), "b"), Durability: DurabilityBatch,
		ReplaceAfter: time.Minute, Logger: testLogger().With("test", t.Name(), "cluster", "Y")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { y.Close(context.Background()) })
	if y.ClusterID() == a.ClusterID() {
		t.Fatalf("the other b took cluster %016x, X's", y.ClusterID())
	}
	// a reaches "b" at its last address: the other cluster's b.
	req, err := codec.Marshal(callRequest{Op: opStatus})
	if err != nil {
		t.Fatal(err)
	}
	// A dial of b's last address begun before the other b listened
	// there (a's raft and reconnects dial it), and shared by the call,
	// may still run out, or its backoff hold the next: at load 18 under
	// -race, 1.2 s after the other b started, "dial failed: … context
	// deadline exceeded". Such a call goes again.
	for _, from := range []*Node{a, c.nodes["c"]} {
		for {
			_, err := from.tr.Call(ctx, "b", req)
			if err == nil {
				break
			}
			if !errors.Is(err, transport.ErrUnreachable) || errors.Is(err, transport.ErrRefused) ||
				errors.Is(err, transport.ErrNameTaken) || ctx.Err() != nil {
				t.Fatalf("%s's call to b at %s: %v", from.Name(), old, err)
			}
			t.Logf("%s's call to b at %s: %v; again", from.Name(), old, err)
			time.Sleep(100 * time.Millisecond)
		}
	}

	c.addrs["b"] = "" // a new address
	if err := c.start("b"); err != nil {
		t.Fatalf("X's b, started again at a new address: %v", err)
	}
	b := c.nodes["b"]
	if b.ClusterID() != a.ClusterID() {
		t.Fatalf("X's b is of cluster %016x, X %016x", b.ClusterID(), a.ClusterID())
	}
	if _, err := b.CreateHeap(ctx, "after", nil); err != nil {
		t.Fatalf("X's b, past the other b: %v", err)
	}
	if _, err := a.Heap(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	if st := y.catalog.Load().Stats(); len(st.Voters) != 1 || len(st.Learners) != 0 {
		t.Fatalf("the other b's catalog: voters %v, learners %v; want b alone", st.Voters, st.Learners)
	}
}
