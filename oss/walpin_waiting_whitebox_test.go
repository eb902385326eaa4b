package oss

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
	"github.com/objectsharing/oss/transport"
)

// snapGate refuses, while hold is set, the snapshot streams of one heap
// to its node, as a leader's stream that never gets through.
type snapGate struct {
	transport.Handler
	heap string
	hold *atomic.Bool
}

func (g snapGate) HandleStream(ctx context.Context, from string, header []byte, body io.Reader) error {
	var env raftEnvelope
	if g.hold.Load() && env.decode(header) == nil && env.Heap == g.heap {
		return errors.New("snapshot withheld")
	}
	return g.Handler.HandleStream(ctx, from, header, body)
}

// A replica placed on a node waits for its first snapshot: it has logged
// the term its leader told it, and nothing to checkpoint. It held the
// log from that record on while the node's busy heap logged on: the log
// on disk grew without bound. Now it logs its hard state again at the
// log's tail and lets go of the older records; the log stays within a
// few segments. After a crash (its first record long truncated) the node
// still holds the replica, with its term, and once the snapshot gets
// through the replica is its leader's.
func TestLogTruncatedPastAReplicaWaitingForItsSnapshot(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	const segment = 64 << 10
	ctx := context.Background()
	dir := t.TempDir()
	var hold atomic.Bool
	hold.Store(true)
	c := startTestNodesWith(t, 37, func(cfg *Config) {
		checkpointOften(64, 16)(cfg)
		cfg.walSegmentBytes = segment
	})
	c.wrapHandler = func(name string, h transport.Handler) transport.Handler {
		if name != "a" {
			return h
		}
		return snapGate{Handler: h, heap: "w", hold: &hold}
	}
	c.add("b", false, nil)
	c.add("c", true, nil)
	hw := c.open("b", "w")
	for i := range 100 {
		putAgainUntilDone(t, hw, uuid.UUID{0: 'w', 15: byte(i)}, i)
	}
	// Three servers: the leader of "w" places a replica on a, which waits.
	restart := func() { c.add("a", true, func(cfg *Config) { cfg.DataDir = dir }) }
	restart()
	var wa *Heap
	waitCond(t, "a replica of w on a that heard its leader", func() bool {
		wa = c.nodes["a"].replicaOf("w")
		return wa != nil && wa.firstSeq.Load() != 0
	})
	first := wa.firstSeq.Load()

	hb := c.open("a", "busy")
	var ids []uuid.UUID
	put := func(i int) {
		t.Helper()
		id := uuid.UUID{0: 'b', 14: byte(i >> 8), 15: byte(i)}
		untilCommitted(t, "a put", hb, func(tx *Tx) error { return Put(tx, id, make([]byte, 1<<10)) })
		if i >= len(ids) {
			ids = append(ids, id)
		}
	}
	// 1,000 commits of 1 KiB: some 16 segments, the log's bound four.
	for i := range 1000 {
		put(i)
	}
	// Truncation follows checkpoints, off the loops: more commits give it
	// its turn, and a pause after each its processor.
	segs := walSegments(t, dir)
	for more := 0; segs > 4 && more < 2000; more++ {
		put(0)
		time.Sleep(2 * time.Millisecond)
		segs = walSegments(t, dir)
	}
	if segs > 4 {
		t.Fatalf("the log holds %d segments of %d bytes after 1,000 commits of 1 KiB beside a replica waiting for its snapshot, want at most 4", segs, segment)
	}
	if applied := wa.Stats().Applied; applied != 0 {
		t.Fatalf("the replica of w on a applied %d: it did not wait for its snapshot, and the test tests nothing", applied)
	}
	if s := c.nodes["a"].disk.wal.SegmentStarts()[0]; s <= first {
		t.Fatalf("the log begins at record %d, not after the replica's first record %d", s, first)
	}
	term := wa.Stats().Term

	c.kill("a")
	g := replayHeap(t, persist.OS{}, dir, "w")
	if g == nil {
		t.Fatal("after the truncation the log holds no record of the replica of w")
	}
	if g.hard.Term < term {
		t.Fatalf("the replica's logged term is %d, it stood at %d", g.hard.Term, term)
	}
	restart()
	wa = c.nodes["a"].replicaOf("w")
	if wa == nil {
		t.Fatal("after a restart a holds no replica of w")
	}
	// Its raft starts from the hard state recovered (Stats publishes the
	// term only as it moves).
	if hs, _, err := wa.storage.InitialState(); err != nil || hs.Term < term || wa.Stats().Applied != 0 {
		t.Fatalf("after a restart the replica of w starts at term %d (%v), applied %d; want term %d or later, applied 0", hs.Term, err, wa.Stats().Applied, term)
	}
	hold.Store(false)
	waitCond(t, "the replica of w on a to take its snapshot", func() bool {
		_, want := hw.Digest()
		_, got := wa.Digest()
		return wa.Stats().Applied > 0 && got == want
	})
	hb = c.open("a", "busy")
	if err := hb.View(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := Get[[]byte](tx, id); err != nil {
				return err
			}
		}
		return nil
	}, &ViewOptions{Fresh: true}); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}

// replayHeap replays the log in dir as a restart would and returns the
// latest incarnation of heap's group, nil if the log holds none.
func replayHeap(t *testing.T, fsys persist.FS, dir, heap string) *recoveredGroup {
	t.Helper()
	groups := map[groupKey]*recoveredGroup{}
	w, err := persist.OpenWAL(fsys, dir+"/wal", persist.WALOptions{Logger: testLogger()}, func(seq uint64, b []byte) error {
		return replayRecord(groups, seq, b)
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	w.Close()
	var out *recoveredGroup
	for k, g := range groups {
		if k.heap == heap && (out == nil || g.firstSeq > out.firstSeq) {
			out = g
		}
	}
	return out
}
