package oss_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
	"github.com/objectsharing/oss/oss/pki"
)

// watchLog follows a watch of one counter object (written with values
// 1, 2, 3, ... one a commit) and checks that it sees every value once, in
// order, from the value it last saw: no change missed, none repeated.
type watchLog struct {
	t     *testing.T
	id    uuid.UUID
	last  int    // the last value seen
	index uint64 // the index it was seen at
	inc   uint64
}

func (l *watchLog) take(ev *oss.Event) {
	l.t.Helper()
	switch ev.Kind {
	case oss.EventSnapshot, oss.EventResync:
		var c counter
		err := ev.View(func(tx *oss.Tx) error {
			var err error
			c, err = oss.Get[counter](tx, l.id)
			if errors.Is(err, oss.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			l.t.Fatal(err)
		}
		if c.N < l.last {
			l.t.Fatalf("%v at %d holds %d, older than the %d seen at %d", ev.Kind, ev.Index, c.N, l.last, l.index)
		}
		l.last = c.N
	case oss.EventChange:
		if ev.Index <= l.index {
			l.t.Fatalf("change at %d repeats: %d already seen", ev.Index, l.index)
		}
		for _, ch := range ev.Objects {
			if ch.ID != l.id {
				continue
			}
			var c counter
			if err := ch.Decode(&c); err != nil {
				l.t.Fatal(err)
			}
			if c.N != l.last+1 {
				l.t.Fatalf("change at %d holds %d after %d at %d: missed or repeated", ev.Index, c.N, l.last, l.index)
			}
			l.last = c.N
		}
	}
	l.index, l.inc = ev.Index, ev.Incarnation
}

// bump adds one to the counter. A commit between leaders (a node of the
// group killed) may end without a leader in reach, for certain or of an
// unknown outcome; it goes again: the counter is read and written, so a
// try that commits late conflicts with the one after it, and every
// commit still adds one to the value the one before wrote.
func bump(t *testing.T, h *oss.Heap, id uuid.UUID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	for {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			c, err := oss.Get[counter](tx, id)
			if err != nil && !errors.Is(err, oss.ErrNotFound) {
				return err
			}
			c.N++
			return oss.Put(tx, id, c)
		})
		if err == nil {
			return
		}
		if ctx.Err() != nil || !errors.Is(err, oss.ErrNoQuorum) && !errors.Is(err, oss.ErrCommitUnknown) {
			t.Fatal(err)
		}
		t.Logf("a bump again after: %v", err)
		time.Sleep(10 * time.Millisecond) // a tick: no leader is found sooner
	}
}

func nextWithin(t *testing.T, w *oss.Watch) *oss.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ev, err := w.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// A watch resumed on a durable node restarted on its data directory, from
// the version and incarnation it last saw, delivers every later commit
// once: replayed from the log, or a resync, never a gap or a repeat. The
// node checkpoints often, so the version is before, at or after the
// checkpoint it recovers from.
func TestLib2WatchResumedAfterRestart(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	dir := t.TempDir()
	ctx := context.Background()
	id := uuid.New()
	start := func() (*oss.Node, *oss.Heap) {
		n, err := oss.Start(ctx, &oss.Config{DataDir: dir, Logger: quietLogger(), CheckpointEvery: 16})
		if err != nil {
			t.Fatal(err)
		}
		h, err := n.CreateHeapIfNotExists(ctx, "w", nil)
		if err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		return n, h
	}
	l := &watchLog{t: t, id: id}
	var w *oss.Watch
	for round := range 6 {
		n, h := start()
		var err error
		w, err = h.Watch(&oss.WatchOptions{From: l.index, Incarnation: l.inc})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 + round*7 {
			bump(t, h, id)
			if i%3 == 0 {
				l.take(nextWithin(t, w))
			}
		}
		// Stop taking part way: what the watch saw is l.index.
		w.Close()
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	n, h := start()
	defer n.Close(ctx)
	w, err := h.Watch(&oss.WatchOptions{From: l.index, Incarnation: l.inc})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	bump(t, h, id)
	var want counter
	h.View(ctx, func(tx *oss.Tx) error { want, err = oss.Get[counter](tx, id); return err }, nil)
	for l.last < want.N {
		l.take(nextWithin(t, w))
	}
}

// The same on a node of three that is killed (a crash) and restarted
// while the others go on committing: the restarted replica replays its
// log, catches up from its leader, and the resumed watch sees every
// commit once.
func TestLib2WatchResumedOnACrashedNode(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Configure: func(_ string, cfg *oss.Config) {
		cfg.Logger = quietLogger()
		cfg.CheckpointEvery = 16
		cfg.KeepEntries = 8
	}})
	id := uuid.New()
	l := &watchLog{t: t, id: id}
	h1 := c.Heap("n1", "w")
	for round := range 4 {
		h3 := c.Heap("n3", "w")
		w, err := h3.Watch(&oss.WatchOptions{From: l.index, Incarnation: l.inc})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			bump(t, h1, id)
			if i%2 == 0 {
				l.take(nextWithin(t, w))
			}
		}
		c.Kill("n3")
		if _, err := w.Next(context.Background()); !errors.Is(err, oss.ErrClosed) {
			// Events held by then are handed out first.
			for err == nil {
				_, err = w.Next(context.Background())
			}
			if !errors.Is(err, oss.ErrClosed) {
				t.Fatalf("watch of a killed node: %v, want ErrClosed", err)
			}
		}
		w.Close()
		for range 5 + round*40 {
			bump(t, h1, id)
		}
		c.Restart("n3")
	}
	h3 := c.Heap("n3", "w")
	w, err := h3.Watch(&oss.WatchOptions{From: l.index, Incarnation: l.inc})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	bump(t, h1, id)
	var want counter
	h1.View(context.Background(), func(tx *oss.Tx) error { want, err = oss.Get[counter](tx, id); return err }, nil)
	for l.last < want.N {
		l.take(nextWithin(t, w))
	}
}

// Watches of one heap on three nodes deliver the same commits in the same
// order, with the same transaction IDs.
func TestLib2WatchOrderAcrossNodes(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, &osstest.Options{Configure: func(_ string, cfg *oss.Config) { cfg.Logger = quietLogger() }})
	names := []string{"n1", "n2", "n3"}
	hs := map[string]*oss.Heap{}
	ws := map[string]*oss.Watch{}
	for _, n := range names {
		hs[n] = c.Heap(n, "o")
	}
	from := c.WaitConverged("o")
	for _, n := range names {
		w, err := hs[n].Watch(&oss.WatchOptions{From: from})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ws[n] = w
	}
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	var wg sync.WaitGroup
	const each = 40
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := hs[n].Update(ctx, func(tx *oss.Tx) error {
					a, _ := oss.Get[counter](tx, ids[i])
					b, _ := oss.Get[counter](tx, ids[(i+1)%3])
					a.N++
					b.N++
					if err := oss.Put(tx, ids[i], a); err != nil {
						return err
					}
					return oss.Put(tx, ids[(i+1)%3], b)
				})
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	type rec struct {
		index uint64
		tx    uuid.UUID
		vals  string
	}
	var seqs [][]rec
	for _, n := range names {
		var seq []rec
		for len(seq) < 3*each {
			ev := nextWithin(t, ws[n])
			if ev.Kind != oss.EventChange {
				t.Fatalf("%s: %v at %d", n, ev.Kind, ev.Index)
			}
			s := ""
			for _, ch := range ev.Objects {
				s += fmt.Sprintf("%s@%d=%x;", ch.ID, ch.Version, ch.Value)
			}
			seq = append(seq, rec{ev.Index, ev.TxID, s})
		}
		seqs = append(seqs, seq)
	}
	for i := 1; i < 3; i++ {
		for j := range seqs[0] {
			if seqs[i][j] != seqs[0][j] {
				t.Fatalf("event %d: %s has %+v, %s %+v", j, names[i], seqs[i][j], names[0], seqs[0][j])
			}
		}
	}
}

// A View held open while the heap applies thousands of commits keeps
// reading the snapshot it began on.
func TestLib2LongViewKeepsItsSnapshot(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	_, h := openHeap(t, nil)
	id := uuid.New()
	bump(t, h, id)
	ctx := context.Background()
	inView, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- h.View(ctx, func(tx *oss.Tx) error {
			a, err := oss.Get[counter](tx, id)
			if err != nil {
				return err
			}
			idx := tx.Index()
			close(inView)
			<-release
			b, err := oss.Get[counter](tx, id)
			if err != nil {
				return err
			}
			n := 0
			tx.Scan(func(uuid.UUID) bool { n++; return true })
			if a != b || tx.Index() != idx || n != 1 {
				return fmt.Errorf("view at %d read %v then %v at %d, scanned %d objects", idx, a, b, tx.Index(), n)
			}
			return nil
		}, nil)
	}()
	<-inView
	for i := range 3000 {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			c, _ := oss.Get[counter](tx, id)
			c.N++
			if err := oss.Put(tx, id, c); err != nil {
				return err
			}
			if i%10 == 0 {
				_, err := oss.New(tx, counter{i})
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Commits whose contexts end at random under load report outcomes that
// match what the heap did: each writes a marker object of its own, and a
// commit told it committed has its marker on every replica, one told it
// failed (any error but an unknown outcome) has none. An unknown outcome
// is settled as ErrCommitUnknown's doc says: the transaction read its
// marker, so an Update that reads the marker and, not finding it, writes
// it, either finds the transaction committed or makes it conflict should
// its record still arrive. The hot counter that the Update transactions
// incremented then counts exactly those that committed.
func TestLib2OutcomesMatchTheHeapUnderShortDeadlines(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, &osstest.Options{Configure: func(_ string, cfg *oss.Config) { cfg.Logger = quietLogger() }})
	names := []string{"n1", "n2", "n3"}
	hs := map[string]*oss.Heap{}
	for _, n := range names {
		hs[n] = c.Heap(n, "m")
	}
	hot := uuid.New()
	type outcome struct {
		id      uuid.UUID
		counted bool // an Update that incremented hot
		err     error
		settled int // for an unknown outcome: 1 found committed, -1 not
		fresh   bool
	}
	var mu sync.Mutex
	var outs []outcome
	var wg sync.WaitGroup
	for g := range 12 {
		h := hs[names[g%3]]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 150 {
				o := outcome{id: uuid.New(), counted: r.IntN(2) == 0}
				d := time.Duration(r.IntN(20000)) * time.Microsecond
				ctx, cancel := context.WithTimeout(context.Background(), d)
				if o.counted {
					ran := false
					o.err = h.Update(ctx, func(tx *oss.Tx) error {
						tx.OnCommit(func() { ran = true })
						if _, err := tx.Exists(o.id); err != nil {
							return err
						}
						cnt, _ := oss.Get[counter](tx, hot)
						cnt.N++
						if err := oss.Put(tx, hot, cnt); err != nil {
							return err
						}
						return oss.Put(tx, o.id, counter{1})
					})
					if ran != (o.err == nil) {
						t.Errorf("OnCommit ran %v, Update returned %v", ran, o.err)
					}
				} else {
					var tx *oss.Tx
					tx, o.err = h.Begin(ctx, nil)
					if o.err == nil {
						if _, o.err = tx.Exists(o.id); o.err == nil {
							if o.err = oss.Put(tx, o.id, counter{1}); o.err == nil {
								o.err = tx.Commit()
							}
						}
					}
				}
				cancel()
				if errors.Is(o.err, oss.ErrCommitUnknown) {
					fctx, fcancel := context.WithTimeout(context.Background(), time.Minute)
					h.View(fctx, func(tx *oss.Tx) error {
						o.fresh, _ = tx.Exists(o.id)
						return nil
					}, &oss.ViewOptions{Fresh: true})
					fcancel()
					o.settled = settle(t, h, o.id)
				}
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A settling write, then every replica at the same state.
	bump(t, hs["n1"], uuid.New())
	c.WaitConverged("m")
	var ok, failed, unknown, counted int
	kinds := map[string]int{}
	for _, o := range outs {
		switch {
		case o.err == nil:
			ok++
		case errors.Is(o.err, oss.ErrCommitUnknown):
			unknown++
		default:
			failed++
			kinds[o.err.Error()]++
		}
		if o.counted && (o.err == nil || o.settled == 1) {
			counted++
		}
	}
	for _, n := range names {
		err := hs[n].View(context.Background(), func(tx *oss.Tx) error {
			for _, o := range outs {
				m, err := oss.Get[counter](tx, o.id)
				if err != nil && !errors.Is(err, oss.ErrNotFound) {
					return err
				}
				switch {
				case o.err == nil:
					if m.N != 1 {
						return fmt.Errorf("%s: a commit reported committed has its marker at %d", n, m.N)
					}
				case o.settled != 0:
					if m.N != o.settled {
						return fmt.Errorf("%s: an unknown outcome settled as %d has its marker at %d (%v)", n, o.settled, m.N, o.err)
					}
				default:
					if m.N != 0 {
						return fmt.Errorf("%s: a commit reported failed (%v) has its marker at %d", n, o.err, m.N)
					}
				}
			}
			h, err := oss.Get[counter](tx, hot)
			if err != nil {
				return err
			}
			if h.N != counted {
				return fmt.Errorf("%s: the hot counter is %d, %d increments committed", n, h.N, counted)
			}
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	settledOK := 0
	for _, o := range outs {
		if o.settled == 1 {
			settledOK++
			if !o.fresh {
				t.Logf("unknown, not seen by a fresh read at once, then committed: %v", o.err)
			}
		}
	}
	t.Logf("%d committed, %d failed, %d unknown (%d of them committed)", ok, failed, unknown, settledOK)
	for k, v := range kinds {
		if v > 5 {
			t.Logf("%5d %s", v, k)
		}
	}
}

// settle learns the outcome of a transaction that read and wrote its
// marker and ended unknown: 1 if it committed, -1 if it never will.
func settle(t *testing.T, h *oss.Heap, id uuid.UUID) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := 0
	err := h.Update(ctx, func(tx *oss.Tx) error {
		m, err := oss.Get[counter](tx, id)
		if err == nil {
			res = m.N
			return nil
		}
		if !errors.Is(err, oss.ErrNotFound) {
			return err
		}
		res = -1
		return oss.Put(tx, id, counter{-1})
	})
	if err != nil {
		t.Error(err)
	}
	return res
}

// A watch on a node cut off long enough that its group removes its
// replica, and trims the log it missed, goes on once the cut heals: the
// replica rejoins by itself and catches up from its leader's snapshot,
// and the watch resyncs to it, without a gap, a repeat, or an end.
func TestLib2WatchOnAReplicaRemovedWhileCutOff(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 4, &osstest.Options{FollowPartitions: true, Configure: func(_ string, cfg *oss.Config) {
		cfg.Logger = quietLogger()
		cfg.CheckpointEvery = 16
		cfg.KeepEntries = 8
	}})
	id := uuid.New()
	l := &watchLog{t: t, id: id}
	h1 := c.Heap("n1", "p")
	h4 := c.Heap("n4", "p")
	w, err := h4.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l.take(nextWithin(t, w))
	for range 10 {
		bump(t, h1, id)
		l.take(nextWithin(t, w))
	}
	before := h4.Stats()
	c.Partition([]string{"n1", "n2", "n3"}, []string{"n4"})
	c.Wait("n4 removed from its group", func() bool {
		st := h1.Stats()
		for _, v := range append(st.Voters, st.Learners...) {
			if v == "n4" {
				return false
			}
		}
		return st.LeaderInReach
	})
	hl := h1
	for range 100 {
		bump(t, hl, id)
	}
	c.Heal()
	var want counter
	hl.View(context.Background(), func(tx *oss.Tx) error { want, err = oss.Get[counter](tx, id); return err }, nil)
	for l.last < want.N {
		l.take(nextWithin(t, w))
	}
	t.Logf("before the cut: %+v; after: rejoins %d, resyncs %d", before.Voters, h4.Stats().Rejoins, h4.Stats().Resyncs)
}

// A node in DurabilityBatch closed gracefully keeps every commit it
// acknowledged, also those of the last interval: only a power failure
// loses them. Its heap keeps its incarnation across the restart.
func TestLib2BatchCloseKeepsTheLastInterval(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	dir := t.TempDir()
	ctx := context.Background()
	cfg := func() *oss.Config {
		return &oss.Config{DataDir: dir, Logger: quietLogger(), Durability: oss.DurabilityBatch, BatchInterval: time.Hour}
	}
	n, err := oss.Start(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeap(ctx, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	for range 50 {
		bump(t, h, id)
	}
	inc, applied := h.Stats().Incarnation, h.Stats().Applied
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = oss.Start(ctx, cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	h, err = n.Heap(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	var c counter
	h.View(ctx, func(tx *oss.Tx) error { c, err = oss.Get[counter](tx, id); return err }, nil)
	if c.N != 50 || h.Stats().Incarnation != inc || h.Stats().Applied < applied {
		t.Fatalf("after a graceful close: %d of 50 commits, incarnation %d (was %d), applied %d (was %d)", c.N, h.Stats().Incarnation, inc, h.Stats().Applied, applied)
	}
}

// What a transaction from Begin, an event's state and OnCommit do when
// the node closes under them.
func TestLib2HeldAcrossClose(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n, h := openHeap(t, nil)
	id := uuid.New()
	bump(t, h, id)
	w, err := h.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := nextWithin(t, w)
	tx, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oss.Get[counter](tx, id); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	tx2, err := h.Begin(cctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	oss.Put(tx2, uuid.New(), counter{1})
	cancel()
	if err := tx2.Commit(); !errors.Is(err, context.Canceled) || errors.Is(err, oss.ErrCommitUnknown) {
		t.Errorf("commit with its context cancelled: %v", err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := oss.Put(tx, id, counter{7}); err != nil {
		t.Logf("Put in a tx of a closed node: %v", err)
	}
	ran := false
	tx.OnCommit(func() { ran = true })
	if err := tx.Commit(); !errors.Is(err, oss.ErrClosed) || ran {
		t.Errorf("commit of a node closed: %v, OnCommit ran %v", err, ran)
	}
	err = snap.View(func(tx *oss.Tx) error {
		c, err := oss.Get[counter](tx, id)
		if err == nil && c.N != 1 {
			return fmt.Errorf("snapshot holds %d", c.N)
		}
		return err
	})
	t.Logf("Event.View of a closed node's snapshot: %v", err)
	if _, err := w.Next(ctx); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("Next: %v", err)
	}
	if _, err := h.Begin(ctx, nil); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("Begin on a closed node: %v", err)
	}
	err = h.View(ctx, func(tx *oss.Tx) error { return nil }, nil)
	if !errors.Is(err, oss.ErrClosed) {
		t.Errorf("View on a closed node: %v", err)
	}
}

// A client node (pki.RoleClient) through the library, as the README's
// "Nodes on a network" starts one: without a grant it opens and creates
// nothing (ErrPermission, saying what to grant); granted write it keeps a
// learner replica, commits, watches; its server gone, its Update fails
// with ErrNoQuorum rather than hanging, its watch waits, and its Close
// returns with every goroutine stopped.
func TestLib2ClientNode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	caCert, caKey, err := pki.NewCA("lib2", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := oss.Start(ctx, &oss.Config{Name: "s1", Listen: "127.0.0.1:0", TLS: tlsFor(t, caCert, caKey, "s1"), Gossip: oss.GossipLoopback, Logger: quietLogger(), Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close(ctx)
	hs, err := s1.CreateHeap(ctx, "shared", nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueCert(caCert, caKey, "c1", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := oss.Start(ctx, &oss.Config{Name: "c1", Role: pki.RoleClient, Listen: "127.0.0.1:0", Join: []string{s1.Addr()},
		TLS: &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}, Gossip: oss.GossipLoopback, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close(ctx)
	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c1.Heap(octx, "shared"); !errors.Is(err, oss.ErrPermission) {
		t.Fatalf("client without a grant opens: %v", err)
	} else {
		t.Logf("open without a grant: %v", err)
	}
	if _, err := c1.CreateHeap(octx, "mine", nil); !errors.Is(err, oss.ErrPermission) {
		t.Fatalf("client without a grant creates: %v", err)
	} else {
		t.Logf("create without a grant: %v", err)
	}
	if st := c1.Status(octx); len(st.Members) != 2 {
		t.Errorf("client's status: %+v", st)
	}
	if err := s1.Grant(octx, oss.Grant{Who: "c1", Heap: "shared", Perm: oss.PermWrite}); err != nil {
		t.Fatal(err)
	}
	var hc *oss.Heap
	waitUntil(t, "the client's open with its grant", func() bool {
		hc, err = c1.Heap(octx, "shared")
		return err == nil
	})
	id := uuid.New()
	w, err := hc.Watch(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	nextWithin(t, w)
	bump(t, hc, id)
	bump(t, hs, id)
	for got := 0; got < 2; {
		if ev := nextWithin(t, w); ev.Kind == oss.EventChange {
			got++
		}
	}
	if st := hc.Stats(); len(st.Learners) != 1 || st.Learners[0] != "c1" || st.Leader != "s1" {
		t.Errorf("client's replica: leader %q, voters %v, learners %v", st.Leader, st.Voters, st.Learners)
	}
	if err := s1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "s1 gone from the client's members", func() bool { return len(c1.Members()) == 1 })
	st := hc.Stats()
	t.Logf("client's replica once s1 left: leader %q in reach %v, contact %v ago", st.Leader, st.LeaderInReach, time.Since(st.LeaderContact))
	uctx, ucancel := context.WithTimeout(ctx, 2*time.Minute)
	defer ucancel()
	err = hc.Update(uctx, func(tx *oss.Tx) error { return oss.Put(tx, id, counter{-1}) })
	if !errors.Is(err, oss.ErrNoQuorum) {
		t.Errorf("client's Update with its server gone: %v", err)
	}
	err = hc.View(uctx, func(tx *oss.Tx) error { return nil }, &oss.ViewOptions{Fresh: true})
	if !errors.Is(err, oss.ErrNoQuorum) {
		t.Errorf("client's Fresh View with its server gone: %v", err)
	}
	var c counter
	err = hc.View(uctx, func(tx *oss.Tx) error { c, err = oss.Get[counter](tx, id); return err }, nil)
	if err != nil || c.N != 2 {
		t.Errorf("client's plain View with its server gone: %v, %d", err, c.N)
	}
	if err := c1.Close(ctx); err != nil {
		t.Errorf("client's close: %v", err)
	}
	if _, err := w.Next(ctx); !errors.Is(err, oss.ErrClosed) {
		t.Errorf("client's watch after its close: %v", err)
	}
}

// Transactions do not span heaps: an Update of heap B inside an Update
// function of heap A is a transaction of its own, committed once for
// every run of A's function, and one in A's OnCommit once for every
// commit of A; neither deadlocks while A's transactions conflict.
func TestLib2UpdatesAcrossHeaps(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n, ha := openHeap(t, nil)
	hb, err := n.CreateHeap(ctx, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, runs, commits := uuid.New(), uuid.New(), uuid.New()
	var mu sync.Mutex
	ran := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				err := ha.Update(ctx, func(tx *oss.Tx) error {
					c, _ := oss.Get[counter](tx, a)
					mu.Lock()
					ran++
					mu.Unlock()
					bump(t, hb, runs)
					tx.OnCommit(func() { bump(t, hb, commits) })
					c.N++
					return oss.Put(tx, a, c)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	err = hb.View(ctx, func(tx *oss.Tx) error {
		r, err := oss.Get[counter](tx, runs)
		if err != nil {
			return err
		}
		c, err := oss.Get[counter](tx, commits)
		if err != nil {
			return err
		}
		if r.N != ran || c.N != 100 {
			return fmt.Errorf("B counted %d runs of %d and %d commits of 100", r.N, ran, c.N)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d runs for 100 commits", ran)
}

// Over QUIC, a heap's leader that closes gracefully hands its leadership
// over first: a writer on another node goes on committing through the
// close, every Update answered nil (none unknown, none failed).
func TestLib2WritesThroughALeadersGracefulClose(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	caCert, caKey, err := pki.NewCA("lib2", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*oss.Node{}
	var first string
	for _, name := range []string{"s1", "s2", "s3"} {
		cfg := &oss.Config{Name: name, Listen: "127.0.0.1:0", TLS: tlsFor(t, caCert, caKey, name), Gossip: oss.GossipLoopback, Logger: quietLogger()}
		if first != "" {
			cfg.Join = []string{first}
		}
		n, err := oss.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close(ctx)
		nodes[name] = n
		if first == "" {
			first = n.Addr()
		}
	}
	octx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	h1, err := nodes["s1"].CreateHeap(octx, "g", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The leader is the one the wait saw: read again after it, the stats
	// may name none for a moment (a new term at load).
	var leader string
	waitUntil(t, "three voters", func() bool {
		st := h1.Stats()
		leader = st.Leader
		return len(st.Voters) == 3 && st.Leader != ""
	})
	var writer string
	for name := range nodes {
		if name != leader {
			writer = name
		}
	}
	hw, err := nodes[writer].Heap(octx, "g")
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	stop := make(chan struct{})
	errs := make(chan error, 1)
	var done atomic.Int64
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			uctx, ucancel := context.WithTimeout(ctx, time.Minute)
			err := hw.Update(uctx, func(tx *oss.Tx) error {
				c, _ := oss.Get[counter](tx, id)
				c.N++
				return oss.Put(tx, id, c)
			})
			ucancel()
			if err != nil {
				errs <- err
				return
			}
			done.Add(1)
		}
	}()
	waitUntil(t, "commits before the close", func() bool { return done.Load() >= 10 })
	if err := nodes[leader].Close(octx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a new leader", func() bool { st := hw.Stats(); return st.Leader != "" && st.Leader != leader && st.LeaderInReach })
	after := done.Load()
	waitUntil(t, "commits after the close", func() bool { return done.Load() >= after+10 })
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("an Update through the leader's close: %v", err)
	}
	t.Logf("%d commits on %s through %s's close", done.Load(), writer, leader)
}
