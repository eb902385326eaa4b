package oss

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/internal/codec"
	"github.com/objectsharing/oss/persist"
	"go.etcd.io/raft/v3/raftpb"
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
	// Checkpoint often, so that recovery starts from checkpoints and the
	// log is truncated under load.
	c = startDurable(t, seed, names, checkpointOften(64, 16))
	for _, name := range names {
		c.open(name, "bank")
	}
	ids := seedBank(t, c.heaps["a"])
	ledgers := map[string]uuid.UUID{}
	for _, name := range names {
		ledgers[name] = uuid.New()
		untilCommitted(t, name+"'s ledger", c.heaps[name], func(tx *Tx) error { return Put(tx, ledgers[name], ledger{}) })
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
				case errors.Is(err, context.DeadlineExceeded):
					// The 2 s ran out before the record was handed to
					// the loop (waiting for the contended accounts'
					// gate, or for the loop to take it, on a loaded
					// machine): nothing was written, as Update
					// documents, so it counts in neither bound and the
					// ledger check below holds it to that.
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
	// Enough commits for checkpoints to have been taken (a loaded machine
	// commits fewer in a given time), then a random while longer.
	waitCond(t, "commits enough for checkpoints", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return acked["a"]+acked["b"]+acked["c"] >= 3*int64(c.nodes["a"].cfg.CheckpointEvery)
	})
	time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)

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
	loaded := 0
	for _, name := range names {
		c.heaps[name] = c.nodes[name].replicaOf("bank")
		if c.heaps[name] == nil {
			t.Fatalf("%s did not recover its replica of bank", name)
		}
		loaded += c.nodes[name].disk.loaded
	}
	if loaded == 0 {
		t.Fatal("no node recovered objects from the striped store: checkpoints were not exercised")
	}
	waitCond(t, "a leader after the restart", func() bool { _, ok := c.group("bank"); return ok })
	h := c.heaps["b"]
	if err := h.View(context.Background(), func(*Tx) error { return nil }, &ViewOptions{Fresh: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		var l ledger
		h.View(context.Background(), func(tx *Tx) error { var err error; l, err = Get[ledger](tx, ledgers[name]); return err }, nil)
		mu.Lock()
		lo, hi := must[name], acked[name]+unknown[name]
		mu.Unlock()
		if l.N < lo || l.N > hi {
			t.Fatalf("%s's ledger counts %d transfers after recovery; %d were acknowledged before the crash, at most %d were tried", name, l.N, lo, hi)
		}
	}
	c.checkBank(ids)
	// And the cluster goes on.
	untilCommitted(t, "a transfer after the recovery", c.heaps["c"], func(tx *Tx) error {
		return transferIn(tx, ids[0], ids[1], 1)
	})
}

// startDurable starts nodes with data directories on in-memory file
// systems.
func startDurable(t *testing.T, seed uint64, names []string, tweak func(*Config)) *testCluster {
	c := startTestNodesWith(t, seed, tweak)
	for i, name := range names {
		c.fss[name] = persist.NewMemFS()
		c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	return c
}

// FuzzWALRecord: a log record read back from disk is untrusted; replaying
// it returns an error or folds it in, never panics.
func FuzzWALRecord(f *testing.F) {
	hs := raftpb.HardState{Term: 2, Vote: 1, Commit: 3}
	hb, _ := hs.Marshal()
	e := raftpb.Entry{Term: 2, Index: 2, Data: []byte{0xa0}}
	eb, _ := e.Marshal()
	meta := raftpb.SnapshotMetadata{Index: 1, Term: 1}
	mb, _ := meta.Marshal()
	for _, rec := range []walRecord{
		{Heap: "bank", Group: 7, Hard: hb, Entries: [][]byte{eb}, Replicas: 3},
		{Heap: "bank", SnapMeta: mb, SnapData: []byte{0xa0}},
		{Heap: "bank", Dropped: true},
	} {
		b, _ := codec.Marshal(rec)
		f.Add(b)
	}
	f.Add([]byte{0xa1, 0x04, 0x81, 0x41, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		groups := map[groupKey]*recoveredGroup{}
		if replayRecord(groups, 1, data) != nil {
			return
		}
		for _, g := range groups {
			if _, err := g.storage(); err != nil {
				return
			}
		}
	})
}

// A lone durable node restarted keeps its heaps, whole, restart after
// restart: a recovered heap must not be taken for a dropped one while the
// catalog replays its log, and a heap's first open after a restart sees
// every commit acknowledged before.
func TestRestartKeepsHeaps(t *testing.T) {
	t.Parallel()
	mem := persist.NewMemFS()
	ctx := context.Background()
	id := uuid.New()
	for round := range 4 {
		c := startTestNodesWith(t, uint64(round), checkpointOften(16, 4))
		c.fss["solo"] = mem
		n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
		h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
		if err != nil {
			t.Fatal(err)
		}
		var got acct
		err = h.View(ctx, func(tx *Tx) error { var err error; got, err = Get[acct](tx, id); return err }, nil)
		if round > 0 && (err != nil || got.Balance != int64(round*25)) {
			t.Fatalf("restart %d: the heap holds %v (%v), want %d", round, got, err, round*25)
		}
		for range 25 {
			if err := increment(ctx, h, id); err != nil {
				t.Fatal(err)
			}
		}
		// Once the catalog watch has acted on everything the catalog
		// applied, the recovered log included, it has closed whatever
		// it takes for dropped.
		cat := n.catalog.Load()
		waitCond(t, "the catalog watch to catch up", func() bool {
			return n.catalogSynced.Load() >= max(n.catalogGate.index.Load(), cat.state.Load().Index())
		})
		if h.isClosed() {
			t.Fatalf("restart %d: the recovered heap was closed", round)
		}
		if hs := n.Heaps(); len(hs) != 1 {
			t.Fatalf("restart %d: heaps %v", round, hs)
		}
		c.kill("solo")
	}
}

// Batch durability acknowledges commits before their sync; what was
// synced survives a power loss, and the node recovers to a prefix of its
// commits.
func TestBatchDurability(t *testing.T) {
	t.Parallel()
	mem := persist.NewMemFS()
	c := startTestNodes(t, 3)
	c.fss["solo"] = mem
	n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo"; cfg.Durability = DurabilityBatch })
	h, err := n.CreateHeapIfNotExists(context.Background(), "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	for i := range 50 {
		if err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, id, acct{int64(i + 1)}) }); err != nil {
			t.Fatal(err)
		}
	}
	acked := n.disk.wal.Stats().Acked
	waitCond(t, "a sync of the acknowledged commits", func() bool { return n.disk.wal.Stats().Durable >= acked })
	crashed := mem.Crash(rand.New(rand.NewPCG(3, 3)))
	c.kill("solo")
	c.fss["solo"] = crashed
	n = c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo"; cfg.Durability = DurabilityBatch })
	h, err = n.CreateHeapIfNotExists(context.Background(), "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got acct
	if err := h.View(context.Background(), func(tx *Tx) error { var err error; got, err = Get[acct](tx, id); return err }, nil); err != nil || got.Balance != 50 {
		t.Fatalf("after a sync interval and a power loss: %v %v, want 50", got, err)
	}
}

// A restart reports the progress of its recovery.
func TestRecoveryReportsProgress(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	mem := persist.NewMemFS()
	c := startTestNodesWith(t, 4, func(cfg *Config) { cfg.CheckpointEvery = 8 })
	c.fss["solo"] = mem
	n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
	h, _ := n.CreateHeapIfNotExists(context.Background(), "bank", nil)
	for i := range 30 {
		if err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, uuid.New(), acct{int64(i)}) }); err != nil {
			t.Fatal(err)
		}
	}
	// Checkpoints run beside the commits: wait for one in the store.
	waitCond(t, "a checkpoint in the store", func() bool {
		for space := range n.disk.store.Manifest().Spaces {
			if name, _, _, ok := parseSpace(space); ok && name == "bank" {
				return true
			}
		}
		return false
	})
	c.kill("solo")
	var mu sync.Mutex
	seen := map[string]Progress{}
	c.add("solo", false, func(cfg *Config) {
		cfg.DataDir = "/data/solo"
		cfg.OnProgress = func(p Progress) { mu.Lock(); seen[p.Task] = p; mu.Unlock() }
	})
	mu.Lock()
	defer mu.Unlock()
	for _, task := range []string{"replaying the write-ahead log", "loading the striped store"} {
		p, ok := seen[task]
		if !ok || p.Total == 0 || p.Done != p.Total {
			t.Fatalf("progress of %q: %+v (%v)", task, p, ok)
		}
	}
}

// On durable nodes a replica that fell behind the leader's log catches up
// from a snapshot streamed from the leader's last checkpoint in the store
// (the log in memory keeps what follows it), then replays the rest, and
// survives a restart from what it received.
func TestLaggingReplicaCatchesUpFromTheStore(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 18, lagCap)
	names := []string{"a", "b", "c", "d"}
	durable := func(name string) func(*Config) {
		return func(cfg *Config) { cfg.DataDir = "/data/" + name }
	}
	for i, name := range names {
		c.fss[name] = persist.NewMemFS()
		c.add(name, i > 0, durable(name))
	}
	want := c.placement("bank", 3)
	var learner string
	for _, name := range names {
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
	var fromStore uint64
	for _, name := range others {
		fromStore += c.heaps[name].storeSnapshots.Load()
	}
	if fromStore == 0 {
		t.Fatal("no snapshot streamed from the store")
	}
	// What the learner received is its own now: it restarts from it.
	c.kill(learner)
	c.add(learner, true, durable(learner))
	c.open(learner, "bank")
	c.checkBank(ids)

	// A node that joins after the last checkpoint is not in its
	// configuration: it catches up from the applied state instead (raft
	// refuses a snapshot that does not name its recipient).
	c.fss["e"] = persist.NewMemFS()
	c.add("e", true, durable("e"))
	c.open("e", "bank")
	untilCommitted(t, "a transfer after e joined", c.heaps[want[0]], func(tx *Tx) error {
		return transferIn(tx, ids[0], ids[1], 1)
	})
	c.checkBank(ids)
}

// increment adds one to the balance of the account id, creating it.
func increment(ctx context.Context, h *Heap, id uuid.UUID) error {
	return update(ctx, h, func(tx *Tx) error {
		a, err := Get[acct](tx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		a.Balance++
		return Put(tx, id, a)
	})
}

// A lone durable node, the only voter of its heap, loses its power under
// concurrent commits after checkpoints: it starts again, from its last
// checkpoint (which may stand past the commit index its log holds: a
// commit index alone is not logged), with every commit it acknowledged.
// Its loop hands out what a Ready applied before that Ready's write; what
// it applied it had written before.
func TestLoneNodeSurvivesPowerLoss(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5010))
			mem := persist.NewMemFS()
			c := startTestNodesWith(t, seed, checkpointOften(32, 8))
			c.fss["solo"] = mem
			n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
			h, err := n.CreateHeapIfNotExists(context.Background(), "bank", nil)
			if err != nil {
				t.Fatal(err)
			}
			const writers = 4
			ids := make([]uuid.UUID, writers)
			for i := range ids {
				ids[i] = uuid.New()
			}
			var mu sync.Mutex
			var acked, tried [writers]int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						mu.Lock()
						tried[w]++
						next := acked[w] + 1
						mu.Unlock()
						err := update(context.Background(), h, func(tx *Tx) error { return Put(tx, ids[w], ledger{next}) })
						mu.Lock()
						if err == nil {
							acked[w] = next
						}
						mu.Unlock()
						if err != nil {
							return // the node is going down: nothing more is certain
						}
					}
				})
			}
			waitCond(t, "commits enough for checkpoints", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return acked[0]+acked[1]+acked[2]+acked[3] >= 4*int64(n.cfg.CheckpointEvery)
			})
			waitCond(t, "a checkpoint marked in the log", func() bool { return h.ckptSeq.Load() != 0 })
			time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond) // a moment chosen by the seed, not a wait for anything
			mu.Lock()
			must := acked
			crashed := mem.Crash(rng)
			mu.Unlock()
			close(stop)
			c.kill("solo")
			wg.Wait()

			c.fss["solo"] = crashed
			n = c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
			if n.disk.loaded == 0 {
				t.Fatal("nothing recovered from the striped store: no checkpoint was exercised")
			}
			h = n.replicaOf("bank")
			if h == nil {
				t.Fatal("the heap was not recovered")
			}
			if err := h.View(context.Background(), func(*Tx) error { return nil }, &ViewOptions{Fresh: true}); err != nil {
				t.Fatal(err)
			}
			for w, id := range ids {
				// A writer whose first commit was not acknowledged before
				// the power loss may have left no object (on a loaded
				// machine a writer can wait that long for its first turn).
				var l ledger
				err := h.View(context.Background(), func(tx *Tx) error { var err error; l, err = Get[ledger](tx, id); return err }, nil)
				if err != nil && !(errors.Is(err, ErrNotFound) && must[w] == 0) {
					t.Fatal(err)
				}
				mu.Lock()
				lo, hi := must[w], tried[w]
				mu.Unlock()
				if l.N < lo || l.N > hi {
					t.Fatalf("writer %d's object holds %d after the power loss; %d were acknowledged before it, %d tried", w, l.N, lo, hi)
				}
			}
		})
	}
}

// With DurabilityBatch a replica's term and vote are synced before the
// answers that rest on them go out, however long the sync interval: a
// power failure does not take a vote back (which would let the replica
// vote again in the same term, and two leaders of one term commit
// different entries). After the failure the heap's replica recovers the
// term it had and elects itself in a later one.
func TestBatchDurabilitySyncsTermsAndVotes(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	mem := persist.NewMemFS()
	c := startTestNodes(t, 6)
	c.fss["solo"] = mem
	batch := func(cfg *Config) {
		cfg.DataDir = "/data/solo"
		cfg.Durability = DurabilityBatch
		cfg.BatchInterval = time.Hour // no sync by the clock in this test
	}
	ctx := context.Background()
	n := c.add("solo", false, batch)
	h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitCond(t, "a leader", func() bool { return h.leaderIs(h.self) })
	term := h.term.Load()
	crashed := mem.Crash(rand.New(rand.NewPCG(6, 6)))
	c.kill("solo")
	c.fss["solo"] = crashed
	n = c.add("solo", false, batch)
	h, err = n.CreateHeapIfNotExists(ctx, "bank", nil)
	if err != nil {
		t.Fatal(err)
	}
	waitCond(t, "a leader after the power failure", func() bool { return h.leaderIs(h.self) })
	if got := h.term.Load(); got <= term {
		t.Fatalf("leader of term %d after a power failure, %d before: the replica lost its term and vote", got, term)
	}
}
