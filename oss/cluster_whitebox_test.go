package oss

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
	"github.com/objectsharing/oss/transport/transporttest"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// testNet is the network nodes of a testCluster attach to: its
// transporttest network, with the cluster's wraps around endpoints and
// handlers.
type testNet struct {
	*transporttest.Network
	c *testCluster
}

func (n testNet) Attach(name string, h transport.Handler) (transport.Transport, error) {
	c := n.c
	if c.wrapHandler != nil {
		h = c.wrapHandler(name, h)
	}
	ep := n.Endpoint(name, h)
	c.eps[name] = ep
	if c.wrap != nil {
		return c.wrap(name, ep), nil
	}
	return ep, nil
}

// followPartitions makes membership follow the network: a node cut off
// is missing from the others' live sets and they from its, so leaders
// replace it after ReplaceAfter.
func (c *testCluster) followPartitions() { c.net.FollowPartitions(true) }

func testLogger() *slog.Logger {
	if os.Getenv("OSS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startTestNodes starts nodes on an in-memory network: the first
// bootstraps a cluster, the others join it.
func startTestNodes(t testing.TB, seed uint64, names ...string) *testCluster {
	return startTestNodesWith(t, seed, nil, names...)
}

// startTestNodesWith starts nodes as startTestNodes does, their
// configuration changed by tweak.
func startTestNodesWith(t testing.TB, seed uint64, tweak func(*Config), names ...string) *testCluster {
	c := &testCluster{t: t, net: transporttest.NewNetwork(seed), nodes: map[string]*Node{}, heaps: map[string]*Heap{},
		eps: map[string]*transporttest.Endpoint{}, fss: map[string]persist.FS{}, tweak: tweak}
	c.net.Start()
	// Registered before the nodes start: a node that fails to start ends
	// the test, and those started before it must not outlive it.
	t.Cleanup(func() {
		for name := range c.nodes {
			c.kill(name)
		}
		c.net.Stop()
	})
	for i, name := range names {
		c.add(name, i > 0, nil)
	}
	return c
}

// checkpointOften is a tweak for tests of checkpoints, compaction and
// snapshots: a checkpoint and a trim of the in-memory log every `every`
// entries, keeping `keep`.
func checkpointOften(every, keep int) func(*Config) {
	return func(cfg *Config) { cfg.CheckpointEvery, cfg.KeepEntries = every, keep }
}

// lagCap is checkpointOften(64, 16) with a leader that keeps little log for
// a follower behind: one a few hundred commits behind, even if heard from
// lately, catches up from a snapshot.
func lagCap(cfg *Config) {
	checkpointOften(64, 16)(cfg)
	cfg.MaxLogBytes = 16 << 10
}

// add starts a node; tweak may change its configuration. A node that
// joins does so as ossd's do (Config.JoinRetry): its catalog join is
// tried again while the catalog has no leader in reach, within the
// bound below, not failed after one joinTimeout (30 s). At load 13 to 25
// TestPlacementSevenNodesKillAndReturn's killed node, back, found the
// catalog's leader out of reach for those 30 s while the catalog placed
// its voters again ("start n3: oss: join: cannot reach the cluster's
// catalog: ... catch up with its group: context deadline exceeded").
func (c *testCluster) add(name string, join bool, tweak func(*Config)) *Node {
	c.t.Helper()
	cfg := &Config{Name: name, TickInterval: 10 * time.Millisecond, ReplaceAfter: 300 * time.Millisecond, Logger: testLogger().With("test", c.t.Name()),
		JoinRetry: join}
	if c.tweak != nil {
		c.tweak(cfg)
	}
	if tweak != nil {
		tweak(cfg)
	}
	// A bound against a hang: a join took more than 20 s at load 35
	// ("join its group: context deadline exceeded").
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	cfg.Transport = testNet{c.net, c}
	cfg.FS = c.fss[name]
	if join {
		cfg.Join = []string{c.first}
	}
	n, err := Start(ctx, cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	if c.first == "" {
		c.first = name
	}
	c.nodes[name] = n
	return n
}

// kill stops a node as a crash would: no hand-over, no goodbye.
func (c *testCluster) kill(name string) {
	c.eps[name].Close()
	c.nodes[name].stop(context.Background(), false)
	c.forget(name)
}

// leave closes a node gracefully.
func (c *testCluster) leave(name string) {
	if err := c.nodes[name].Close(context.Background()); err != nil {
		c.t.Errorf("close %s: %v", name, err)
	}
	c.forget(name)
}

func (c *testCluster) forget(name string) {
	delete(c.nodes, name)
	delete(c.heaps, name)
}

func (c *testCluster) open(name, heap string) *Heap {
	c.t.Helper()
	return c.openWithin(name, heap, await.Deadline)
}

// openWithin is open with a bound of its own, for an open that carries
// much (a large snapshot streamed to a new replica): a bound against a
// hang, which a loaded machine under the race detector must not reach.
func (c *testCluster) openWithin(name, heap string, bound time.Duration) *Heap {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	// A catalog between leaders refuses at once (ErrNoQuorum: nothing
	// written); on a loaded machine a young cluster may elect again while
	// it forms, so the open is tried again until the deadline.
	h, err := c.nodes[name].CreateHeapIfNotExists(ctx, heap, nil)
	for errors.Is(err, ErrNoQuorum) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond) // a tick: the catalog elects
		h, err = c.nodes[name].CreateHeapIfNotExists(ctx, heap, nil)
	}
	if err != nil {
		c.t.Fatalf("%s: open %s: %v", name, heap, err)
	}
	if heap == "bank" {
		c.heaps[name] = h
	}
	return h
}

// group returns the heap's group as its leader sees it, or false if no
// live node leads it.
func (c *testCluster) group(heap string) (Stats, bool) {
	// A leader cut off, or not yet told of a newer term, still believes
	// it leads: the group is the one whose leader has the highest term.
	var g Stats
	found := false
	for _, n := range c.nodes {
		if h := n.replicaOf(heap); h != nil && h.leaderIs(h.self) {
			if st := h.Stats(); !found || st.Term > g.Term {
				g, found = st, true
			}
		}
	}
	return g, found
}

// waitGroup waits until the heap's group has a leader and returns the
// group as its leader sees it.
func (c *testCluster) waitGroup(t testing.TB, heap string) Stats {
	t.Helper()
	return waitGroup(t, heap, c.group)
}

func waitGroup(t testing.TB, heap string, group func(string) (Stats, bool)) Stats {
	t.Helper()
	var g Stats
	waitCond(t, "a leader of "+heap, func() bool { var ok bool; g, ok = group(heap); return ok })
	return g
}

// settled reports whether the heap's group has exactly the wanted voters
// and is not between configurations.
func (c *testCluster) settled(heap string, want ...string) bool {
	g, ok := c.group(heap)
	want = slices.Sorted(slices.Values(want))
	return ok && !g.Joint && slices.Equal(g.Voters, want)
}

// mustDrop drops a heap on n and fails the test if it cannot. A drop the
// catalog refused, or left unknown, as it changed leaders goes again
// (untilLeader); after an unknown outcome, the next try finding no such
// heap means that try dropped it.
func mustDrop(t testing.TB, n *Node, heap string) {
	t.Helper()
	unknown := false
	untilLeader(t, "drop "+heap, func(ctx context.Context) error {
		err := n.DropHeap(ctx, heap)
		if unknown && errors.Is(err, ErrNoHeap) {
			return nil
		}
		unknown = unknown || errors.Is(err, ErrCommitUnknown)
		return err
	})
}

// placement is where rendezvous hashing puts a heap's voters over the
// running nodes.
func (c *testCluster) placement(heap string, replicas int) []string {
	var peers []peerInfo
	for name, n := range c.nodes {
		peers = append(peers, peerInfo{Name: name, ID: n.id, Role: pki.RoleServer})
	}
	var out []string
	for _, p := range rendezvous(heap, peers)[:oddVoters(replicas, len(peers))] {
		out = append(out, p.Name)
	}
	return out
}

// seedBank creates 8 accounts of 100 and returns their IDs. It waits for
// a leader (untilCommitted): the IDs are chosen once, so a commit again
// after an unknown outcome writes the same accounts.
func seedBank(t testing.TB, h *Heap) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, 8)
	for i := range ids {
		ids[i] = uuid.New()
	}
	untilCommitted(t, "seed the bank", h, func(tx *Tx) error {
		for _, id := range ids {
			if err := Put(tx, id, acct{100}); err != nil {
				return err
			}
		}
		return nil
	})
	return ids
}

// transfers runs transfers from every node until stop is closed and
// returns how many committed. Failures other than a lost quorum or an
// unknown outcome (which a leader's death may cause) fail the test.
func (c *testCluster) transfers(ids []uuid.UUID, stop chan struct{}) func() int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := 0
	for name, h := range c.heaps {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%10 == 0 {
					// The invariant holds in every snapshot, throughout.
					if sum, err := sumOf(h, ids); err == nil && sum != 800 {
						c.t.Errorf("%s: a snapshot holds %d, want 800", name, sum)
						return
					}
				}
				err := transfer(context.Background(), h, ids[i%8], ids[(i+3)%8], int64(i%7))
				switch {
				case err == nil:
					mu.Lock()
					count++
					mu.Unlock()
				case errors.Is(err, ErrClosed):
					return
				case errors.Is(err, ErrNoQuorum), errors.Is(err, ErrCommitUnknown), errors.Is(err, context.DeadlineExceeded):
				default:
					c.t.Errorf("%s: transfer: %v", name, err)
					return
				}
			}
		})
	}
	return func() int { close(stop); wg.Wait(); return count }
}

func (c *testCluster) checkBank(ids []uuid.UUID) {
	c.t.Helper()
	deadline := time.Now().Add(await.Deadline)
	for !c.converged() {
		if time.Now().After(deadline) {
			for name, h := range c.heaps {
				s := h.Stats()
				c.t.Logf("%s: applied %d, leader commit %d, lag %d, last contact %v ago, voters %v, learners %v, leader %q",
					name, s.Applied, s.LeaderCommit, s.Lag, time.Since(s.LeaderContact).Round(time.Millisecond), s.Voters, s.Learners, s.Leader)
			}
			c.t.Fatal("timed out waiting for replicas to converge")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for name, h := range c.heaps {
		if got := total(c.t, h, ids); got != 800 {
			c.t.Fatalf("%s holds %d, want 800", name, got)
		}
	}
}

func TestCatalogPlacesHeapsAndEveryNodeReadsLocally(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 11, "a", "b", "c", "d")
	for _, name := range []string{"a", "b", "c", "d"} {
		c.open(name, "bank")
	}
	want := c.placement("bank", 3)
	waitCond(t, "bank's voters at their placement", func() bool { return c.settled("bank", want...) })
	ids := seedBank(t, c.heaps["d"])
	commits := func() (n uint64) {
		for _, h := range c.heaps {
			n += h.Stats().Commits
		}
		return n
	}
	before := commits()
	done := c.transfers(ids, make(chan struct{}))
	// Transfers from every node, until some have committed.
	waitCond(t, "transfers to commit", func() bool { return commits() >= before+20 })
	if n := done(); n == 0 {
		t.Fatal("no transfer committed")
	}
	c.checkBank(ids)
	for name, n := range c.nodes {
		if hs := n.Heaps(); len(hs) != 1 || hs[0].Name != "bank" || hs[0].Replicas != 3 {
			t.Fatalf("%s lists %v", name, hs)
		}
	}
	// The node that is not a voter is a learner. A voter suspected on a
	// loaded machine (ReplaceAfter is 300 ms here) is replaced by the
	// learner, the group between configurations meanwhile: wait for the
	// group to settle rather than look at one moment.
	var g Stats
	waitCond(t, "three voters and a learner", func() bool {
		var ok bool
		g, ok = c.group("bank")
		return ok && !g.Joint && len(g.Voters) == 3 && len(g.Learners) == 1
	})
	// The catalog keeps up to five voters, an odd number: here three of
	// the four servers.
	cat := c.placement(catalogName, catalogReplicas)
	if len(cat) != 3 {
		t.Fatalf("the catalog's placement over 4 servers: %v", cat)
	}
	waitCond(t, "the catalog's voters", func() bool { return c.settled(catalogName, cat...) })
}

// TestHeapOptionsAndOpenElsewhere: a heap keeps the voters its creator
// asked for, not the node's default; another node opens it with Heap at
// once, though its catalog replica may not have applied the creation
// yet; a name nobody created is ErrNoHeap everywhere and stays missing.
func TestHeapOptionsAndOpenElsewhere(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 23, "a", "b", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.nodes["a"].CreateHeap(ctx, "small", &HeapOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := c.nodes[name].Heap(ctx, "small"); err != nil {
			t.Fatalf("%s: open a heap created on a: %v", name, err)
		}
		if _, err := c.nodes[name].CreateHeap(ctx, "small", nil); !errors.Is(err, ErrHeapExists) {
			t.Fatalf("%s: create a heap created on a: %v", name, err)
		}
		if _, err := c.nodes[name].Heap(ctx, "nosuch"); !errors.Is(err, ErrNoHeap) {
			t.Fatalf("%s: open a heap nobody created: %v", name, err)
		}
	}
	want := c.placement("small", 1)
	waitCond(t, "small's one voter", func() bool { return c.settled("small", want...) })
	for name, n := range c.nodes {
		if hs := n.Heaps(); len(hs) != 1 || hs[0].Name != "small" || hs[0].Replicas != 1 {
			t.Fatalf("%s lists %+v", name, hs)
		}
	}
	// Every node opened it, so Heaps reports each one's view of its group,
	// as Stats does.
	waitCond(t, "every node's view of small's group", func() bool {
		for _, n := range c.nodes {
			hs, st := n.Heaps(), n.replicaOf("small").Stats()
			if hs[0].Leader == "" || !slices.Equal(hs[0].Voters, want) || hs[0].ReplicaApplied[n.cfg.Name] == 0 ||
				st.Leader != hs[0].Leader || !slices.Equal(st.Voters, want) || len(st.Learners) != 2 {
				return false
			}
		}
		return true
	})
}

func TestVoterReplacedAfterFailure(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 12, "a", "b", "c", "d", "e")
	want := c.placement("bank", 3)
	for _, name := range want {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters", func() bool { return c.settled("bank", want...) })
	ids := seedBank(t, c.heaps[want[0]])
	g := c.waitGroup(t, "bank")
	victim := g.Leader
	// Load through the failure and the replacement.
	done := c.transfers(ids, make(chan struct{}))
	c.kill(victim)
	next := c.placement("bank", 3)
	waitCond(t, "a replacement voter", func() bool { return c.settled("bank", next...) })
	if n := done(); n == 0 {
		t.Fatal("no transfer committed")
	}
	for _, name := range next {
		c.heaps[name] = c.nodes[name].replicaOf("bank")
	}
	c.checkBank(ids)
}

func TestRebalanceAfterJoin(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 13, "a", "b", "c")
	heaps := []string{"h0", "h1", "h2", "h3", "h4", "h5"}
	for _, hp := range heaps {
		c.open("a", hp)
	}
	c.add("d", true, nil)
	moved := 0
	for _, hp := range heaps {
		want := c.placement(hp, 3)
		if slices.Contains(want, "d") {
			moved++
		}
		waitCond(t, hp+"'s voters at their new placement", func() bool { return c.settled(hp, want...) })
		waitCond(t, hp+"'s leader at its placement", func() bool { g, ok := c.group(hp); return ok && g.Leader == want[0] })
	}
	if moved == 0 {
		t.Fatal("the join moved no heap: the test did not test anything")
	}
	// The moved heaps still commit and hold what they held.
	for _, hp := range heaps {
		h := c.open("d", hp)
		id := uuid.New()
		untilCommitted(t, hp+": a commit after the join", h, func(tx *Tx) error { return Put(tx, id, acct{1}) })
	}
}

func TestGracefulLeaveHandsOver(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 14, "a", "b", "c", "d")
	want := c.placement("bank", 3)
	for _, name := range want {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters", func() bool { return c.settled("bank", want...) })
	ids := seedBank(t, c.heaps[want[0]])
	g := c.waitGroup(t, "bank")
	leaver := g.Leader
	start := time.Now()
	c.leave(leaver)
	if d := time.Since(start); d >= handOverTimeout {
		t.Fatalf("leave took %v: the hand-over did not finish", d)
	}
	// Right after Close returned the leaver is out and a quorum is in.
	next := c.placement("bank", 3)
	waitCond(t, "bank's voters without the leaver", func() bool { return c.settled("bank", next...) })
	for _, name := range next {
		c.heaps[name] = c.nodes[name].replicaOf("bank")
	}
	untilCommitted(t, "a transfer after the leave", c.heaps[next[0]], func(tx *Tx) error {
		return transferIn(tx, ids[0], ids[1], 5)
	})
	c.checkBank(ids)
}

// TestCloseContextCutsHandOverShort: Close with an ended context skips
// the hand-over, closes the node at once and says why; the others replace
// its voter as after a crash. A second Close returns nil.
func TestCloseContextCutsHandOverShort(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 15, "a", "b", "c", "d")
	want := c.placement("bank", 3)
	for _, name := range want {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters", func() bool { return c.settled("bank", want...) })
	ids := seedBank(t, c.heaps[want[0]])
	g := c.waitGroup(t, "bank")
	leaver := c.nodes[g.Leader]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := leaver.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with an ended context: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close with an ended context took %v", d)
	}
	if err := leaver.Close(context.Background()); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	if err := c.heaps[g.Leader].View(context.Background(), func(*Tx) error { return nil }, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("a View on the closed node: %v", err)
	}
	c.forget(g.Leader)
	next := c.placement("bank", 3)
	waitCond(t, "bank's voters without the closed node", func() bool { return c.settled("bank", next...) })
	for _, name := range next {
		c.heaps[name] = c.nodes[name].replicaOf("bank")
	}
	untilCommitted(t, "a transfer after the close", c.heaps[next[0]], func(tx *Tx) error {
		return transferIn(tx, ids[0], ids[1], 5)
	})
	c.checkBank(ids)
}

func TestLearnerCatchesUpFromSnapshot(t *testing.T) {
	t.Parallel()
	c := startTestNodesWith(t, 15, lagCap, "a", "b", "c", "d")
	want := c.placement("bank", 3)
	var learner string
	for _, name := range []string{"a", "b", "c", "d"} {
		c.open(name, "bank")
		if !slices.Contains(want, name) {
			learner = name
		}
	}
	ids := seedBank(t, c.heaps[want[0]])
	var others []string
	for name := range c.nodes {
		if name != learner {
			others = append(others, name)
		}
	}
	c.net.Partition([]string{learner}, others)
	for i := range 300 {
		untilCommitted(t, "a transfer while the learner is cut off", c.heaps[want[i%3]], func(tx *Tx) error {
			return transferIn(tx, ids[i%8], ids[(i+1)%8], 1)
		})
	}
	before := c.heaps[learner].snapshots.Load()
	c.net.Heal()
	c.checkBank(ids)
	if c.heaps[learner].snapshots.Load() == before {
		t.Fatal("the learner caught up without a snapshot: the test did not test what it says")
	}
}

// A snapshot from the leader that does not decode stops that replica with
// a clear error; the node goes on serving its other heaps.
func TestUndecodableSnapshotLosesOnlyThatReplica(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 17, "a", "b", "c", "d")
	want := c.placement("bank", 3)
	var learner string
	for _, name := range []string{"a", "b", "c", "d"} {
		c.open(name, "bank")
		if !slices.Contains(want, name) {
			learner = name
		}
	}
	ids := seedBank(t, c.heaps[want[0]])
	g := c.waitGroup(t, "bank")
	lead := c.nodes[g.Leader]
	lh := lead.replicaOf("bank")
	h := c.heaps[learner]
	st := lh.Stats()
	junk := raftpb.Message{Type: raftpb.MsgSnap, From: lead.id, To: c.nodes[learner].id, Term: st.Term,
		Snapshot: &raftpb.Snapshot{Data: []byte("not a snapshot"), Metadata: raftpb.SnapshotMetadata{
			Index: st.Applied + 10, Term: st.Term, ConfState: *lh.conf.Load()}}}
	// Queued as the snapshot stream queues what it decoded: a snapshot
	// in a message is dropped (TestSnapshotOnAMessageStreamLosesNoReplica).
	c.nodes[learner].replicaOf("bank").enqueue(g.Leader, &junk)
	waitCond(t, "the learner's replica to stop", h.isClosed)
	if err := h.View(context.Background(), func(*Tx) error { return nil }, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("a View on the lost replica: %v", err)
	}
	if !strings.Contains(h.lost.Error(), "does not decode") {
		t.Fatalf("the replica stopped for %v", h.lost)
	}
	// The node still serves the catalog and the others the bank.
	if hs := c.nodes[learner].Heaps(); len(hs) != 1 {
		t.Fatalf("the learner's catalog: %v", hs)
	}
	delete(c.heaps, learner)
	untilCommitted(t, "a transfer after the lost replica", c.heaps[want[1]], func(tx *Tx) error {
		return transferIn(tx, ids[0], ids[1], 1)
	})
	c.checkBank(ids)
}

// A heap dropped and created again under the same name is a new group:
// it starts empty and messages of the old one do not reach it.
func TestDropAndRecreate(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 18, "a", "b", "c")
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	ids := seedBank(t, c.heaps["a"])
	ctx := context.Background()
	for round := range 3 {
		old := c.heaps["b"]
		mustDrop(t, c.nodes["a"], "bank")
		waitCond(t, "every replica of the dropped heap to close", func() bool {
			// A node may take a replica out of its table before it
			// has closed it: the handle is waited for too.
			if !old.isClosed() {
				return false
			}
			for _, n := range c.nodes {
				if h := n.replicaOf("bank"); h != nil && !h.isClosed() {
					return false
				}
			}
			return true
		})
		if err := old.View(ctx, func(*Tx) error { return nil }, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("a handle on a dropped heap: %v", err)
		}
		for _, name := range []string{"c", "b", "a"} {
			c.open(name, "bank")
		}
		if n, err := sumOf(c.heaps["a"], ids); err == nil || n != 0 {
			t.Fatalf("round %d: the recreated heap holds the old accounts (%d, %v)", round, n, err)
		}
		ids = seedBank(t, c.heaps["c"])
		c.checkBank(ids)
	}
}

// A node that leaves when no server can take its place keeps its votes,
// as a node that died would: the two others, a majority of three, go on
// committing, and a new server takes its place. (Its votes used to go,
// another voter's with them to keep an odd number, so a group of three
// went on with one voter: a whole cluster stopped so could not start
// again without the last node to leave, TestWholeClusterLeftInTurnStartsWithoutOne.)
func TestLeaveWithoutSpareKeepsItsVote(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 19, "a", "b", "c")
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	waitCond(t, "three voters", func() bool { return c.settled("bank", "a", "b", "c") })
	ids := seedBank(t, c.heaps["a"])
	g := c.waitGroup(t, "bank")
	c.leave(g.Leader)
	waitCond(t, "another leader, the three voters kept", func() bool {
		ng, ok := c.group("bank")
		return ok && ng.Leader != g.Leader && c.settled("bank", "a", "b", "c")
	})
	for name, h := range c.heaps {
		untilCommitted(t, name+": a transfer after the leave", h, func(tx *Tx) error {
			return transferIn(tx, ids[0], ids[1], 1)
		})
	}
	c.checkBank(ids)
	// A new server takes the place of the one that left.
	c.add("d", true, nil)
	c.open("d", "bank")
	waitCond(t, "d a voter in place of "+g.Leader, func() bool {
		ng, ok := c.group("bank")
		return ok && !ng.Joint && len(ng.Voters) == 3 && slices.Contains(ng.Voters, "d") && !slices.Contains(ng.Voters, g.Leader)
	})
}

// A client node keeps a full replica of the heaps it opens, as a learner,
// and is never placed as a voter.
func TestClientNodeIsALearner(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 20, "a", "b", "c")
	// A client creates and writes only the heaps it is granted.
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "bank", Perm: PermAdmin})
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	h := c.open("app", "bank")
	ids := seedBank(t, h)
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	c.checkBank(ids)
	// A voter suspected on a loaded machine leaves the group between
	// configurations, or with fewer voters, for a moment: the client is
	// never a voter at any of them, and a learner once the group settles.
	var g Stats
	waitCond(t, "the group to settle with the client a learner", func() bool {
		var ok bool
		g, ok = c.group("bank")
		if ok && slices.Contains(g.Voters, "app") {
			t.Fatalf("a client node votes: %+v", g)
		}
		return ok && !g.Joint && len(g.Voters) == 3 && slices.Contains(g.Learners, "app")
	})
	if g, _ := c.group(catalogName); slices.Contains(g.Voters, "app") {
		t.Fatalf("a client node votes in the catalog: %+v", g)
	}
}

// A replica that catches up with its group (a node joining, or reopening
// a recovered heap) while the group has no leader in reach waits for the
// next one as long as its context lets it: a read index alone fails with
// ErrNoQuorum once the replica has heard no leader for a while, which
// failed Start under load with a minute of its context left.
func TestCatchingUpWaitsOutALeaderlessGroup(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 23, "a", "b", "c")
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	waitCond(t, "bank's voters", func() bool { return c.settled("bank", "a", "b", "c") })
	h := c.heaps["a"]
	c.net.Partition([]string{"a"}, []string{"b", "c"})
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // a bound against a hang: the catch-up after the heal is bounded by it too
	defer cancel()
	waitCond(t, "a to find its group leaderless", func() bool {
		return errors.Is(h.readIndex(ctx), ErrNoQuorum)
	})
	done := make(chan error, 1)
	go func() { done <- h.waitCaughtUp(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("caught up with no leader in reach: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	c.net.Heal()
	if err := await.Recv(t, done, "the catching-up open to return"); err != nil {
		t.Fatalf("after the partition healed: %v", err)
	}
	// A context that ends first says so, with what the group answered.
	c.net.Partition([]string{"a"}, []string{"b", "c"})
	waitCond(t, "a to find its group leaderless again", func() bool {
		return errors.Is(h.readIndex(ctx), ErrNoQuorum) && !h.Stats().LeaderInReach
	})
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelShort()
	err := h.waitCaughtUp(short)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no leader in reach") {
		t.Fatalf("a context that ended first: %v", err)
	}
	c.net.Heal()
}

// A heap's open while the catalog has no leader in reach waits for the
// next one as long as its context lets it, as the join and the catch-up
// after it do: CreateHeapIfNotExists failed at once with ErrNoQuorum, or
// with an unknown outcome, when the catalog was between leaders (in
// TestQUICClusterOfFiveGracefulLeave under load), and Heap did when its
// catalog replica did not know the heap yet.
func TestOpenWaitsOutALeaderlessCatalog(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 29, "a", "b", "c")
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	// Every replica, not only the leader, past the joint configuration
	// that made b and c voters: b and c still in it would need a's vote
	// to elect a leader of their own.
	waitCond(t, "the catalog's voters on every replica", func() bool {
		for _, n := range c.nodes {
			if st := n.catalog.Load().Stats(); st.Joint || !slices.Equal(st.Voters, []string{"a", "b", "c"}) {
				return false
			}
		}
		return true
	})
	c.net.Partition([]string{"a"}, []string{"b", "c"})
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // a bound against a hang: the create and open after the heal are bounded by it too
	defer cancel()
	cat := c.nodes["a"].catalog.Load()
	waitCond(t, "a to find the catalog leaderless", func() bool {
		return errors.Is(cat.readIndex(ctx), ErrNoQuorum)
	})
	// Created on the other side: a's catalog replica does not know it.
	if _, err := c.nodes["b"].CreateHeapIfNotExists(ctx, "other", nil); err != nil {
		t.Fatal(err)
	}
	created, found := make(chan error, 1), make(chan error, 1)
	go func() { _, err := c.nodes["a"].CreateHeapIfNotExists(ctx, "new", nil); created <- err }()
	go func() { _, err := c.nodes["a"].Heap(ctx, "other"); found <- err }()
	select {
	case err := <-created:
		t.Fatalf("created with no leader of the catalog in reach: %v", err)
	case err := <-found:
		t.Fatalf("opened with no leader of the catalog in reach: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	c.net.Heal()
	if err := await.Recv(t, created, "CreateHeap to return"); err != nil {
		t.Fatalf("create after the partition healed: %v", err)
	}
	if err := await.Recv(t, found, "the open of the heap to return"); err != nil {
		t.Fatalf("open after the partition healed: %v", err)
	}
}
