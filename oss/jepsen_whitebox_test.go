package oss

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/persist"
	"go.uber.org/goleak"
)

// An outsider's checks of the watch promise under faults: every change
// once and in order, or a resync in its place, never a silent gap; across
// a snapshot a lagging replica installs and across a restart.

// watchModel is what a watch's consumer knows of a heap: every object's
// version, built from the events it took.
type watchModel struct {
	t       testing.TB
	objects map[uuid.UUID]uint64
	index   uint64 // the index of the last event taken
	resyncs int
	merged  bool // the watch merges commits: every event follows on from the one before
	// bank, if set, are accounts whose balances must add up to total
	// after every event: events are whole commits.
	bank     []uuid.UUID
	total    int64
	balances map[uuid.UUID]int64
	txids    map[uuid.UUID]uint64 // the index each transaction was delivered at
}

func newWatchModel(t testing.TB) *watchModel {
	return &watchModel{t: t, objects: map[uuid.UUID]uint64{}, balances: map[uuid.UUID]int64{}, txids: map[uuid.UUID]uint64{}}
}

// take applies one event, or fails the test: see apply.
func (m *watchModel) take(ev *Event) {
	m.t.Helper()
	if err := m.apply(ev); err != nil {
		m.t.Fatal(err)
	}
}

// apply applies one event: a snapshot or resync replaces the model, a
// change updates it. It returns an error if the event breaks the watch's
// promise: out of log order, a commit twice (its index, or its
// transaction at two indexes), an object's version going back, or
// (merged) a gap before the event.
func (m *watchModel) apply(ev *Event) error {
	if ev.Index < m.index || ev.Kind == EventChange && ev.Index == m.index {
		return fmt.Errorf("event %v at index %d after one at %d: out of order or twice", ev.Kind, ev.Index, m.index)
	}
	if ev.Kind == EventChange && m.merged && m.index != 0 && ev.FromIndex != m.index+1 {
		return fmt.Errorf("merged event from index %d after one at %d: a gap", ev.FromIndex, m.index)
	}
	if ev.Kind == EventChange && !m.merged && (ev.FromIndex != ev.Index || ev.Commits != 1) {
		return fmt.Errorf("event of one commit covers %d..%d, %d commits", ev.FromIndex, ev.Index, ev.Commits)
	}
	if ev.Kind == EventChange && ev.TxID != uuid.Nil {
		if at, ok := m.txids[ev.TxID]; ok {
			return fmt.Errorf("transaction %v delivered at index %d and again at %d: committed twice", ev.TxID, at, ev.Index)
		}
		m.txids[ev.TxID] = ev.Index
	}
	m.index = ev.Index
	switch ev.Kind {
	case EventSnapshot, EventResync:
		if ev.Kind == EventResync {
			m.resyncs++
		}
		objects, err := versionsIn(ev.View)
		if err != nil {
			return fmt.Errorf("reading the %v event's state: %w", ev.Kind, err)
		}
		m.objects = objects
		if m.bank != nil {
			if err := m.readBank(ev); err != nil {
				return err
			}
		}
	case EventChange:
		for _, c := range ev.Objects {
			if c.Deleted {
				delete(m.objects, c.ID)
				continue
			}
			if c.Version <= m.objects[c.ID] {
				return fmt.Errorf("object %v at version %d after %d: a change twice or out of order", c.ID, c.Version, m.objects[c.ID])
			}
			m.objects[c.ID] = c.Version
			if _, ok := m.balances[c.ID]; ok || m.bank != nil && slices.Contains(m.bank, c.ID) {
				var a acct
				if err := c.Decode(&a); err != nil {
					return err
				}
				m.balances[c.ID] = a.Balance
			}
		}
	}
	return m.checkBank(ev)
}

// readBank reads the accounts' balances from a snapshot or resync.
func (m *watchModel) readBank(ev *Event) error {
	m.balances = map[uuid.UUID]int64{}
	return ev.View(func(tx *Tx) error {
		for _, id := range m.bank {
			a, err := Get[acct](tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			m.balances[id] = a.Balance
		}
		return nil
	})
}

// checkBank checks, once every account exists, that the balances add up.
func (m *watchModel) checkBank(ev *Event) error {
	if m.bank == nil || len(m.balances) < len(m.bank) {
		return nil
	}
	var sum int64
	for _, b := range m.balances {
		sum += b
	}
	if sum != m.total {
		return fmt.Errorf("after the %v event at index %d (from %d, %d commits) the accounts hold %d, want %d: an event is not whole commits", ev.Kind, ev.Index, ev.FromIndex, ev.Commits, sum, m.total)
	}
	return nil
}

// versionsOf reads every object's version through view.
func versionsOf(t testing.TB, view func(func(*Tx) error) error) map[uuid.UUID]uint64 {
	t.Helper()
	out, err := versionsIn(view)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func versionsIn(view func(func(*Tx) error) error) (map[uuid.UUID]uint64, error) {
	out := map[uuid.UUID]uint64{}
	err := view(func(tx *Tx) error {
		var ids []uuid.UUID
		if err := tx.Scan(func(id uuid.UUID) bool { ids = append(ids, id); return true }); err != nil {
			return err
		}
		for _, id := range ids {
			v, err := tx.Version(id)
			if err != nil {
				return err
			}
			out[id] = v
		}
		return nil
	})
	return out, err
}

// until takes w's events until one changes marker.
func (m *watchModel) until(w *Watch, marker uuid.UUID) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		ev, err := w.Next(ctx)
		if err != nil {
			m.t.Fatalf("waiting for the marker's event: %v", err)
		}
		m.take(ev)
		for _, c := range ev.Objects {
			if c.ID == marker {
				return
			}
		}
		if ev.Kind != EventChange && m.objects[marker] != 0 {
			return
		}
	}
}

// agrees fails the test unless the model holds exactly what h's replica
// holds.
func (m *watchModel) agrees(h *Heap, what string) {
	m.t.Helper()
	if err := m.differs(h); err != nil {
		m.t.Fatalf("%s: %v", what, err)
	}
}

// differs says how the model differs from what h's replica holds.
func (m *watchModel) differs(h *Heap) error {
	got, err := versionsIn(func(fn func(*Tx) error) error { return h.View(context.Background(), fn, nil) })
	if err != nil {
		return err
	}
	bad := 0
	for id, v := range got {
		if m.objects[id] != v {
			bad++
		}
	}
	for id := range m.objects {
		if _, ok := got[id]; !ok {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("the watch's consumer disagrees with the replica on %d of %d objects (up to index %d, %d resyncs): a change was lost without a resync",
			bad, len(got), m.index, m.resyncs)
	}
	return nil
}

// A learner cut off while the leader compacts its log catches up from a
// snapshot; a watch on it must then resync (or deliver every commit it
// missed), not go on from the snapshot's index as if nothing had been
// skipped.
func TestWatchAcrossASnapshotInstallHasNoGap(t *testing.T) {
	t.Parallel()
	c := newTestClusterWith(t, 41, func(c *testCluster) { c.tweak = lagCap }, []string{"a", "b", "c"}, []string{"d"})
	lead := c.waitLeader()
	ids := seedBank(t, c.heaps[lead])
	d := c.heaps["d"]
	waitCond(t, "d to apply the bank", func() bool {
		return d.View(context.Background(), func(tx *Tx) error { _, err := Get[acct](tx, ids[7]); return err }, nil) == nil
	})
	w, err := d.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m := newWatchModel(t)

	c.net.Partition([]string{"d"}, []string{"a", "b", "c"})
	// The group may change leaders meanwhile (a loaded machine, the
	// placement's own leader): a transfer goes again while there is
	// none. One that ran twice changes nothing the test checks.
	for i := range 300 {
		untilCommitted(t, "a transfer while d is cut off", c.heaps[lead], func(tx *Tx) error {
			return transferIn(tx, ids[i%8], ids[(i+1)%8], 1)
		})
	}
	snaps := d.snapshots.Load()
	c.net.Heal()
	// One commit that d applies from the log once it has caught up:
	// its event must find the consumer current.
	readyBall(t, c, lead)
	marker := uuid.New()
	mustPut(t, c.heaps[lead], marker, ball{"marker"})
	m.until(w, marker)
	if d.snapshots.Load() == snaps {
		t.Fatal("d caught up without a snapshot: the test did not test what it says")
	}
	m.agrees(d, "after a snapshot install")
}

// A watch resumed from a version on a node restarted on its data must
// deliver every commit after that version, or a resync: the history the
// node kept before the crash is gone, and its checkpoint holds commits
// that its recovered log does not.
func TestWatchResumedAfterARestartHasNoGap(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	mem := persist.NewMemFS()
	ctx := context.Background()
	m := newWatchModel(t)
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for round := range 3 {
		c := startTestNodesWith(t, uint64(50+round), checkpointOften(16, 4))
		c.fss["solo"] = mem
		n := c.add("solo", false, func(cfg *Config) { cfg.DataDir = "/data/solo" })
		h, err := n.CreateHeapIfNotExists(ctx, "bank", nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := h.Watch(&WatchOptions{From: m.index})
		if err != nil {
			t.Fatal(err)
		}
		// What the consumer had before the crash, then what the node
		// kept and did since: the watch must bring it up to date.
		for i := range 40 * (round + 1) {
			if err := increment(ctx, h, ids[i%len(ids)]); err != nil {
				t.Fatal(err)
			}
		}
		marker := uuid.New()
		mustPut(t, h, marker, ball{"marker"})
		m.until(w, marker)
		m.agrees(h, fmt.Sprintf("round %d, the watch resumed at the version taken before the restart", round))
		w.Close()
		// More commits the consumer does not see before the crash, each
		// of an object of its own: they reach the checkpoint, and the next
		// round's watch must bring them.
		for range 50 {
			mustPut(t, h, uuid.New(), ball{"unseen"})
		}
		c.kill("solo")
	}
}

// harnessWatches keeps a watch on every node's harness heap, merged on
// every other node, resumed after a restart from where its consumer was,
// and checks every event it takes.
type harnessWatches struct {
	hs     *harness
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // protects the models and errs
	models map[string]*watchModel
	errs   []error
}

func (hs *harness) watchAll() *harnessWatches {
	ws := &harnessWatches{hs: hs, models: map[string]*watchModel{}}
	ws.ctx, ws.cancel = context.WithCancel(context.Background())
	for i, name := range hs.live() {
		m := newWatchModel(hs.t)
		m.merged = i%2 == 1
		for k := range harnessAccounts {
			m.bank = append(m.bank, bankID(k))
		}
		m.total = 100 * harnessAccounts
		ws.models[name] = m
		ws.wg.Go(func() { ws.follow(name, m) })
	}
	return ws
}

// follow watches the node's heap, and the heap that replaces it when the
// node restarts, until the test stops it.
func (ws *harnessWatches) follow(name string, m *watchModel) {
	var last *Heap
	for ws.ctx.Err() == nil {
		ws.hs.mu.Lock()
		h := ws.hs.heaps[name]
		ws.hs.mu.Unlock()
		if h == nil || h == last {
			select {
			case <-ws.ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		last = h
		ws.mu.Lock()
		from := m.index
		ws.mu.Unlock()
		w, err := h.Watch(&WatchOptions{From: from, Merge: m.merged})
		if err != nil {
			continue // closed already
		}
		for {
			ev, err := w.Next(ws.ctx)
			if err != nil {
				break // the node closed, or the test is over
			}
			ws.mu.Lock()
			err = m.apply(ev)
			if err != nil {
				ws.errs = append(ws.errs, fmt.Errorf("%s: %w", name, err))
			}
			ws.mu.Unlock()
			if err != nil {
				w.Close()
				return
			}
		}
		w.Close()
	}
}

// check commits a marker once the faults are over, waits for every watch
// to deliver it, and compares what each consumer built with its replica.
func (ws *harnessWatches) check() {
	hs, t := ws.hs, ws.hs.t
	defer func() {
		ws.cancel()
		ws.wg.Wait()
	}()
	marker := uuid.New()
	untilCommitted(t, "the marker", hs.pick(rand.New(rand.NewPCG(hs.seed, 1))), func(tx *Tx) error { return Put(tx, marker, ball{"marker"}) })
	resyncs := 0
	for name, m := range ws.models {
		waitCond(t, name+"'s watch to deliver the marker", func() bool {
			ws.mu.Lock()
			defer ws.mu.Unlock()
			return len(ws.errs) > 0 || m.objects[marker] != 0
		})
		ws.mu.Lock()
		errs := ws.errs
		if len(errs) == 0 {
			hs.mu.Lock()
			h := hs.heaps[name]
			hs.mu.Unlock()
			if err := m.differs(h); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
		resyncs += m.resyncs
		ws.mu.Unlock()
		for _, err := range errs {
			t.Errorf("seed %d: %v", hs.seed, err)
		}
		if len(errs) > 0 {
			t.Fatalf("replay the schedule with: go test ./oss -run '%s' -harness.seed %d", t.Name(), hs.seed)
		}
	}
	t.Logf("seed %d: watches on %d nodes agree with their replicas; %d resyncs", hs.seed, len(ws.models), resyncs)
}

// Watches on every node, plain and merged, through partitions, power
// losses and restarts (resumed from the consumer's version), disk faults
// and snapshots to lagging replicas: every change once and in log
// order or a resync in its place, every event whole commits, and at the
// end each consumer holds what its replica holds.
func TestHarnessWatches(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	hs := newHarnessWith(t, harnessSeeds(11), 3, true, lagCap)
	ws := hs.watchAll()
	defer func() {
		ws.cancel()
		ws.wg.Wait()
	}()
	hs.run(6, harnessTime(), func(rng *rand.Rand) {
		if rng.IntN(2) == 0 {
			hs.partitions(rng)
		} else {
			hs.crashes(rng)
		}
	})
	hs.finish()
	ws.check()
}

// A node cut off while a heap is dropped and the catalog compacts its log
// catches up from a catalog snapshot: it must act on what the snapshot
// holds (close the dropped heap's replica) at once, not only at the
// catalog's next commit.
func TestCatalogCaughtUpFromASnapshotIsActedOn(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 43, lagCap, "a", "b", "c")
	c.open("a", "x")
	waitCond(t, "c to open its replica of x", func() bool { return c.nodes["c"].replicaOf("x") != nil })
	x := c.nodes["c"].replicaOf("x")
	cat := c.nodes["c"].catalog.Load()
	snaps := cat.snapshots.Load()

	c.net.Partition([]string{"c"}, []string{"a", "b"})
	mustDrop(t, c.nodes["a"], "x")
	// Catalog commits enough for its leader to compact past c: 300, from
	// 6 writers at once (they write apart), which raft batches; one at a
	// time they took 10 to 17 s under the race detector at load 17. Each
	// has await.Deadline, a bound against a hang: update's 5 s was met by
	// one of them at load 31 to 37 ("junk 270: commit outcome unknown").
	lead := c.nodes["a"].catalog.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for w := range 6 {
		wg.Go(func() {
			for i := w; i < 300; i += 6 {
				id := uuid.UUID{0: 'j', 14: byte(i >> 8), 15: byte(i)}
				if err := commitBusy(context.Background(), lead, func(tx *Tx) error { return Put(tx, id, ball{"junk"}) }); err != nil {
					errs <- fmt.Errorf("junk %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c.net.Heal()
	waitCond(t, "c's catalog to catch up", func() bool { return cat.state.Load().Index() >= lead.state.Load().Index() })
	if cat.snapshots.Load() == snaps {
		t.Fatal("c's catalog caught up without a snapshot: the test did not test what it says")
	}
	waitCond(t, "c to close its replica of the dropped heap", x.isClosed)
}

// TestHarnessWatches with the CPU starved, short ticks and client
// timeouts from 1 ms, so that proposals are forwarded, resent and
// abandoned in every state (a copy applied twice would be one commit
// delivered at two indexes), through partitions and a lossy network that
// duplicates messages.
func TestHarnessWatchesStarved(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	starveCPU(t)
	hs := newHarnessWith(t, harnessSeeds(12), 3, true, func(cfg *Config) {
		lagCap(cfg)
		starvedTicks(cfg)
	})
	hs.timeout = shortTimeouts
	ws := hs.watchAll()
	defer func() {
		ws.cancel()
		ws.wg.Wait()
	}()
	hs.run(8, harnessTime(), hs.partitions)
	hs.finish()
	ws.check()
}
