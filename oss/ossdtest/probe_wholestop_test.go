package ossdtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/ossdtest"
)

// wholeStop signals every running node with sig (SIGTERM: each hands
// over and leaves; SIGKILL: a power cut), in an order and with gaps of
// up to spread between them that rng picks, and waits for every process
// to exit. A SIGTERM'd node that has not exited in two minutes is killed,
// and the test fails.
func (ch *churn) wholeStop(sig syscall.Signal, rng *rand.Rand, spread time.Duration) []*ossdtest.Proc {
	ch.t.Helper()
	procs := ch.live()
	rng.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
	var order []string
	for i, p := range procs {
		if i > 0 && spread > 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(spread))))
		}
		if err := p.Signal(sig); err != nil {
			ch.t.Fatal(err)
		}
		order = append(order, p.Name)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() {
			if sig == syscall.SIGKILL {
				p.Kill() // reaps it
				return
			}
			// One SIGTERM only: a second cuts the hand-over short. Stop
			// signals again, so it is called once the process exited,
			// for its exit status.
			for end := time.Now().Add(2 * time.Minute); !p.Exited() && time.Now().Before(end); {
				time.Sleep(20 * time.Millisecond)
			}
			if err := p.Stop(time.Second); err != nil {
				ch.t.Errorf("SIGTERM of the whole cluster: %v", err)
			}
		})
	}
	wg.Wait()
	ch.t.Logf("%v sent to %v within %v; all exited after %v", sig, order, spread, time.Since(start).Round(100*time.Millisecond))
	return procs
}

// restartAll starts every node of procs again on its data directory,
// joining through all the others, in an order rng picks, with gaps of up
// to spread; the starts run at once, as a service manager's would.
func (ch *churn) restartAll(procs []*ossdtest.Proc, rng *rand.Rand, spread time.Duration) {
	ch.t.Helper()
	procs = slices.Clone(procs)
	rng.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
	var wg sync.WaitGroup
	var names []string
	for i, p := range procs {
		if i > 0 && spread > 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(spread))))
		}
		var join []*ossdtest.Proc
		for _, q := range procs {
			if q != p {
				join = append(join, q)
			}
		}
		names = append(names, p.Name)
		wg.Go(func() {
			np, err := ch.c.Restart(ch.ctx, p, join...)
			if err != nil {
				ch.t.Errorf("restart %s: %v", p.Name, err)
				return
			}
			ch.set(np)
		})
	}
	wg.Wait()
	if ch.t.Failed() {
		ch.t.FailNow()
	}
	ch.t.Logf("restarted %v within %v", names, spread)
}

// serves checks that the cluster serves with one node down: every heap
// takes a put through every running node, and the catalog creates a
// heap (and drops it again).
func (ch *churn) serves(what string) {
	ch.t.Helper()
	for _, p := range ch.live() {
		for _, heap := range sortedHeaps(ch.heaps) {
			ch.mustDo(fmt.Sprintf("%s: a put to %s through %s", what, heap, p.Name), func(p *ossdtest.Proc, ctx context.Context) error {
				_, err := p.PutRoot(ctx, heap, "alive", p.Name)
				return err
			}, p)
		}
	}
	p := ch.live()[0]
	ch.mustDo(what+": a heap created", func(p *ossdtest.Proc, ctx context.Context) error {
		err := p.CreateHeap(ctx, "probe-made", 1)
		if errors.Is(err, oss.ErrHeapExists) {
			return nil
		}
		return err
	}, p)
	ch.mustDo(what+": the heap dropped", func(p *ossdtest.Proc, ctx context.Context) error {
		err := p.DropHeap(ctx, "probe-made")
		if err != nil && strings.Contains(err.Error(), "no heap") {
			return nil
		}
		return err
	}, p)
}

// oneDown stops one node picked by rng (SIGKILL or SIGTERM in turn) and
// checks that the others serve; then starts it again and waits for
// placement to settle.
func (ch *churn) oneDown(rng *rand.Rand, kill bool) {
	ch.t.Helper()
	x := ch.anyLive(rng)
	how := "SIGTERM"
	if kill {
		how = "SIGKILL"
		x.Kill()
	} else if err := x.Stop(2 * time.Minute); err != nil {
		ch.t.Errorf("SIGTERM of %s: %v", x.Name, err)
	}
	what := x.Name + " down (" + how + ")"
	ch.serves(what)
	ch.statusSays("oss:catalog", func(h oss.HeapStatus, _ string) string {
		if h.Leader == "" || h.Leader == x.Name {
			return fmt.Sprintf("the catalog's leader is %q with %s down", h.Leader, x.Name)
		}
		return ""
	})
	ch.restart(x)
	ch.settle(what + " and back")
}

// probeSeed is OSS_PROBE_SEED, or def.
func probeSeed(def uint64) uint64 {
	if s, err := strconv.ParseUint(os.Getenv("OSS_PROBE_SEED"), 10, 64); err == nil {
		return s
	}
	return def
}

// TestOssdProbeWholeClusterStops stops a whole ossd cluster at once,
// with SIGTERM and with SIGKILL in turn, the signals and the restarts in
// orders and with gaps a seeded generator picks, under bank transfers,
// counter puts and list appends. After each restart the catalog and
// every heap must have their configured voters again, and with any one
// node then down the cluster must serve; at the end every acknowledged
// write is there and none that failed. Three nodes, then (OSS_LONG) five.
func TestOssdProbeWholeClusterStops(t *testing.T) {
	if os.Getenv("OSS_LONG") == "" {
		t.Log("a probe of minutes: run with OSS_LONG=1")
		return
	}
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprint(n, " nodes"), func(t *testing.T) { wholeStops(t, n, 6) })
	}
}

func wholeStops(t *testing.T, n, rounds int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprint("n", i+1))
	}
	seed := probeSeed(31)
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	heaps := map[string]int{"bank": 3, "ctr": 3, "lists": 3}
	if n >= 5 {
		heaps["ctr"] = 5
	}
	ch := startChurn(ctx, t, heaps, names...)
	ch.startWorkload(seed)
	b := newBank(ch, "bank", 8)
	cn := &counters{ch: ch, heap: "ctr", outs: map[int]map[int]outcome{}}
	stop := probeLoad(ch, b, cn, seed)
	ch.settle(fmt.Sprint(n, " nodes"))
	for r := range rounds {
		sig := syscall.SIGTERM
		if r%2 == 1 {
			sig = syscall.SIGKILL
		}
		time.Sleep(time.Duration(rng.Int64N(int64(3 * time.Second))))
		spread := []time.Duration{0, 200 * time.Millisecond, time.Second}[rng.IntN(3)]
		procs := ch.wholeStop(sig, rng, spread)
		ch.restartAll(procs, rng, []time.Duration{0, time.Second, 5 * time.Second}[rng.IntN(3)])
		what := fmt.Sprintf("round %d (%v, seed %d)", r, sig, seed)
		ch.settle(what + ": restarted")
		ch.oneDown(rng, r%4 < 2)
	}
	stop()
	ch.finish(seed)
	p := ch.live()[0]
	b.check(p)
	cn.check(p)
}

// TestOssdProbeWholeClusterStopsOneStaysDown stops a whole ossd cluster
// at once (SIGTERM, then SIGKILL, in turn) and starts all but one node
// again: the others must serve, every heap and the catalog, and settle
// at their placement without it; then it comes back.
func TestOssdProbeWholeClusterStopsOneStaysDown(t *testing.T) {
	if os.Getenv("OSS_LONG") == "" {
		t.Log("a probe of minutes: run with OSS_LONG=1")
		return
	}
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprint(n, " nodes"), func(t *testing.T) { oneStaysDown(t, n, 6) })
	}
}

func oneStaysDown(t *testing.T, n, rounds int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprint("n", i+1))
	}
	seed := probeSeed(32)
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	heaps := map[string]int{"bank": 3, "ctr": 3}
	if n >= 5 {
		heaps["ctr"] = 5
	}
	ch := startChurn(ctx, t, heaps, names...)
	ch.startWorkload(seed)
	b := newBank(ch, "bank", 8)
	cn := &counters{ch: ch, heap: "ctr", outs: map[int]map[int]outcome{}}
	stop := probeLoad(ch, b, cn, seed)
	ch.settle(fmt.Sprint(n, " nodes"))
	for r := range rounds {
		sig := syscall.SIGTERM
		if r%2 == 1 {
			sig = syscall.SIGKILL
		}
		time.Sleep(time.Duration(rng.Int64N(int64(3 * time.Second))))
		spread := []time.Duration{0, 200 * time.Millisecond, time.Second}[rng.IntN(3)]
		procs := ch.wholeStop(sig, rng, spread)
		x := procs[rng.IntN(len(procs))]
		var rest []*ossdtest.Proc
		for _, p := range procs {
			if p != x {
				rest = append(rest, p)
			}
		}
		ch.restartAll(rest, rng, []time.Duration{0, time.Second}[rng.IntN(2)])
		what := fmt.Sprintf("round %d (%v, seed %d): %s stays down", r, sig, seed, x.Name)
		ch.serves(what)
		ch.settle(what)
		ch.restart(x)
		ch.settle(what + ", then back")
	}
	stop()
	ch.finish(seed)
	p := ch.live()[0]
	b.check(p)
	cn.check(p)
}
