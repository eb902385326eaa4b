package oss_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
	"github.com/objectsharing/oss/persist"
)

// stripeGate makes a node's file system whose writes and syncs of its
// stripes wait while the gate is held, and fail once it is broken: a
// store slow or dead under a snapshot being installed, for as long as the
// test wants.
type stripeGate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	held    bool
	broken  bool
	waiting atomic.Int64 // writes and syncs held
}

var errStripeGate = errors.New("stripe gate: the disk is gone")

func newStripeGate() *stripeGate {
	g := &stripeGate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// fs is a file system of the node's own under the gate.
func (g *stripeGate) fs() persist.FS {
	fsys := &persist.FaultFS{FS: persist.OS{}}
	fsys.SetRule(func(op persist.Op, name string) error {
		if !strings.Contains(name, "stripes") || op != persist.OpSync && op != persist.OpWrite {
			return nil
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		for g.held && !g.broken {
			g.waiting.Add(1)
			g.cond.Wait()
			g.waiting.Add(-1)
		}
		if g.broken {
			return errStripeGate
		}
		return nil
	})
	return fsys
}

// set holds or releases the gate, and breaks it or mends it.
func (g *stripeGate) set(held, broken bool) {
	g.mu.Lock()
	g.held, g.broken = held, broken
	g.cond.Broadcast()
	g.mu.Unlock()
}

// installRig is a loaded three-node cluster whose follower victim, cut off
// while the others committed on past a few checkpoints, is installing a
// leader's snapshot, its stripe writes and syncs held at the gate.
type installRig struct {
	c              *osstest.Cluster
	g              oss.Stats
	victim, leader string
	gate           *stripeGate
	l              *ledger
	pad            []byte
	stop           func()
}

// startInstalling builds an installRig.
func startInstalling(t *testing.T) *installRig {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
	r := &installRig{l: newLedger(), pad: make([]byte, 512)}
	var mu sync.Mutex
	gates := map[string]*stripeGate{}
	size := restartLoad{writers: 8, fill: 2000, pad: 512, patience: time.Minute}
	r.c = osstest.Start(t, 3, &osstest.Options{Durable: true, Patience: size.patience, Configure: func(name string, cfg *oss.Config) {
		cfg.CheckpointEvery, cfg.KeepEntries = checkpointEvery, 4
		cfg.CheckpointBytes, cfg.KeepBytes = 256<<10, 16<<10
		mu.Lock()
		defer mu.Unlock()
		if gates[name] == nil {
			gates[name] = newStripeGate()
		}
		cfg.FS = gates[name].fs()
	}})
	r.g = openAll(r.c, "load", 3)
	r.leader, r.victim = r.g.Leader, r.g.Voters[0]
	if r.victim == r.leader {
		r.victim = r.g.Voters[1]
	}
	mu.Lock()
	r.gate = gates[r.victim]
	mu.Unlock()
	t.Cleanup(func() { r.gate.set(false, false) }) // before the cluster closes
	fillHeap(t, r.c.Heap(r.leader, "load"), size)
	r.stop = startLoad(t, r.c, r.victim, r.l, r.pad, size.writers)
	t.Cleanup(r.stop)
	r.c.Heap(r.victim, "load")
	lh := r.c.Heap(r.leader, "load")
	from, cut := lh.Stats().Applied, time.Now()
	r.c.Partition([]string{r.victim}, r.others())
	// Ten election timeouts: the leader counts the follower dead and
	// trims its log past it; healed, the follower is sent a snapshot.
	r.c.Wait("the others to commit on past a few checkpoints, for a second", func() bool {
		return lh.Stats().Applied > from+8*checkpointEvery && time.Since(cut) > time.Second
	})
	// Counted from here: on a loaded machine the victim may have been
	// sent a snapshot before (silent for an election timeout while the
	// heap filled, or its catalog replica joining late), and one applied
	// then is no install under way.
	vn := r.c.Node(r.victim)
	applied, received := nodeCounter(t, vn, "oss_snapshots_applied_total"), nodeCounter(t, vn, "oss_snapshots_received_total")
	t.Logf("%s before the heal: %v snapshots received, %v applied", r.victim, received, applied)
	r.gate.set(true, false)
	r.c.Heal()
	r.c.Wait(r.victim+" to receive a snapshot and install it, held at the gate", func() bool {
		return nodeCounter(t, vn, "oss_snapshots_applied_total") == applied && r.gate.waiting.Load() > 0 &&
			nodeCounter(t, vn, "oss_snapshots_received_total") > received
	})
	return r
}

// others are the running nodes other than the victim.
func (r *installRig) others() []string {
	var others []string
	for _, name := range r.c.Live() {
		if name != r.victim {
			others = append(others, name)
		}
	}
	return others
}

// nodeCounter sums a counter of the node's.
func nodeCounter(t *testing.T, n *oss.Node, name string) float64 {
	var sum float64
	for _, m := range nodeMetric(t, n, name) {
		sum += m.GetCounter().GetValue()
	}
	return sum
}

// ownCommitsWhileInstalling starts n commits on the installing victim,
// each bounded by a context of bound, and returns a function that waits
// until every one was answered (the cluster's patience bounds the wait).
func (r *installRig) ownCommitsWhileInstalling(n int, bound time.Duration) (wait func()) {
	vh := r.c.Heap(r.victim, "load")
	var answered atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r.l.create(vh, r.victim, r.pad, bound)
			answered.Add(1)
		})
	}
	return func() {
		r.c.Wait("the commits on "+r.victim+" to be answered", func() bool { return answered.Load() == int64(n) })
		wg.Wait()
	}
}

// A leader killed while a follower installs its snapshot on a slow store,
// and the follower's own commits made during the install, each bounded by
// a short context: every commit is answered, the node that is left and
// the follower elect a leader once the install is done, the follower
// catches up, and every commit reported committed (on the killed leader
// too) is there afterwards, every one reported failed is not.
func TestLeaderKilledWhileAFollowerInstallsASnapshot(t *testing.T) {
	r := startInstalling(t)
	answered := r.ownCommitsWhileInstalling(8, 200*time.Millisecond)
	r.c.Kill(r.leader)
	r.gate.set(false, false)
	answered()
	vh := r.c.Heap(r.victim, "load")
	ownCommits(t, r.l, vh, r.victim, r.pad, restartLoad{own: 10, patience: time.Minute})
	r.c.Restart(r.leader)
	r.c.Heap(r.leader, "load")
	caughtUp(t, r.c, vh, r.victim)
	r.stop()
	r.c.WaitConverged("load")
	checkLedger(t, r.c, r.l)
}

// A follower whose store fails while it installs a leader's snapshot, and
// that is then killed: the others commit on, and once restarted on a
// sound store it catches up; every commit reported committed is there on
// every replica, its own made during the install included, every one
// reported failed is not.
func TestFollowerWhoseStoreFailsWhileInstallingCatchesUpOnRestart(t *testing.T) {
	r := startInstalling(t)
	answered := r.ownCommitsWhileInstalling(8, 200*time.Millisecond)
	r.gate.set(true, true)
	answered()
	r.c.Kill(r.victim)
	lh := r.c.Heap(r.leader, "load")
	from := lh.Stats().Applied
	r.c.Wait("the others to commit on", func() bool { return lh.Stats().Applied > from+4*checkpointEvery })
	r.gate.set(false, false)
	r.c.Restart(r.victim)
	vh := r.c.Heap(r.victim, "load")
	ownCommits(t, r.l, vh, r.victim, r.pad, restartLoad{own: 10, patience: time.Minute})
	caughtUp(t, r.c, vh, r.victim)
	r.stop()
	r.c.WaitConverged("load")
	checkLedger(t, r.c, r.l)
}
