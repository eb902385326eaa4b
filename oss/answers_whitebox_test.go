package oss

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
)

// Tests of the answers the heap's loop gives its callers: each asks
// whether a caller can be told something that is not the truth.

// answerID is the object the answers tests put at k.
func answerID(k int) uuid.UUID { return uuid.UUID{0: 'w', 14: byte(k >> 8), 15: byte(k)} }

// watchUntil takes w's events until one reaches index, and reports
// whether one was a resync and which objects the changes named.
func watchUntil(t *testing.T, w *Watch, index uint64) (resync bool, seen map[uuid.UUID]bool) {
	t.Helper()
	seen = map[uuid.UUID]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			t.Fatalf("watch: %v (want an event at %d)", err, index)
		}
		switch ev.Kind {
		case EventResync:
			resync = true
		case EventChange:
			for _, c := range ev.Objects {
				seen[c.ID] = true
			}
		}
		if ev.Index >= index {
			return resync, seen
		}
	}
}

// checkWatchSaw fails the test unless the watch saw a resync or a change
// of every object put, 0 ≤ k < n: a watch that skips commits without a
// resync hands its consumer a state that never was.
func checkWatchSaw(t *testing.T, resync bool, seen map[uuid.UUID]bool, n int) {
	t.Helper()
	if resync {
		return
	}
	var missed []int
	for k := range n {
		if !seen[answerID(k)] {
			missed = append(missed, k)
		}
	}
	if len(missed) > 0 {
		t.Fatalf("the watch missed the commits of %d of %d puts (first %d) and gave no resync", len(missed), n, missed[0])
	}
}

// A watch on a replica that catches up from its leader's snapshot gets a
// resync, or every commit: never a gap where the snapshot's commits were.
func TestWatchAcrossALeadersSnapshot(t *testing.T) {
	t.Parallel()
	c := startTestNodesWith(t, 31, lagCap, "a", "b", "c")
	heaps := map[string]*Heap{}
	for _, name := range []string{"a", "b", "c"} {
		heaps[name] = c.open(name, "w")
	}
	var lead string
	waitCond(t, "a leader of w", func() bool { lead = heaps["a"].Stats().Leader; return lead != "" })
	var lagger string
	var others []string
	for _, name := range []string{"a", "b", "c"} {
		if name != lead && lagger == "" {
			lagger = name
		} else {
			others = append(others, name)
		}
	}
	w, err := heaps[lagger].Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mw, err := heaps[lagger].Watch(&WatchOptions{Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Close()
	c.net.Partition([]string{lagger}, others)
	const n = 300 // past the log's compaction: the lagger needs a snapshot
	before := heaps[lagger].snapshots.Load()
	for k := range n {
		putAgainUntilDone(t, heaps[others[k%2]], answerID(k), k)
	}
	c.net.Heal()
	// Every replica at one index with one state: the leader's own state
	// read once could be older than the lagger's (leadership may have
	// moved during the puts, and the old leader then applies the last of
	// them after the new one).
	waitCond(t, "the lagger to catch up", func() bool {
		i, d := heaps[lagger].Digest()
		for _, name := range others {
			if oi, od := heaps[name].Digest(); oi != i || od != d {
				return false
			}
		}
		return true
	})
	if heaps[lagger].snapshots.Load() == before {
		t.Fatal("the lagger caught up without a snapshot: the test did not test what it says")
	}
	// One more commit, after the snapshot: the watches reach it.
	putAgainUntilDone(t, heaps[lead], answerID(n), n)
	at := heaps[lead].state.Load().Index()
	waitCond(t, "the lagger to apply the last put", func() bool { return heaps[lagger].state.Load().Index() >= at })
	resync, seen := watchUntil(t, w, at)
	checkWatchSaw(t, resync, seen, n+1)
	resync, seen = watchUntil(t, mw, at)
	checkWatchSaw(t, resync, seen, n+1)
}

// A watch resuming, on a restarted node, from an index its replica's
// checkpoint covers gets a resync, or every commit after it: the history
// the node kept before it closed is gone.
func TestWatchFromBeforeARestartsCheckpoint(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startDurable(t, 37, []string{"solo"}, checkpointOften(8, 4))
	h := c.open("solo", "w")
	putAgainUntilDone(t, h, answerID(0), 0)
	from := h.state.Load().Index()
	const n = 100
	for k := 1; k < n; k++ {
		putAgainUntilDone(t, h, answerID(k), k)
	}
	c.leave("solo")
	c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
	h = c.open("solo", "w")
	h.watchMu.Lock()
	replayed := len(h.history) > 0 && h.history[0].Index <= from+1
	h.watchMu.Unlock()
	if replayed {
		t.Fatal("the restarted replica replayed its log from before the first put: the test did not test what it says")
	}
	putAgainUntilDone(t, h, answerID(n), n)
	at := h.state.Load().Index()
	w, err := h.Watch(&WatchOptions{From: from})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	resync, seen := watchUntil(t, w, at)
	seen[answerID(0)] = true // at from: not to be delivered
	checkWatchSaw(t, resync, seen, n+1)
}

// A heap closing while its loop hands its checkpointer a job: the
// checkpointer, stopped, returns without taking it, and a leader's
// snapshot the loop installs next (its store write first waits for the
// running checkpoint) must not wait for that job forever, nor the close
// with it.
func TestSnapshotAfterTheCheckpointerStoppedDoesNotWait(t *testing.T) {
	h := &Heap{stop: make(chan struct{})}
	c := &h.ckpt
	c.jobs, c.done, c.exited = make(chan *ckptJob, 1), make(chan ckptResult, 1), make(chan struct{})
	close(h.stop) // the heap closes ...
	go h.runCheckpoints()
	await.Recv(t, c.exited, "the checkpointer to return") // ... and its checkpointer returns,
	j := &ckptJob{}
	c.running = j // as the loop, not yet at its stop, hands it a job
	c.jobs <- j
	waited := make(chan struct{})
	go func() {
		h.awaitCheckpoint() // the loop installs a leader's snapshot
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(await.Deadline): // a bound against a hang only
		t.Fatal("the loop waits for a checkpoint its stopped checkpointer never took")
	}
	if c.running != nil {
		t.Fatal("the checkpoint that never ran is still running")
	}
}

// A replica that stops by itself (a leader's snapshot that does not
// decode) closes its heap: a close of the heap then, as the node's Close
// makes, returns once the replica's loop has exited, not while it still
// stops (here, waiting for a running checkpoint). The node closes its log
// and its store after it.
func TestCloseOfALostReplicaWaitsForItsLoop(t *testing.T) {
	t.Parallel()
	c := startDurable(t, 41, []string{"a", "b", "c"}, checkpointOften(8, 4))
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, "bank")
	}
	g := c.waitGroup(t, "bank")
	var victim string
	for _, name := range []string{"a", "b", "c"} {
		if name != g.Leader && victim == "" {
			victim = name
		}
	}
	h := c.heaps[victim]
	// The victim's next checkpoint holds until the test lets it go.
	started, release := make(chan struct{}, 1), make(chan struct{})
	onCheckpoint(h, func() {
		select {
		case started <- struct{}{}:
			<-release
		default:
		}
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	for k := 0; ; k++ {
		putAgainUntilDone(t, c.heaps[g.Leader], answerID(k%16), k)
		select {
		case <-started:
		default:
			if k == 2000 {
				t.Fatal("no checkpoint started on the victim")
			}
			continue
		}
		break
	}
	lead := c.nodes[g.Leader]
	lh := lead.replicaOf("bank")
	st := lh.Stats()
	junk := raftpb.Message{Type: raftpb.MsgSnap, From: lead.id, To: c.nodes[victim].id, Term: st.Term,
		Snapshot: &raftpb.Snapshot{Data: []byte("not a snapshot"), Metadata: raftpb.SnapshotMetadata{
			Index: st.Applied + 10, Term: st.Term, ConfState: *lh.conf.Load()}}}
	// Queued as the snapshot stream queues what it decoded: a snapshot
	// in a message is dropped (TestSnapshotOnAMessageStreamLosesNoReplica).
	c.nodes[victim].replicaOf("bank").enqueue(g.Leader, &junk)
	waitCond(t, "the victim's replica to stop", h.isClosed)
	early := returnsBeforeLoopExits(h, h.close)
	// The close returns once the loop has exited, which waits for the
	// checkpoint: a close that returns before is caught here, one that
	// waits returns once the checkpoint is let go.
	time.Sleep(100 * time.Millisecond)
	close(release)
	if await.Recv(t, early, "the heap's close to return") {
		t.Fatal("the heap's close returned while its replica's loop still ran")
	}
}

// A node closed while DropHeap closes the dropped replica (which waits
// for a running checkpoint) returns once that replica's loop has exited:
// it closes its log and its store after it, not under its writes.
func TestCloseDuringDropHeapWaitsForTheDroppedReplica(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startDurable(t, 43, []string{"solo"}, checkpointOften(8, 4))
	n := c.nodes["solo"]
	h := c.open("solo", "bank")
	started, release := make(chan struct{}, 1), make(chan struct{})
	onCheckpoint(h, func() {
		select {
		case started <- struct{}{}:
			<-release
		default:
		}
	})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	defer let()
	for k := 0; ; k++ {
		putAgainUntilDone(t, h, answerID(k%16), k)
		select {
		case <-started:
		default:
			if k == 2000 {
				t.Fatal("no checkpoint started")
			}
			continue
		}
		break
	}
	dropped := make(chan error, 1)
	go func() { dropped <- n.DropHeap(context.Background(), "bank") }()
	waitCond(t, "the drop to close the replica", h.isClosed)
	early := returnsBeforeLoopExits(h, func() { c.kill("solo") })
	// The node's close returns once the dropped replica's loop has
	// exited, which waits for the checkpoint: one that returns before is
	// caught here, one that waits returns once it is let go.
	time.Sleep(100 * time.Millisecond)
	let()
	if await.Recv(t, early, "the node's close to return") {
		t.Fatal("the node's Close returned while a replica DropHeap closes still ran")
	}
	if err := await.Recv(t, dropped, "DropHeap to return"); err != nil {
		t.Fatalf("drop: %v", err)
	}
}

// returnsBeforeLoopExits runs stop in a goroutine and reports, once it
// returns, whether h's loop was still running then.
func returnsBeforeLoopExits(h *Heap, stop func()) <-chan bool {
	early := make(chan bool, 1)
	go func() {
		stop()
		select {
		case <-h.done:
			early <- false
		default:
			early <- true
		}
	}()
	return early
}
