package oss

import (
	"context"
	"fmt"
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
}

func newWatchModel(t testing.TB) *watchModel {
	return &watchModel{t: t, objects: map[uuid.UUID]uint64{}}
}

// take applies one event: a snapshot or resync replaces the model, a
// change updates it. Events must come in log order.
func (m *watchModel) take(ev *Event) {
	m.t.Helper()
	if ev.Index < m.index || ev.Kind == EventChange && ev.Index == m.index {
		m.t.Fatalf("event %v at index %d after one at %d: out of order or twice", ev.Kind, ev.Index, m.index)
	}
	m.index = ev.Index
	switch ev.Kind {
	case EventSnapshot, EventResync:
		if ev.Kind == EventResync {
			m.resyncs++
		}
		m.objects = versionsOf(m.t, ev.View)
	case EventChange:
		for _, c := range ev.Objects {
			if c.Deleted {
				delete(m.objects, c.ID)
				continue
			}
			if c.Version <= m.objects[c.ID] {
				m.t.Fatalf("object %v at version %d after %d", c.ID, c.Version, m.objects[c.ID])
			}
			m.objects[c.ID] = c.Version
		}
	}
}

// versionsOf reads every object's version through view.
func versionsOf(t testing.TB, view func(func(*Tx) error) error) map[uuid.UUID]uint64 {
	t.Helper()
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
	if err != nil {
		t.Fatal(err)
	}
	return out
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
	got := versionsOf(m.t, func(fn func(*Tx) error) error { return h.View(context.Background(), fn, nil) })
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
		m.t.Fatalf("%s: the watch's consumer disagrees with the replica on %d of %d objects (up to index %d, %d resyncs): a change was lost without a resync",
			what, bad, len(got), m.index, m.resyncs)
	}
}

// A learner cut off while the leader compacts its log catches up from a
// snapshot; a watch on it must then resync (or deliver every commit it
// missed), not go on from the snapshot's index as if nothing had been
// skipped.
func TestWatchAcrossASnapshotInstallHasNoGap(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
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
	for i := range 300 {
		if err := transfer(context.Background(), c.heaps[lead], ids[i%8], ids[(i+1)%8], 1); err != nil {
			t.Fatal(err)
		}
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
