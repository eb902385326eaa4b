package oss

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
)

// appDropper drops, while on is set, the appends of heap "w" that reach
// the node it wraps: the node hears its leader (heartbeats) and forwards
// its commits to it, but applies nothing, until the leader sends it a
// snapshot.
type appDropper struct {
	transport.Handler
	on *atomic.Bool
}

func (h appDropper) HandleMessage(from string, msg []byte) {
	var env raftEnvelope
	var m raftpb.Message
	if h.on.Load() && env.decode(msg) == nil && env.Heap == "w" && m.Unmarshal(env.Msg) == nil && m.Type == raftpb.MsgApp {
		return
	}
	h.Handler.HandleMessage(from, msg)
}

// deafLagger is a three-node durable cluster with heap "w", one of whose
// followers (lagger) hears its leader's heartbeats but none of its
// appends once deaf is set: it forwards its commits to the leader, which
// commits them, and learns of none.
type deafLagger struct {
	c                   *testCluster
	heaps               map[string]*Heap
	lead, lagger, other string
	deaf                *atomic.Bool                // the lagger's
	disk                *persist.FaultFS            // the lagger's
	deafs               map[string]*atomic.Bool     // every node's, by name
	disks               map[string]*persist.FaultFS // every node's, by name
}

func newDeafLagger(t *testing.T, seed uint64) *deafLagger {
	c := startTestNodesWith(t, seed, nil)
	names := []string{"a", "b", "c"}
	drop := map[string]*atomic.Bool{}
	faults := map[string]*persist.FaultFS{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return appDropper{Handler: hd, on: drop[name]}
	}
	for i, name := range names {
		drop[name] = new(atomic.Bool)
		faults[name] = &persist.FaultFS{FS: persist.NewMemFS()}
		c.fss[name] = faults[name]
		c.add(name, i > 0, func(cfg *Config) {
			lagCap(cfg)
			cfg.DataDir = "/data/" + name
		})
	}
	d := &deafLagger{c: c, heaps: map[string]*Heap{}}
	for _, name := range names {
		d.heaps[name] = c.open(name, "w")
	}
	// The leader placement puts there: placement moves leadership to it
	// once the heap's replicas have ticked engine.TransferTicks (half a
	// second here), and a leader that moved under a test had its commits
	// decided by the new one (a CI run saw one acknowledged that the
	// test's deaf followers should have left undecided).
	d.lead = placementOrder("w", names...)[0]
	waitCond(t, "one leader of w for all, where placement puts it", func() bool {
		for _, name := range names {
			if d.heaps[name].Stats().Leader != d.lead {
				return false
			}
		}
		return true
	})
	for _, name := range names {
		switch {
		case name == d.lead:
		case d.lagger == "":
			d.lagger = name
		default:
			d.other = name
		}
	}
	d.deaf, d.disk, d.deafs, d.disks = drop[d.lagger], faults[d.lagger], drop, faults
	d.deaf.Store(true)
	return d
}

// forwarded starts a commit of marker on the lagger, with ctx, and waits
// until the leader has applied it; the commit's answer goes to errc.
func (d *deafLagger) forwarded(t *testing.T, ctx context.Context, marker uuid.UUID) <-chan error {
	errc := make(chan error, 1)
	go func() {
		errc <- d.heaps[d.lagger].Update(ctx, func(tx *Tx) error { return Put(tx, marker, 1) })
	}()
	waitCond(t, "the leader to apply the lagger's commit", func() bool {
		return d.heaps[d.lead].state.Load().Version(marker) != 0
	})
	return errc
}

// answer waits for a commit's answer.
func answer(t *testing.T, errc <-chan error, what string) error {
	t.Helper()
	var err error
	waitCond(t, what, func() bool {
		select {
		case err = <-errc:
			return true
		default:
			return false
		}
	})
	return err
}

// A follower's commit that its leader committed, and whose caller's
// context ended before the follower learned of it, is an unknown
// outcome: never a failure, and never a success the caller's View would
// not show.
func TestForwardedCommitCancelledBeforeItsOutcomeIsUnknown(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	d := newDeafLagger(t, 43)
	marker := uuid.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := d.forwarded(t, ctx, marker)
	cancel()
	if err := answer(t, errc, "the cancelled commit's answer"); !errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("the lagger's commit, which its leader committed, returned %v; want an unknown outcome", err)
	}
	d.deaf.Store(false)
	waitCond(t, "the lagger to apply its commit", func() bool { return d.heaps[d.lagger].state.Load().Version(marker) != 0 })
}

// A commit whose context ends while its heap's loop waits for the disk
// (a follower storing its leader's snapshot on a disk that stalls) is
// answered when its context ends, with an unknown outcome: its record
// went to the leader, which committed it. The caller used to wait for
// the loop's answer to its abandon, which came only once the disk moved
// again: with a disk that hangs, Update never returned, whatever its
// context said.
func TestCommitCancelledWhileTheLoopWaitsForItsDiskAnswers(t *testing.T) {
	t.Parallel()
	d := newDeafLagger(t, 41)
	heaps, lead, lagger, other := d.heaps, d.lead, d.lagger, d.other
	marker := uuid.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := d.forwarded(t, ctx, marker)

	// The lagger's disk stalls as its loop stores the leader's snapshot.
	held := make(chan struct{})
	release := make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(let) // before the nodes close
	d.disk.SetRule(func(op persist.Op, name string) error {
		if op == persist.OpSync && storingSnapshot() {
			holdOnce.Do(func() { close(held) })
			<-release
		}
		return nil
	})
	before := heaps[lagger].snapshots.Load()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // past the leader's log: the lagger needs a snapshot
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-held:
				return
			default:
			}
			update(context.Background(), heaps[[]string{lead, other}[k%2]], func(tx *Tx) error { return Put(tx, answerID(k%500), k) })
		}
	})
	defer wg.Wait()
	defer close(stop)
	waitCond(t, "the lagger's store to stall under its leader's snapshot", func() bool {
		select {
		case <-held:
			return true
		default:
			return false
		}
	})

	cancel()
	if err := answer(t, errc, "the cancelled commit's answer while the lagger's disk stalls"); !errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("the lagger's commit, which its leader committed, returned %v; want an unknown outcome", err)
	}
	d.deaf.Store(false)
	let()
	waitCond(t, "the lagger to apply its commit", func() bool { return heaps[lagger].state.Load().Version(marker) != 0 })
	if heaps[lagger].snapshots.Load() == before {
		t.Fatal("the lagger caught up without a snapshot: the test did not test what it says")
	}
}

// storingSnapshot reports whether the calling goroutine is storing a
// leader's snapshot (a heap's loop in storeSnapshot).
func storingSnapshot() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), ".storeSnapshot(")
}

// A commit on a leader whose followers hear none of its appends (raft
// took it; no quorum decides it) whose context ends while the node
// closes, its heap waiting for a checkpoint stuck on the disk, is
// answered when its context ends, with an unknown outcome, not when the
// disk moves again.
func TestCommitCancelledWhileItsHeapClosesOnAStalledDiskAnswers(t *testing.T) {
	t.Parallel()
	d := newDeafLagger(t, 47)
	d.deaf.Store(false)
	lead := d.heaps[d.lead]
	held, logged := make(chan struct{}), make(chan struct{})
	release := make(chan struct{})
	var holdOnce, logOnce, releaseOnce sync.Once
	var armed atomic.Bool
	let := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(let) // before the nodes close
	d.disks[d.lead].SetRule(func(op persist.Op, name string) error {
		switch {
		case op == persist.OpSync && strings.Contains(name, "/stripes"):
			holdOnce.Do(func() { close(held) })
			<-release
		case op == persist.OpWrite && strings.Contains(name, "/wal/") && armed.Load():
			logOnce.Do(func() { close(logged) })
		}
		return nil
	})
	for k := 0; !closedYet(held); k++ { // a checkpoint comes due, and its sync stalls
		putAgainUntilDone(t, lead, answerID(k%500), k)
	}
	d.deafs[d.lagger].Store(true)
	d.deafs[d.other].Store(true)
	armed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- lead.Update(ctx, func(tx *Tx) error { return Put(tx, uuid.New(), 1) })
	}()
	waitCond(t, "the leader to write the commit to its log", func() bool { return closedYet(logged) })
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		d.c.nodes[d.lead].stop(context.Background(), false)
	}()
	waitCond(t, "the heap to stop, waiting for its checkpoint", lead.isClosed)
	cancel()
	if err := answer(t, errc, "the cancelled commit's answer while its heap closes on a stalled disk"); !errors.Is(err, ErrCommitUnknown) {
		t.Fatalf("the commit its leader's raft took returned %v; want an unknown outcome", err)
	}
	let()
	<-closed
	d.c.eps[d.lead].Close()
	d.c.forget(d.lead)
}

// closedYet reports whether ch is closed.
func closedYet(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
