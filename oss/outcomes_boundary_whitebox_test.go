package oss

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// The outcomes probe at the boundary: contexts that end 0 to 3 ms into a
// commit, about as long as a commit takes on disks whose syncs take 0 to
// 2 ms, so that they end spread over the whole way of a commit: while
// its proposal waits in the loop's channel, while the loop holds it for
// the log's write in flight, forwarded to the leader, while the logs
// write it, while it applies. The outcomes probe's nemesis runs as well
// (the slow syncs set again after each of its faults). At the end every
// replica must hold every marker whose Update returned nil and none whose
// Update returned any error but ErrCommitUnknown, and counters equal to
// the markers that added to them.
func TestOutcomesProbeAtTheBoundary(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := outcomesSeed(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (OSS_OUTCOMES_SEED=%d to run it again)", seed, seed)
		}
	})
	hs := newHarness(t, seed, 3, true)
	p := &outcomesProbe{hs: hs, seed: seed}
	p.runAtTheBoundary(8, harnessTime())
	p.check()
}

// runAtTheBoundary starts clients whose contexts end within a commit's
// time, slows every disk's syncs, runs the nemesis for d and stops the
// clients.
func (p *outcomesProbe) runAtTheBoundary(clients int, d time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for c := range clients {
		wg.Go(func() { p.boundaryClient(c, stop) })
	}
	rng := rand.New(rand.NewPCG(p.seed, 0x626e64))
	for start := time.Now(); time.Since(start) < d; {
		p.slowSyncs()
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		p.nemesis(rng)
	}
	p.slowSyncs()
}

// slowSyncs makes every disk's syncs take 0 to 2 ms.
func (p *outcomesProbe) slowSyncs() {
	hs := p.hs
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for _, f := range hs.faultFS {
		f.SetRule(func(op persist.Op, _ string) error {
			if op == persist.OpSync {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			}
			return nil
		})
	}
}

// boundaryClient runs Updates that write a marker (and, one in two, add
// 1 to a counter), with a context that ends 0 to 3 ms in, one in eight a
// second in.
func (p *outcomesProbe) boundaryClient(c int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(p.seed, uint64(c)+0x100))
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
		d := time.Duration(rng.IntN(3000)) * time.Microsecond
		if rng.IntN(8) == 0 {
			d = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		op.how = "deadline " + d.String() + ", Update"
		err := h.Update(ctx, op.write(c, seq))
		cancel()
		p.record(h, op, err)
	}
}
