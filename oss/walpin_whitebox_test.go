package oss

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// walSegments counts the write-ahead log's segment files in dir.
func walSegments(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".wal") {
			n++
		}
	}
	return n
}

// A replica that applies few entries (here the catalog, written to once,
// when the heap was created) checkpoints seldom or never by
// CheckpointEvery; the log keeps every record from the first its replicas
// need, so such a replica held every segment the busy heap wrote after
// it: a node's log on disk grew without bound. A replica that holds
// segments the others no longer need is checkpointed, its hard state
// logged again, and the log stays within a few segments. After a
// restart every object is back, and the catalog's term did not go back.
func TestLogTruncatedPastAnIdleReplica(t *testing.T) {
	t.Parallel()
	const segment = 64 << 10
	ctx := context.Background()
	dir := t.TempDir()
	open := func() (*Node, *Heap) {
		return startBusy(t, &Config{DataDir: dir, Logger: testLogger(), CheckpointEvery: 64, KeepEntries: 16, walSegmentBytes: segment})
	}
	n, h := open()
	// 3,000 commits of 1 KiB: some fifty segments of log.
	var ids []uuid.UUID
	for i := range 3000 {
		id := uuid.UUID{0: 'w', 14: byte(i >> 8), 15: byte(i)}
		ids = append(ids, id)
		if err := commitBusy(ctx, h, func(tx *Tx) error { return Put(tx, id, make([]byte, 1<<10)) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
	}
	// Truncation follows checkpoints, off the loops: a few more commits
	// give it its turn, and a pause after each its processor (at load 20
	// 2,000 commits back to back left it 11 segments behind).
	segs, more := walSegments(t, dir), 0
	for ; segs > 4 && more < 2000; more++ {
		if err := commitBusy(ctx, h, func(tx *Tx) error { return Put(tx, ids[0], make([]byte, 1<<10)) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		segs = walSegments(t, dir)
	}
	term := n.catalog.Load().Stats().Term
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if segs > 4 {
		t.Errorf("the log holds %d segments of %d bytes after %d commits of 1 KiB, want at most 4", segs, segment, len(ids)+more)
	}

	n, h = open()
	defer n.Close(ctx)
	if err := h.View(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := Get[[]byte](tx, id); err != nil {
				return err
			}
		}
		return nil
	}, nil); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if got := n.catalog.Load().Stats().Term; got <= term {
		t.Errorf("the catalog's term after a restart is %d, was %d before it: its hard state was lost", got, term)
	}
}

// commitBusy commits fn on h, a bound of await.Deadline on the commit: a
// bound against a hang, not a measure. The log-truncation tests (and
// others that commit hundreds of times to fill a log) assert the log's
// size, not how long a commit takes; update's 5 s was met by one commit
// of 1,000 at load 21 (TestLogTruncatedPastABusyLoneLeader, its binary at
// nice 19 beside busy loops), where commits of a second or more came
// every few seconds.
func commitBusy(ctx context.Context, h *Heap, fn func(*Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, await.Deadline)
	defer cancel()
	return h.Update(ctx, fn)
}

// startBusy starts a node with cfg and opens its heap "busy", created if
// need be.
func startBusy(t *testing.T, cfg *Config) (*Node, *Heap) {
	t.Helper()
	ctx := context.Background()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.CreateHeapIfNotExists(ctx, "busy", nil)
	if err != nil {
		n.Close(ctx)
		t.Fatal(err)
	}
	return n, h
}
