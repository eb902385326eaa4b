package oss

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/persist"
	"go.uber.org/goleak"
)

var crashSeed = flag.Uint64("crash.seed", 0, "run the cluster crash test with this seed only")

type ledger struct{ N int64 }

// TestClusterSurvivesPowerLossOfEveryNode runs transfers on three durable
// nodes, cuts the power of all at once (each data directory keeps only
// what was synced, the last write possibly torn), restarts them and checks
// that every acknowledged transfer is there, none is half-applied, and the
// money is conserved.
func TestClusterSurvivesPowerLossOfEveryNode(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seeds := 5
	if os.Getenv("OSS_LONG") != "" {
		seeds = 100
	}
	first := uint64(1)
	if *crashSeed != 0 {
		first, seeds = *crashSeed, 1
	}
	// Checkpoint often, so that recovery starts from checkpoints and the
	// log is truncated under load.
	every, keep := compactEvery, keepEntries
	compactEvery, keepEntries = 64, 16
	t.Cleanup(func() { compactEvery, keepEntries = every, keep })
	for seed := first; seed < first+uint64(seeds); seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("replay with: go test ./oss -run TestClusterSurvivesPowerLossOfEveryNode -crash.seed %d", seed)
				}
			}()
			powerLoss(t, seed)
		})
	}
}

func powerLoss(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	names := []string{"a", "b", "c"}
	c := &testCluster{t: t, net: nil}
	c = startDurable(t, seed, names)
	for _, name := range names {
		c.open(name, "bank")
	}
	ids := seedBank(t, c.heaps["a"])
	ledgers := map[string]uuid.UUID{}
	for _, name := range names {
		ledgers[name] = uuid.New()
		if err := update(context.Background(), c.heaps[name], func(tx *Tx) error { return Put(tx, ledgers[name], ledger{}) }); err != nil {
			t.Fatal(err)
		}
	}

	// Transfers from every node, each also counting itself in its node's
	// ledger, until the power fails.
	var mu sync.Mutex
	acked, unknown := map[string]int64{}, map[string]int64{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, name := range names {
		h := c.heaps[name]
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := h.Update(ctx, func(tx *Tx) error {
					l, err := Get[ledger](tx, ledgers[name])
					if err != nil {
						return err
					}
					l.N++
					if err := Put(tx, ledgers[name], l); err != nil {
						return err
					}
					a, err := Get[acct](tx, ids[i%8])
					if err != nil {
						return err
					}
					b, err := Get[acct](tx, ids[(i+3)%8])
					if err != nil {
						return err
					}
					a.Balance, b.Balance = a.Balance-int64(i%5), b.Balance+int64(i%5)
					if err := Put(tx, ids[i%8], a); err != nil {
						return err
					}
					return Put(tx, ids[(i+3)%8], b)
				})
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					acked[name]++
				case errors.Is(err, ErrClosed), errors.Is(err, ErrCommitUnknown), errors.Is(err, ErrNoQuorum):
					unknown[name]++
				default:
					t.Errorf("%s: %v", name, err)
				}
				mu.Unlock()
				if err != nil && errors.Is(err, ErrClosed) {
					return
				}
			}
		})
	}
	time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)

	// The power fails everywhere at once: first every node is cut off,
	// so that no acknowledgement crosses between the moments each disk is
	// frozen; what each disk holds is fixed then; acknowledgements counted
	// so far must survive.
	c.net.Partition([]string{"a"}, []string{"b"}, []string{"c"})
	mu.Lock()
	must := map[string]int64{}
	for k, v := range acked {
		must[k] = v
	}
	crashed := map[string]persist.FS{}
	for _, name := range names {
		crashed[name] = c.fss[name].(*persist.MemFS).Crash(rng)
	}
	mu.Unlock()
	close(stop)
	for _, name := range names {
		c.kill(name)
	}
	wg.Wait()
	if must["a"]+must["b"]+must["c"] == 0 {
		t.Fatal("no transfer was acknowledged before the crash: the test tests nothing")
	}

	// Restart on what the disks held.
	c.net.Heal()
	for _, name := range names {
		c.fss[name] = crashed[name]
		c.add(name, name != "a", func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	for _, name := range names {
		c.heaps[name] = c.nodes[name].replicaOf("bank")
		if c.heaps[name] == nil {
			t.Fatalf("%s did not recover its replica of bank", name)
		}
	}
	waitCond(t, "a leader after the restart", func() bool { _, ok := c.group("bank"); return ok })
	h := c.heaps["b"]
	if err := h.View(func(*Tx) error { return nil }, Fresh(context.Background())); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		var l ledger
		h.View(func(tx *Tx) error { var err error; l, err = Get[ledger](tx, ledgers[name]); return err })
		mu.Lock()
		lo, hi := must[name], acked[name]+unknown[name]
		mu.Unlock()
		if l.N < lo || l.N > hi {
			t.Fatalf("%s's ledger counts %d transfers after recovery; %d were acknowledged before the crash, at most %d were tried", name, l.N, lo, hi)
		}
	}
	c.checkBank(ids)
	// And the cluster goes on.
	if err := transfer(context.Background(), c.heaps["c"], ids[0], ids[1], 1); err != nil {
		t.Fatal(err)
	}
}

// startDurable starts nodes with data directories on in-memory file
// systems.
func startDurable(t *testing.T, seed uint64, names []string) *testCluster {
	c := startTestNodes(t, seed)
	for i, name := range names {
		c.fss[name] = persist.NewMemFS()
		c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	return c
}
