package oss

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/internal/testkit/await"
)

// A member whose catalog hears no leader asks the voters it knows by name
// to take it back (rejoin). When one of them was started again empty,
// without Join, at its old address, that name now answers for another
// cluster, which must not take the member in: it did, as a learner of its
// new catalog (seen in CI as "the new b's catalog: voters [b], learners
// [a]"). The member must ask on elsewhere, and a direct join or leave
// from it must be refused.
func TestAJoinAcrossClustersIsRefused(t *testing.T) {
	t.Parallel()
	c := newDurableQUIC(t, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*await.Deadline)
	defer cancel()
	a := c.nodes["a"]
	old := a.ClusterID()
	waitClusterAnnounced(t, a, old, 3)
	c.kill("b")
	if err := os.RemoveAll(filepath.Join(c.dir, "b")); err != nil {
		t.Fatal(err)
	}
	b, err := Start(ctx, &Config{Name: "b", Listen: c.addrs["b"], Gossip: GossipLoopback, TLS: c.tls["b"],
		DataDir: filepath.Join(c.dir, "b"), Durability: DurabilityBatch,
		ReplaceAfter: time.Minute, Logger: testLogger().With("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes["b"] = b
	if b.ClusterID() == old || b.ClusterID() == 0 {
		t.Fatalf("the new b's cluster %016x, the old cluster's %016x", b.ClusterID(), old)
	}

	// The rejoin path: b named first, as a voter of a's catalog.
	var mu sync.Mutex
	var takenBy []string
	taken := func(leader string, member bool) {
		mu.Lock()
		defer mu.Unlock()
		takenBy = append(takenBy, leader)
	}
	_ = a.askJoin(ctx, a.catalog.Load(), []string{"b"}, func() bool { return false }, taken)
	mu.Lock()
	for _, l := range takenBy {
		if l == "b" {
			t.Errorf("a's catalog join was taken by the new b, of another cluster (taken by %v)", takenBy)
		}
	}
	mu.Unlock()

	// The calls themselves.
	for _, op := range []string{opJoin, opLeaving} {
		req, err := codec.Marshal(callRequest{Op: op, Heap: catalogName, ID: a.id, Addr: a.Addr(), Cluster: old})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := a.tr.Call(ctx, "b", req)
		if err != nil {
			t.Fatalf("%s call to the new b: %v", op, err)
		}
		var resp callResponse
		if err := codec.Unmarshal(raw, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.OK || resp.Cluster != b.ClusterID() || !strings.Contains(resp.Refused, ErrOtherCluster.Error()) {
			t.Errorf("%s from a of cluster %016x to b of %016x: %+v; want refused as another cluster's", op, old, b.ClusterID(), resp)
		}
	}
	// A leave notice: the call is refused, and no user message follows
	// it (b's membership took that one from a's name, since a is the
	// sender the transport authenticated).
	host, port, err := net.SplitHostPort(c.addrs["b"])
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	to := &memberlist.Node{Name: "b", Addr: net.ParseIP(host), Port: uint16(p)}
	msg := []byte(leavingPrefix + "a")
	if err := a.members.tellLeaving(a.members.ml, to, msg, time.Now().Add(await.Deadline)); !errors.Is(err, ErrOtherCluster) {
		t.Errorf("a's leave notice to the new b: %v; want ErrOtherCluster", err)
	}
	// However a notice gets there, one of a node that is no member here
	// is not noted: it would make a later failure of a member of that
	// name look like a leave.
	b.members.noteLeaving("a")
	b.members.mu.Lock()
	noted := b.members.leaving["a"]
	b.members.mu.Unlock()
	if noted {
		t.Errorf("the new b noted a leave of a, no member of its cluster")
	}
	st := b.catalog.Load().Stats()
	if len(st.Voters) != 1 || len(st.Learners) != 0 {
		t.Fatalf("the new b's catalog: voters %v, learners %v; want b alone", st.Voters, st.Learners)
	}
	// The old cluster's own calls still work: c takes a's join.
	if _, err := a.CreateHeap(ctx, "after", nil); err != nil {
		t.Fatalf("the old cluster's catalog, with the new b asked: %v", err)
	}
}
