package oss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/testkit/await"
	"go.uber.org/goleak"
)

// ball is held by at most one player; "" when it is free.
type ball struct{ Holder string }

var errTaken = errors.New("the ball is taken")

// soloHeap starts a node in memory with the heap "test", closed at the
// end of the test.
func soloHeap(t *testing.T) (*Node, *Heap) {
	t.Helper()
	n, err := Start(context.Background(), &Config{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeapIfNotExists(context.Background(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return n, h
}

// failsafe bounds a test's waits, so that a lost wake-up fails the test
// instead of hanging it; no test expects it to end.
func failsafe(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustPut[T any](t testing.TB, h *Heap, id uuid.UUID, v T) {
	t.Helper()
	if err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
		t.Fatal(err)
	}
}

func holder(t testing.TB, h *Heap, id uuid.UUID) string {
	t.Helper()
	var b ball
	err := h.View(context.Background(), func(tx *Tx) error {
		var err error
		b, err = Get[ball](tx, id)
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.Holder
}

// grab waits until the ball is free and takes it; runs counts the runs of
// its function.
func grab(ctx context.Context, h *Heap, id uuid.UUID, who string, runs *atomic.Int64) error {
	return h.Update(ctx, func(tx *Tx) error {
		runs.Add(1)
		b, err := Get[ball](tx, id)
		if err != nil {
			return err
		}
		if b.Holder != "" {
			return tx.Retry()
		}
		return Put(tx, id, ball{Holder: who})
	})
}

// goGrab runs grab in a goroutine; the channel receives its result.
func goGrab(ctx context.Context, h *Heap, id uuid.UUID, who string, runs *atomic.Int64) chan error {
	done := make(chan error, 1)
	go func() { done <- grab(ctx, h, id, who, runs) }()
	return done
}

func numWaiters(h *Heap) int {
	h.waitMu.Lock()
	defer h.waitMu.Unlock()
	return len(h.waiters)
}

// A waiting transaction costs nothing while what it read is unchanged:
// commits of other objects neither wake it nor run its function; the
// commit that frees the ball wakes it once and it takes the ball.
func TestRetryWaitsWithoutPollingUntilWhatItReadChanges(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	_, h := soloHeap(t)
	id, other := uuid.New(), uuid.New()
	mustPut(t, h, id, ball{"bob"})
	mustPut(t, h, other, ball{})
	var runs atomic.Int64
	done := goGrab(failsafe(t), h, id, "alice", &runs)
	waitCond(t, "the grab to wait", func() bool { return h.Stats().Waits == 1 })
	before := h.Stats()
	for i := range 20 {
		mustPut(t, h, other, ball{fmt.Sprint(i)})
	}
	// Each Update returned after its state was published and the loop
	// had looked for waiters to wake.
	after := h.Stats()
	if runs.Load() != 1 || h.stats.wakes.Load() != 0 {
		t.Fatalf("commits of another object: %d runs of the function, %d wakes; want 1, 0", runs.Load(), h.stats.wakes.Load())
	}
	if after.Commits != before.Commits+20 || after.Conflicts != 0 || after.Retries != 0 || after.Waits != 1 || after.Checks != 0 {
		t.Fatalf("stats while waiting: before %+v, after %+v", before, after)
	}
	select {
	case err := <-done:
		t.Fatalf("the grab returned while bob held the ball: %v", err)
	default:
	}
	mustPut(t, h, id, ball{}) // bob lets go
	if err := await.Recv(t, done, "the grab to return once bob let go"); err != nil {
		t.Fatal(err)
	}
	if got := holder(t, h, id); got != "alice" {
		t.Fatalf("the ball is held by %q", got)
	}
	st := h.Stats()
	if runs.Load() != 2 || h.stats.wakes.Load() != 1 || st.Waits != 1 || st.Conflicts != 0 {
		t.Fatalf("after the ball was freed: %d runs, %d wakes, %+v", runs.Load(), h.stats.wakes.Load(), st)
	}
	if n := numWaiters(h); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}

// If what the function read changed before it returned ErrRetry, it runs
// again at once: the change happened before the waiter registered, and no
// later change would come to wake it.
func TestRetryRunsAgainAtOnceWhenWhatItReadIsAlreadyStale(t *testing.T) {
	_, h := soloHeap(t)
	id := uuid.New()
	mustPut(t, h, id, ball{"bob"})
	runs := 0
	err := h.Update(failsafe(t), func(tx *Tx) error {
		runs++
		b, err := Get[ball](tx, id)
		if err != nil {
			return err
		}
		if b.Holder != "" {
			if runs == 1 {
				mustPut(t, h, id, ball{}) // bob lets go after we looked
			}
			return tx.Retry()
		}
		return Put(tx, id, ball{"alice"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); runs != 2 || st.Waits != 0 || h.stats.wakes.Load() != 0 {
		t.Fatalf("%d runs, %d waits, %d wakes; want 2 runs, no wait", runs, st.Waits, h.stats.wakes.Load())
	}
}

// Two players hand a turn back and forth, each waiting with ErrRetry for
// its turn: every turn needs a wake-up, and a lost one would leave both
// waiting until the context ends.
func TestRetryPingPongLosesNoWakeup(t *testing.T) {
	_, h := soloHeap(t)
	id := uuid.New()
	mustPut(t, h, id, 0)
	const turns = 200
	ctx := failsafe(t)
	errs := make(chan error, 2)
	for p := range 2 {
		go func() {
			for range turns / 2 {
				err := h.Update(ctx, func(tx *Tx) error {
					n, err := Get[int](tx, id)
					if err != nil {
						return err
					}
					if n%2 != p {
						return tx.Retry()
					}
					return Put(tx, id, n+1)
				})
				if err != nil {
					errs <- fmt.Errorf("player %d: %w", p, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := await.Recv(t, errs, "both ping-pong writers to return"); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := h.View(context.Background(), func(tx *Tx) (err error) { n, err = Get[int](tx, id); return err }, nil); err != nil || n != turns {
		t.Fatalf("after %d turns: %d, %v", turns, n, err)
	}
	if st := h.Stats(); st.Conflicts != 0 {
		t.Fatalf("players that wait for their turn conflicted %d times", st.Conflicts)
	}
}

// A waiter on a root wakes when the root is bound; a worker that scanned
// an empty queue wakes when a job is created, not when an object is
// updated in place.
func TestRetryWaitsOnRootsAndScans(t *testing.T) {
	n, h := soloHeap(t)
	q, err := n.CreateHeapIfNotExists(context.Background(), "queue", nil)
	if err != nil {
		t.Fatal(err)
	}
	meta := uuid.New()
	mustPut(t, q, meta, 0)
	ctx := failsafe(t)
	var rootRuns, workRuns atomic.Int64
	rootDone := make(chan error, 1)
	go func() {
		rootDone <- h.Update(ctx, func(tx *Tx) error {
			rootRuns.Add(1)
			if _, err := tx.Root("start"); errors.Is(err, ErrNotFound) {
				return tx.Retry()
			} else if err != nil {
				return err
			}
			return nil
		})
	}()
	var job uuid.UUID
	workDone := make(chan error, 1)
	go func() {
		workDone <- q.Update(ctx, func(tx *Tx) error {
			workRuns.Add(1)
			job = uuid.Nil
			if err := tx.Scan(func(id uuid.UUID) bool {
				if id != meta {
					job = id
					return false
				}
				return true
			}); err != nil {
				return err
			}
			if job == uuid.Nil {
				return tx.Retry() // the queue is empty
			}
			return tx.Delete(job)
		})
	}()
	waitCond(t, "both to wait", func() bool { return h.Stats().Waits == 1 && q.Stats().Waits == 1 })

	mustPut(t, q, meta, 1) // in place: the set of objects is unchanged
	if workRuns.Load() != 1 || q.stats.wakes.Load() != 0 {
		t.Fatalf("an update in place woke the scan: %d runs, %d wakes", workRuns.Load(), q.stats.wakes.Load())
	}
	created := uuid.New()
	mustPut(t, q, created, "job")
	if err := <-workDone; err != nil {
		t.Fatal(err)
	}
	if job != created || workRuns.Load() != 2 || q.Stats().Objects != 1 {
		t.Fatalf("the worker took %v after %d runs, %d objects left; want %v, 2 runs, 1 object", job, workRuns.Load(), q.Stats().Objects, created)
	}

	if err := update(context.Background(), h, func(tx *Tx) error { return tx.SetRoot("start", uuid.New()) }); err != nil {
		t.Fatal(err)
	}
	if err := <-rootDone; err != nil {
		t.Fatal(err)
	}
	if rootRuns.Load() != 2 {
		t.Fatalf("the root waiter ran %d times, want 2", rootRuns.Load())
	}
}

// A wait ends with its context, definitely: ctx's error, not an unknown
// outcome, and nothing written.
func TestRetryEndsWithTheContext(t *testing.T) {
	_, h := soloHeap(t)
	id := uuid.New()
	mustPut(t, h, id, ball{"bob"})
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int64
	done := goGrab(ctx, h, id, "alice", &runs)
	waitCond(t, "the grab to wait", func() bool { return h.Stats().Waits == 1 })
	applied := h.Stats().Applied
	cancel()
	err := await.Recv(t, done, "the waiting grab to end with its context")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("a wait whose context ended: %v", err)
	}
	if st := h.Stats(); st.Applied != applied || runs.Load() != 1 || holder(t, h, id) != "bob" {
		t.Fatalf("after the context ended: applied %d (was %d), %d runs, holder %q", st.Applied, applied, runs.Load(), holder(t, h, id))
	}
	if n := numWaiters(h); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}

// Closing the node ends a wait with ErrClosed, and its goroutine with it.
func TestRetryEndsWhenTheNodeCloses(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n, h := soloHeap(t)
	id := uuid.New()
	mustPut(t, h, id, ball{"bob"})
	var runs atomic.Int64
	done := goGrab(failsafe(t), h, id, "alice", &runs)
	waitCond(t, "the grab to wait", func() bool { return h.Stats().Waits == 1 })
	n.Close(context.Background())
	if err := await.Recv(t, done, "the waiting grab to end with the node's close"); !errors.Is(err, ErrClosed) {
		t.Fatalf("a wait on a closed node: %v", err)
	}
}

// A function that read nothing cannot be woken by any change.
func TestRetryWithoutReadsIsAnInvalidArgument(t *testing.T) {
	_, h := soloHeap(t)
	err := h.Update(context.Background(), func(tx *Tx) error { return fmt.Errorf("later: %w", ErrRetry) })
	if !errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrRetry) {
		t.Fatalf("ErrRetry without reads: %v", err)
	}
}

// readyBall seeds a ball held by bob through one heap and waits until the
// others have applied it.
func readyBall(t *testing.T, c *testCluster, from string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	mustPut(t, c.heaps[from], id, ball{"bob"})
	for name, h := range c.heaps {
		waitCond(t, name+" to apply the ball", func() bool {
			return h.View(context.Background(), func(tx *Tx) error { _, err := Get[ball](tx, id); return err }, nil) == nil
		})
	}
	return id
}

func followers(c *testCluster) []string {
	lead := c.waitLeader()
	var out []string
	for name := range c.heaps {
		if name != lead {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// A waiter on one node wakes on a commit of another node: the commit
// reaches it as its replica applies the log.
func TestRetryWakesOnACommitOfAnotherNode(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newTestCluster(t, 21, []string{"a", "b", "c"}, nil)
	fs := followers(c)
	id := readyBall(t, c, c.waitLeader())
	w, other := c.heaps[fs[0]], c.heaps[fs[1]]
	var runs atomic.Int64
	done := goGrab(failsafe(t), w, id, "alice", &runs)
	waitCond(t, "the grab to wait", func() bool { return w.Stats().Waits == 1 })
	mustPut(t, other, id, ball{})
	if err := await.Recv(t, done, "the grab to wake on the other node's commit"); err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 2 {
		t.Fatalf("%d runs, want 2", runs.Load())
	}
	waitCond(t, "the grab to reach "+fs[1], func() bool { return holder(t, other, id) == "alice" })
}

// Waiters survive a change of leader: one on the leader that is cut off
// (and deposed), one on a follower. Both wake on commits made under the
// new leader: the follower's at once, the old leader's when it is back.
func TestRetrySurvivesALeaderChange(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 22, []string{"a", "b", "c"}, nil)
	old := c.waitLeader()
	fs := followers(c)
	one, two := readyBall(t, c, old), readyBall(t, c, old)
	var oldRuns, fRuns atomic.Int64
	oldDone := goGrab(failsafe(t), c.heaps[old], one, "alice", &oldRuns)
	fDone := goGrab(failsafe(t), c.heaps[fs[0]], two, "carol", &fRuns)
	waitCond(t, "both to wait", func() bool {
		return c.heaps[old].Stats().Waits == 1 && c.heaps[fs[0]].Stats().Waits == 1
	})
	c.net.Partition([]string{old}, fs)
	waitCond(t, "a new leader", func() bool {
		for _, name := range fs {
			if h := c.heaps[name]; h.leaderIs(h.self) {
				return true
			}
		}
		return false
	})
	putAgainUntilDone(t, c.heaps[fs[1]], one, ball{})
	putAgainUntilDone(t, c.heaps[fs[1]], two, ball{})
	if err := <-fDone; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-oldDone:
		t.Fatalf("the waiter on the cut-off node returned: %v", err)
	default:
	}
	c.net.Heal()
	if err := <-oldDone; err != nil {
		t.Fatal(err)
	}
	if oldRuns.Load() != 2 || fRuns.Load() != 2 {
		t.Fatalf("runs: %d on the old leader, %d on the follower; want 2 each", oldRuns.Load(), fRuns.Load())
	}
}

// A replica that catches up from a snapshot replaces its state whole: no
// change set says what changed. Every waiter wakes and compares its
// versions with the new state: one whose ball was freed in the snapshot
// takes it; one whose ball did not change waits on without running its
// function, until its ball is freed too.
func TestRetryWakesAfterASnapshot(t *testing.T) {
	t.Parallel()
	c := newTestClusterWith(t, 23, func(c *testCluster) { c.tweak = lagCap }, []string{"a", "b", "c"}, []string{"d"})
	lead := c.waitLeader()
	ids := seedBank(t, c.heaps[lead])
	one, two := readyBall(t, c, lead), readyBall(t, c, lead)
	d := c.heaps["d"]
	var oneRuns, twoRuns atomic.Int64
	oneDone := goGrab(failsafe(t), d, one, "alice", &oneRuns)
	twoDone := goGrab(failsafe(t), d, two, "carol", &twoRuns)
	waitCond(t, "both to wait", func() bool { return d.Stats().Waits == 2 })

	c.net.Partition([]string{"d"}, []string{"a", "b", "c"})
	// The group may elect again meanwhile (a loaded machine): each write
	// goes again until a leader takes it (a transfer twice moves no money
	// out of the bank, and only the log's length counts here).
	putAgainUntilDone(t, c.heaps[lead], one, ball{})
	for i := range 300 {
		untilCommitted(t, "a transfer", c.heaps[lead], func(tx *Tx) error { return transferIn(tx, ids[i%8], ids[(i+1)%8], 1) })
	}
	snaps, wakes := d.snapshots.Load(), d.stats.wakes.Load()
	c.net.Heal()
	if err := <-oneDone; err != nil {
		t.Fatal(err)
	}
	if d.snapshots.Load() == snaps {
		t.Fatal("d caught up without a snapshot: the test did not test what it says")
	}
	// The snapshot woke both waiters at once.
	if got := d.stats.wakes.Load() - wakes; got < 2 {
		t.Fatalf("%d wakes after the snapshot, want both waiters", got)
	}
	select {
	case err := <-twoDone:
		t.Fatalf("the waiter whose ball did not change returned: %v", err)
	default:
	}
	putAgainUntilDone(t, c.heaps[lead], two, ball{})
	if err := <-twoDone; err != nil {
		t.Fatal(err)
	}
	// Two runs each: the snapshot's wake ran neither function again
	// unless what it read had changed.
	if oneRuns.Load() != 2 || twoRuns.Load() != 2 {
		t.Fatalf("runs: %d and %d, want 2 and 2", oneRuns.Load(), twoRuns.Load())
	}
}

// An error the function returns after reading is checked with a read
// index, not a log entry: nothing is applied, and it counts as a check,
// not a conflict or a commit.
func TestUpdateErrorIsCheckedWithoutALogEntry(t *testing.T) {
	_, h := soloHeap(t)
	id := uuid.New()
	mustPut(t, h, id, ball{"bob"})
	before := h.Stats()
	err := h.Update(context.Background(), func(tx *Tx) error {
		b, err := Get[ball](tx, id)
		if err != nil {
			return err
		}
		if b.Holder != "" {
			return errTaken
		}
		return Put(tx, id, ball{"alice"})
	})
	if err != errTaken {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	// An error before any read is not checked.
	if err := h.Update(context.Background(), func(*Tx) error { return errTaken }); err != errTaken {
		t.Fatalf("Update returned %v", err)
	}
	after := h.Stats()
	if after.Applied != before.Applied || after.Checks != before.Checks+1 ||
		after.Commits != before.Commits || after.Conflicts != before.Conflicts || after.Retries != before.Retries {
		t.Fatalf("before %+v, after %+v: want one check and nothing applied", before, after)
	}
}

// A replica that has not yet applied a creation answers "not found" on
// its snapshot; the check finds the creation, acknowledged before the
// function returned, and runs the function again on a state that has it.
func TestUpdateErrorOnAStaleReadRunsAgain(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := newTestCluster(t, 24, []string{"a", "b", "c"}, nil)
	lead := c.waitLeader()
	h := c.heaps[followers(c)[0]]
	id := uuid.New()
	var created uint64
	runs := 0
	var seen []error
	err := update(context.Background(), h, func(tx *Tx) error {
		runs++
		b, err := Get[ball](tx, id)
		if runs == 1 {
			// Created and acknowledged elsewhere after this snapshot.
			mustPut(t, c.heaps[lead], id, ball{"bob"})
			created = c.heaps[lead].Stats().Applied
		}
		seen = append(seen, err)
		if err != nil {
			return err
		}
		if b.Holder != "" {
			return errTaken
		}
		return Put(tx, id, ball{"alice"})
	})
	if err != errTaken {
		t.Fatalf("Update returned %v, want %v", err, errTaken)
	}
	if runs != 2 || !errors.Is(seen[0], ErrNotFound) || seen[1] != nil {
		t.Fatalf("%d runs, reads %v; want not found, then found", runs, seen)
	}
	st := h.Stats()
	if st.Checks != 2 || st.Retries != 1 || st.Conflicts != 0 || st.Commits != 0 {
		t.Fatalf("stats %+v: want 2 checks, 1 retry, no conflict, no commit", st)
	}
	if got := c.heaps[lead].Stats().Applied; got != created {
		t.Fatalf("the leader applied %d entries after the creation, want none", got-created)
	}
}

// A replica that cannot reach its group cannot check an error: Update
// says so rather than pass on a decision that may be stale.
func TestUpdateErrorUncheckedWithoutQuorum(t *testing.T) {
	t.Parallel()
	c := newTestCluster(t, 25, []string{"a", "b", "c"}, nil)
	id := readyBall(t, c, c.waitLeader())
	fs := followers(c)
	var rest []string
	for name := range c.heaps {
		if name != fs[0] {
			rest = append(rest, name)
		}
	}
	c.net.Partition([]string{fs[0]}, rest)
	err := update(context.Background(), c.heaps[fs[0]], func(tx *Tx) error {
		if _, err := Get[ball](tx, id); err != nil {
			return err
		}
		return errTaken
	})
	if !errors.Is(err, ErrNoQuorum) || errors.Is(err, errTaken) {
		t.Fatalf("an unchecked error: %v", err)
	}
	c.net.Heal()
}
