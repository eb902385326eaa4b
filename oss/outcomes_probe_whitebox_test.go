package oss

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport/transporttest"
)

// The outcomes probe: clients write unique markers through Update and
// Begin/Commit with contexts that end at random moments (before the call,
// at once, after microseconds or milliseconds, from another goroutine),
// while a nemesis kills and restarts the heap's leader, cuts it off,
// closes it gracefully (it hands its leadership over) and makes the
// network lossy. At the end every replica must hold every marker whose
// commit returned nil, none whose commit returned a definite failure, and
// counters that agree with the markers present (a record applied twice
// would count twice). Unknown outcomes may go either way.

// outcomeClass is what an error says about a commit.
type outcomeClass uint8

const (
	outcomeOK outcomeClass = iota
	outcomeFailed
	outcomeUnknown
)

func classify(err error) outcomeClass {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, ErrCommitUnknown):
		return outcomeUnknown
	}
	return outcomeFailed
}

// probeMarker is the value of a marker object.
type probeMarker struct {
	Client, Seq int
	Hot         int // the counter the transaction also incremented, or -1
}

// probeOp is one commit the probe made, and what it was told.
type probeOp struct {
	id    uuid.UUID
	hot   int
	class outcomeClass
	err   error
	how   string // the context's shape and the API used
}

// probeGrant is one grant the probe made, and what it was told.
type probeGrant struct {
	who   string
	class outcomeClass
	err   error
	how   string
}

const probeCounters = 3

func probeCounterID(k int) uuid.UUID { return uuid.UUID{0: 'c', 15: byte(k)} }

// outcomesSeed is the probe's seed: OSS_OUTCOMES_SEED, or drawn.
func outcomesSeed(t *testing.T) uint64 {
	if s := os.Getenv("OSS_OUTCOMES_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("OSS_OUTCOMES_SEED: %v", err)
		}
		return seed
	}
	return rand.Uint64() % 1_000_000
}

func TestOutcomesProbe(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := outcomesSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (OSS_OUTCOMES_SEED=%d to run it again)", seed, seed)
		}
	})
	hs := newHarness(t, seed, 3, true)
	p := &outcomesProbe{hs: hs, seed: seed}
	p.run(8, harnessTime())
	p.check()
}

// The probe with one P shared with busy goroutines and short ticks: the
// loops, the clients and their timers interleave coarsely, and raft's
// timeouts and resends fire while proposals still wait in queues.
func TestOutcomesProbeStarved(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := outcomesSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (OSS_OUTCOMES_SEED=%d to run it again)", seed, seed)
		}
	})
	starveCPU(t)
	hs := newHarnessWith(t, seed, 3, true, starvedTicks)
	p := &outcomesProbe{hs: hs, seed: seed}
	p.run(8, harnessTime())
	p.check()
}

type outcomesProbe struct {
	hs   *harness
	seed uint64

	mu     sync.Mutex
	ops    []probeOp
	grants []probeGrant
	faults [6]int // crash, cut off, graceful close, lossy network, flapping, disk
	stalls [5]int // disk stall, cut off then stalled, leader crash, other; snapshots seen (stallNemesis)
}

// run starts clients, runs the nemesis for d, and stops the clients.
func (p *outcomesProbe) run(clients int, d time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { // also when the nemesis fails the test
		close(stop)
		wg.Wait()
	}()
	for c := range clients {
		wg.Go(func() { p.client(c, stop) })
	}
	rng := rand.New(rand.NewPCG(p.seed, 0x6f7574))
	for start := time.Now(); time.Since(start) < d; {
		p.nemesis(rng)
	}
}

// probeContext returns a context for one commit: ended before the call,
// ending at once, after a few microseconds or milliseconds, cancelled
// from another goroutine, or a generous one; and its name.
func probeContext(rng *rand.Rand) (context.Context, context.CancelFunc, string) {
	switch x := rng.IntN(100); {
	case x < 10:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel, "cancelled before"
	case x < 20:
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		return ctx, cancel, "deadline 0"
	case x < 45:
		d := time.Duration(rng.IntN(500)) * time.Microsecond
		ctx, cancel := context.WithTimeout(context.Background(), d)
		return ctx, cancel, fmt.Sprintf("deadline %v", d)
	case x < 65:
		d := time.Duration(rng.IntN(30)) * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), d)
		return ctx, cancel, fmt.Sprintf("deadline %v", d)
	case x < 80:
		ctx, cancel := context.WithCancel(context.Background())
		d := time.Duration(rng.IntN(2000)) * time.Microsecond
		tm := time.AfterFunc(d, cancel)
		return ctx, func() { tm.Stop(); cancel() }, fmt.Sprintf("cancel after %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	return ctx, cancel, "deadline 3s"
}

func (p *outcomesProbe) client(c int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(p.seed, uint64(c)+1))
	for seq := 0; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		h := p.hs.pick(rng)
		if h == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		op := probeOp{id: uuid.New(), hot: -1}
		if rng.IntN(2) == 0 {
			op.hot = rng.IntN(probeCounters)
		}
		ctx, cancel, how := probeContext(rng)
		if rng.IntN(8) == 0 {
			p.grant(ctx, h.node, how)
			cancel()
			continue
		}
		fn := op.write(c, seq)
		var err error
		if rng.IntN(4) == 0 {
			op.how = how + ", Begin/Commit"
			err = probeCommit(ctx, h, fn)
		} else {
			op.how = how + ", Update"
			err = h.Update(ctx, fn)
		}
		cancel()
		p.record(h, op, err)
	}
}

// write is the Update function of op, client c's seq-th: it writes the
// op's marker and, if op.hot is a counter, adds 1 to it.
func (op probeOp) write(c, seq int) func(tx *Tx) error {
	return func(tx *Tx) error {
		if op.hot >= 0 {
			n, err := Get[int64](tx, probeCounterID(op.hot))
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err := Put(tx, probeCounterID(op.hot), n+1); err != nil {
				return err
			}
		}
		return Put(tx, op.id, probeMarker{Client: c, Seq: seq, Hot: op.hot})
	}
}

// record notes op's outcome, err, and checks that a commit told ok is
// seen by its own heap at once.
func (p *outcomesProbe) record(h *Heap, op probeOp, err error) {
	op.class, op.err = classify(err), err
	if op.class == outcomeOK {
		p.seesOwnWrite(h, op)
	}
	p.mu.Lock()
	p.ops = append(p.ops, op)
	p.mu.Unlock()
}

// grant grants a new name read on the heap, through the catalog: an
// admin write, whose outcome is checked as a marker's.
func (p *outcomesProbe) grant(ctx context.Context, n *Node, how string) {
	who := "p-" + uuid.NewString()
	err := n.Grant(ctx, Grant{Who: who, Heap: harnessHeap, Perm: PermRead})
	p.mu.Lock()
	p.grants = append(p.grants, probeGrant{who: who, class: classify(err), err: err, how: how})
	p.mu.Unlock()
}

// seesOwnWrite checks that a plain View on the node that committed op
// sees its marker: Update and Commit return once the local replica has
// applied the commit. A heap closed meanwhile (its node killed) reads
// nothing.
func (p *outcomesProbe) seesOwnWrite(h *Heap, op probeOp) {
	err := h.View(context.Background(), func(tx *Tx) error {
		_, err := Get[probeMarker](tx, op.id)
		return err
	}, nil)
	if err != nil && !errors.Is(err, ErrClosed) {
		p.hs.t.Errorf("seed %d: marker %v (%s) committed, then not seen on its node: %v", p.seed, op.id, op.how, err)
	}
}

// probeCommit runs fn in a transaction from Begin and commits it once.
func probeCommit(ctx context.Context, h *Heap, fn func(*Tx) error) error {
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// nemesis injects one fault on the heap's leader (or, now and then, any
// node) and ends it.
func (p *outcomesProbe) nemesis(rng *rand.Rand) {
	hs := p.hs
	nodes := hs.live()
	name := nodes[rng.IntN(len(nodes))]
	if g, ok := hs.c.group(harnessHeap); ok && rng.IntN(4) != 0 {
		name = g.Leader
	}
	kind := rng.IntN(len(p.faults))
	p.faults[kind]++
	hs.t.Logf("fault %d on %s", kind, name)
	switch kind {
	case 0:
		p.crash(rng, name)
	case 1:
		// Cut off: its followers elect another leader.
		var others []string
		for _, n := range nodes {
			if n != name {
				others = append(others, n)
			}
		}
		hs.c.net.Partition([]string{name}, others)
		probeHold(rng, 600)
	case 2:
		// A graceful close hands its leadership over, with commits in
		// flight; then it comes back on its disk.
		hs.drop(name)
		hs.c.leave(name)
		hs.mu.Lock()
		disk := hs.mems[name]
		hs.mu.Unlock()
		probeHold(rng, 200)
		hs.start(name, true, disk)
		p.reopen(name)
	case 3:
		hs.c.net.SetFaults(transporttest.Faults{Drop: 0.1, Duplicate: 0.1, MaxDelay: 5 * time.Millisecond, Reorder: true})
		probeHold(rng, 500)
	case 4:
		for range 2 + rng.IntN(4) {
			k := 1 + rng.IntN(len(nodes)-1)
			hs.c.net.Partition(nodes[:k], nodes[k:])
			probeHold(rng, 60)
			hs.c.net.Heal()
			probeHold(rng, 60)
		}
	case 5:
		p.diskFault(rng, name)
	}
	hs.heal()
	probeHold(rng, 200)
}

func probeHold(rng *rand.Rand, max int) {
	time.Sleep(time.Duration(20+rng.IntN(max)) * time.Millisecond)
}

// reopen opens the heap on a node started again. The bound is a guard
// against a hang: a node restarted under the clients' load, on a loaded
// machine, took more than the 20 s of open to catch up with its group.
func (p *outcomesProbe) reopen(name string) {
	h := p.hs.c.openWithin(name, harnessHeap, await.Deadline)
	p.hs.mu.Lock()
	p.hs.heaps[name] = h
	p.hs.mu.Unlock()
}

// crash kills a node as a power loss would (what its disk had not
// synced is gone) and starts it again.
func (p *outcomesProbe) crash(rng *rand.Rand, name string) {
	hs := p.hs
	hs.drop(name)
	hs.c.kill(name)
	hs.mu.Lock()
	disk := hs.mems[name].Crash(rng)
	hs.mu.Unlock()
	probeHold(rng, 300)
	hs.start(name, true, disk)
	p.reopen(name)
}

// diskFault makes a node's disk refuse writes or syncs for a while, with
// commits in flight, then crashes and restarts the node: a log whose sync
// failed takes nothing more until then.
func (p *outcomesProbe) diskFault(rng *rand.Rand, name string) {
	hs := p.hs
	hs.mu.Lock()
	f := hs.faultFS[name]
	hs.mu.Unlock()
	errno := syscall.ENOSPC
	if rng.IntN(2) == 0 {
		errno = syscall.EIO
	}
	f.SetRule(func(op persist.Op, _ string) error {
		if op == persist.OpWrite || op == persist.OpSync {
			return errno
		}
		return nil
	})
	probeHold(rng, 400)
	f.SetRule(nil)
	p.crash(rng, name)
}

// check reads every marker and counter on every replica, at a Fresh
// view, and holds them against what the clients were told.
func (p *outcomesProbe) check() {
	t := p.hs.t
	p.hs.heal()
	var n [3]int
	for _, op := range p.ops {
		n[op.class]++
	}
	var g [3]int
	for _, gr := range p.grants {
		g[gr.class]++
	}
	t.Logf("seed %d: %d grants: %d committed, %d failed, %d unknown", p.seed, len(p.grants), g[outcomeOK], g[outcomeFailed], g[outcomeUnknown])
	t.Logf("seed %d: %d commits: %d committed, %d failed, %d unknown; faults (crash, cut, close, lossy, flap, disk) %v",
		p.seed, len(p.ops), n[outcomeOK], n[outcomeFailed], n[outcomeUnknown], p.faults)
	for _, name := range p.hs.live() {
		p.hs.mu.Lock()
		h := p.hs.heaps[name]
		p.hs.mu.Unlock()
		present, counters := p.read(name, h)
		var counted [probeCounters]int64
		for _, op := range p.ops {
			in := present[op.id]
			if in && op.hot >= 0 {
				counted[op.hot]++
			}
			switch {
			case op.class == outcomeOK && !in:
				t.Errorf("seed %d: %s: marker %v (%s) was reported committed and is missing", p.seed, name, op.id, op.how)
			case op.class == outcomeFailed && in:
				t.Errorf("seed %d: %s: marker %v (%s) was reported failed (%v) and is present", p.seed, name, op.id, op.how, op.err)
			}
		}
		if counted != counters {
			t.Errorf("seed %d: %s: counters %v, but the markers present counted %v", p.seed, name, counters, counted)
		}
		p.checkGrants(name, h.node)
	}
}

// checkGrants holds the grants of a node's catalog replica, at a Fresh
// view, against what the grants returned.
func (p *outcomesProbe) checkGrants(name string, n *Node) {
	t := p.hs.t
	var err error
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = n.catalog.Load().View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true})
		cancel()
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("seed %d: %s: the final read of the catalog failed after the faults ended: %v", p.seed, name, err)
	}
	present := map[string]bool{}
	for _, g := range n.Grants() {
		present[g.Who] = true
	}
	for _, g := range p.grants {
		switch in := present[g.who]; {
		case g.class == outcomeOK && !in:
			t.Errorf("seed %d: %s: grant to %s (%s) was reported committed and is missing", p.seed, name, g.who, g.how)
		case g.class == outcomeFailed && in:
			t.Errorf("seed %d: %s: grant to %s (%s) was reported failed (%v) and is present", p.seed, name, g.who, g.how, g.err)
		}
	}
}

// read returns, at a Fresh view of h, which markers are present and the
// counters.
func (p *outcomesProbe) read(name string, h *Heap) (map[uuid.UUID]bool, [probeCounters]int64) {
	t := p.hs.t
	var present map[uuid.UUID]bool
	var counters [probeCounters]int64
	fn := func(tx *Tx) error {
		present = make(map[uuid.UUID]bool, len(p.ops))
		for _, op := range p.ops {
			_, err := Get[probeMarker](tx, op.id)
			switch {
			case err == nil:
				present[op.id] = true
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		for k := range probeCounters {
			c, err := Get[int64](tx, probeCounterID(k))
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			counters[k] = c
		}
		return nil
	}
	var err error
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = h.View(ctx, fn, &ViewOptions{Fresh: true})
		cancel()
		if err == nil {
			return present, counters
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("seed %d: %s: the final read failed after the faults ended: %v", p.seed, name, err)
	return nil, counters
}
