package oss

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

type acct struct{ Balance int64 }

type testCluster struct {
	t     testing.TB
	net   *transporttest.Network
	nodes map[string]*Node
	heaps map[string]*Heap
	eps   map[string]*transporttest.Endpoint
	fss   map[string]persist.FS // data directories of durable nodes
	first string                // the node that bootstrapped the cluster
	// wrap, if not nil, stands between a node started later and its
	// endpoint, and wrapHandler between the endpoint and the node.
	wrap        func(name string, tr transport.Transport) transport.Transport
	wrapHandler func(name string, h transport.Handler) transport.Handler
	// tweak, if not nil, changes the configuration of every node started
	// later, before add's own tweak.
	tweak func(*Config)
}

// newTestCluster starts nodes on an in-memory network, the first
// bootstrapping the cluster and the others joining it, each a replica of
// the heap "bank" with the given first voters and learners, outside the
// catalog.
func newTestCluster(t testing.TB, seed uint64, voters, learners []string) *testCluster {
	return newTestClusterWith(t, seed, nil, voters, learners)
}

// newTestClusterWith starts a cluster as newTestCluster does, once setup
// has prepared the cluster (its tweak, its wraps).
func newTestClusterWith(t testing.TB, seed uint64, setup func(*testCluster), voters, learners []string) *testCluster {
	c := startTestNodes(t, seed)
	if setup != nil {
		setup(c)
	}
	for i, name := range append(append([]string{}, voters...), learners...) {
		c.add(name, i > 0, nil)
	}
	var spec groupSpec
	for _, name := range voters {
		spec.voters = append(spec.voters, groupMember{Name: name, ID: c.nodes[name].id})
	}
	for _, name := range learners {
		spec.learners = append(spec.learners, groupMember{Name: name, ID: c.nodes[name].id})
	}
	for name, n := range c.nodes {
		h, err := n.openGroup(context.Background(), "bank", spec)
		if err != nil {
			t.Fatal(err)
		}
		c.heaps[name] = h
	}
	return c
}

func (c *testCluster) leader() string {
	for name, h := range c.heaps {
		if h.replica != nil && h.leaderIs(h.self) {
			return name
		}
	}
	return ""
}

func update(ctx context.Context, h *Heap, fn func(*Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return h.Update(ctx, fn)
}

func transfer(ctx context.Context, h *Heap, from, to uuid.UUID, amount int64) error {
	return update(ctx, h, func(tx *Tx) error {
		a, err := Get[acct](tx, from)
		if err != nil {
			return err
		}
		b, err := Get[acct](tx, to)
		if err != nil {
			return err
		}
		a.Balance -= amount
		b.Balance += amount
		if err := Put(tx, from, a); err != nil {
			return err
		}
		return Put(tx, to, b)
	})
}

func total(t testing.TB, h *Heap, ids []uuid.UUID) int64 {
	sum, err := sumOf(h, ids)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// sumOf adds up the accounts in one snapshot.
func sumOf(h *Heap, ids []uuid.UUID) (int64, error) {
	var sum int64
	err := h.View(context.Background(), func(tx *Tx) error {
		for _, id := range ids {
			a, err := Get[acct](tx, id)
			if err != nil {
				return err
			}
			sum += a.Balance
		}
		return nil
	}, nil)
	return sum, err
}

func waitCond(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// converged reports whether every replica has applied the same state.
func (c *testCluster) converged() bool {
	var first [32]byte
	seen := false
	for _, h := range c.heaps {
		_, d := h.Digest()
		if !seen {
			first, seen = d, true
		} else if d != first {
			return false
		}
	}
	return true
}

func TestReplicatedBank(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cluster's cleanup
	c := newTestCluster(t, 1, []string{"a", "b", "c"}, []string{"d"})
	ctx := context.Background()
	waitCond(t, "a leader", func() bool { return c.leader() != "" })
	ids := make([]uuid.UUID, 8)
	err := update(ctx, c.heaps["d"], func(tx *Tx) error { // a learner commits too: forwarded
		for i := range ids {
			ids[i] = uuid.New()
			if err := Put(tx, ids[i], acct{100}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for name, h := range c.heaps {
		wg.Go(func() {
			for i := range 30 {
				if err := transfer(ctx, h, ids[i%8], ids[(i+3)%8], int64(i)); err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitCond(t, "replicas to converge", c.converged)
	for name, h := range c.heaps {
		if got := total(t, h, ids); got != 800 {
			t.Fatalf("%s holds %d, want 800", name, got)
		}
	}

	// The leader dies; the others elect another and go on.
	old := c.leader()
	c.kill(old)
	waitCond(t, "a new leader", func() bool { l := c.leader(); return l != "" && l != old })
	for name, h := range c.heaps {
		if err := transfer(ctx, h, ids[0], ids[1], 1); err != nil {
			t.Fatalf("%s after the leader died: %v", name, err)
		}
	}
	waitCond(t, "replicas to converge after failover", c.converged)
}

func TestMinorityMakesNoCommits(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cluster's cleanup
	c := newTestCluster(t, 2, []string{"a", "b", "c"}, nil)
	ctx := context.Background()
	waitCond(t, "a leader", func() bool { return c.leader() != "" })
	id := uuid.New()
	if err := update(ctx, c.heaps["a"], func(tx *Tx) error { return Put(tx, id, acct{1}) }); err != nil {
		t.Fatal(err)
	}
	minority := c.leader()
	var majority []string
	for name := range c.heaps {
		if name != minority {
			majority = append(majority, name)
		}
	}
	c.net.Partition([]string{minority}, majority)
	short, cancel := context.WithTimeout(ctx, time.Second)
	err := c.heaps[minority].Update(short, func(tx *Tx) error { return Put(tx, id, acct{666}) })
	cancel()
	if err == nil {
		t.Fatal("a minority committed")
	}
	if !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrCommitUnknown) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("minority commit: %v", err)
	}
	// The majority elects a leader and commits.
	if err := update(ctx, c.heaps[majority[0]], func(tx *Tx) error { return Put(tx, id, acct{2}) }); err != nil {
		t.Fatalf("majority: %v", err)
	}
	c.net.Heal()
	waitCond(t, "replicas to converge after healing", c.converged)
	var got acct
	c.heaps[minority].View(ctx, func(tx *Tx) error { var err error; got, err = Get[acct](tx, id); return err }, nil)
	if got.Balance != 2 {
		t.Fatalf("after healing the old minority holds %d, want 2 (the minority's write must not survive)", got.Balance)
	}
}

func TestLostForwardedProposalIsResent(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	var mu sync.Mutex
	sent := map[bool]map[raftpb.MessageType]int{false: {}, true: {}}
	props := func() int { mu.Lock(); defer mu.Unlock(); return sent[false][raftpb.MsgProp] }
	c := newTestClusterWith(t, 3, func(c *testCluster) {
		c.wrap = func(name string, tr transport.Transport) transport.Transport {
			return classifying{Transport: tr, mu: &mu, sent: sent}
		}
	}, []string{"a", "b", "c"}, nil)
	ctx := context.Background()
	waitCond(t, "a leader", func() bool { return c.leader() != "" })
	var follower string
	for name := range c.heaps {
		if name != c.leader() {
			follower = name
			break
		}
	}
	id := uuid.New()
	c.net.SetFaults(transporttest.Faults{Drop: 1}) // the forwarded proposal is lost
	before := props()
	errc := make(chan error, 1)
	go func() { errc <- update(ctx, c.heaps[follower], func(tx *Tx) error { return Put(tx, id, acct{7}) }) }()
	waitCond(t, "the follower to forward the proposal", func() bool { return props() > before })
	c.net.SetFaults(transporttest.Faults{})
	if err := <-errc; err != nil {
		t.Fatalf("commit whose forwarded proposal was lost: %v", err)
	}
	if st := c.net.Stats(); st.Dropped == 0 {
		t.Fatal("nothing was dropped: the test did not test anything")
	}
	waitCond(t, "replicas to converge", c.converged)
	for name, h := range c.heaps {
		var got acct
		err := h.View(ctx, func(tx *Tx) error { var err error; got, err = Get[acct](tx, id); return err }, nil)
		if err != nil || got.Balance != 7 {
			t.Fatalf("%s holds %v (%v) at %d", name, got, err, h.state.Load().Index())
		}
	}
}

// FuzzRaftEnvelope: an envelope from a peer is untrusted; decoding never
// panics and what encodes comes back.
func FuzzRaftEnvelope(f *testing.F) {
	e := raftEnvelope{Heap: "bank", Group: 42, Msg: []byte{8, 3, 16, 1}}
	f.Add(e.appendTo(nil))
	f.Add([]byte{1, 0xff, 0xff})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got raftEnvelope
		if err := got.decode(data); err != nil {
			return
		}
		again := got.appendTo(nil)
		var back raftEnvelope
		if err := back.decode(again); err != nil || back.Heap != got.Heap || back.Group != got.Group || string(back.Msg) != string(got.Msg) {
			t.Fatalf("%+v does not round-trip: %+v %v", got, back, err)
		}
	})
}

// FuzzHandleCall: a peer's request (join, status) is untrusted input; no
// bytes may crash the node, and an answer is either an error or one that
// decodes.
func FuzzHandleCall(f *testing.F) {
	n, err := Start(context.Background(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { n.Close(context.Background()) })
	for _, r := range []callRequest{{Op: opStatus}, {Op: opJoin, Heap: "nope", ID: 7}, {Op: opJoin}, {Op: "other"}} {
		b, _ := codec.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte{0xa3, 0x01, 0x64})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r callRequest
		if codec.Unmarshal(data, &r) == nil && r.Op == opJoin && r.Heap == catalogName {
			return // a join of the catalog adds a member: not what this target is about
		}
		resp, err := n.handleCall(context.Background(), "peer", data)
		if err != nil {
			return
		}
		var st []replicaStatus
		var cr callResponse
		if codec.Unmarshal(resp, &cr) != nil && codec.Unmarshal(resp, &st) != nil {
			t.Fatalf("an answer that decodes as nothing: %x", resp)
		}
	})
}
