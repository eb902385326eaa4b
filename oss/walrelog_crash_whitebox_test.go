package oss

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// relogImage is the disk as a power loss left it at one operation while
// the catalog let go of the log, and the commits acknowledged by then.
type relogImage struct {
	fs    *persist.MemFS
	acked int
	op    string
}

// replayCatalog replays the log on fsys as a restart would and returns
// the catalog's recovered group.
func replayCatalog(t *testing.T, fsys persist.FS, dir string) *recoveredGroup {
	t.Helper()
	groups := map[groupKey]*recoveredGroup{}
	w, err := persist.OpenWAL(fsys, dir+"/wal", persist.WALOptions{Logger: testLogger()}, func(seq uint64, b []byte) error {
		return replayRecord(groups, seq, b)
	})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	w.Close()
	var cat *recoveredGroup
	for k, g := range groups {
		if k.heap == catalogName && (cat == nil || g.firstSeq > cat.firstSeq) {
			cat = g
		}
	}
	if cat == nil {
		t.Fatal("replay: no catalog in the log")
	}
	return cat
}

// relogPut is the value of the i-th commit of the relog crash tests.
func relogPut(i int) (uuid.UUID, []byte) {
	id := uuid.UUID{0: 'r', 14: byte(i >> 8), 15: byte(i)}
	v := make([]byte, 1<<10)
	binary.BigEndian.PutUint32(v, uint32(i))
	return id, v
}

// A power loss at any operation while the catalog, an idle replica, lets
// go of the log (its hard state appended again and synced, its
// checkpoint, the log's truncation) loses nothing: the log a restart
// replays holds the catalog's term and vote as they stood, and the node
// comes back with every commit acknowledged before the loss.
func TestPowerLossAroundTheHardStateRelog(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	mem := persist.NewMemFS()
	ffs := &persist.FaultFS{FS: mem}
	cfg := func(fsys persist.FS) *Config {
		return &Config{DataDir: "/data", FS: fsys, Logger: testLogger(), CheckpointEvery: 64, KeepEntries: 16,
			walSegmentBytes: 64 << 10}
	}
	start := func(fsys persist.FS) (*Node, *Heap) {
		t.Helper()
		n, err := Start(ctx, cfg(fsys))
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
	// A second start: the catalog's term and vote are those of a
	// restart, logged once, in the log's first segment.
	n, _ := start(ffs)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, h := start(ffs)
	cat := n.catalog.Load()

	var (
		mu      sync.Mutex
		images  []relogImage
		acked   atomic.Int64
		armed   atomic.Int64 // operations left to image
		arms    atomic.Int64
		pending atomic.Bool // asked, not yet taken
	)
	rng := rand.New(rand.NewPCG(7, 7))
	perArm, maxArms := 24, 3
	if os.Getenv("OSS_LONG") != "" {
		perArm, maxArms = 80, 8
	}
	ffs.SetRule(func(op persist.Op, name string) error {
		// Asked to let go (truncateWAL): the relog, the checkpoint and
		// the truncation follow in the next operations.
		// The loop takes the ask at its next tick: the operations from
		// then on are imaged.
		switch asked := cat.unpin.Load() != 0; {
		case asked && armed.Load() == 0 && arms.Load() < int64(maxArms):
			pending.Store(true)
		case !asked && pending.Swap(false):
			arms.Add(1)
			armed.Store(int64(perArm))
		}
		if armed.Load() > 0 && !strings.HasSuffix(name, nodeIDFile) {
			armed.Add(-1)
			a := int(acked.Load())
			mu.Lock()
			images = append(images, relogImage{fs: mem.CrashPages(rng), acked: a, op: string(op) + " " + name})
			mu.Unlock()
		}
		return nil
	})
	// Commits go on until maxArms asks to let go have each had their
	// perArm operations imaged (at most maxCommits).
	const maxCommits = 9000
	i := 0
	for ; (arms.Load() < int64(maxArms) || armed.Load() > 0) && i < maxCommits; i++ {
		id, v := relogPut(i)
		if err := update(ctx, h, func(tx *Tx) error { return Put(tx, id, v) }); err != nil {
			n.Close(ctx)
			t.Fatal(err)
		}
		acked.Store(int64(i + 1))
	}
	t.Logf("%d commits, %d asks to let go imaged", i, arms.Load())
	ffs.SetRule(nil)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := replayCatalog(t, mem, "/data")
	mu.Lock()
	defer mu.Unlock()
	if len(images) == 0 {
		t.Fatal("the catalog was never asked to let go of the log")
	}
	checkRelogImages(t, images, want, start)
}

// checkRelogImages replays each image: the catalog's hard state is the
// one it had throughout (a single node elects once a start), and a
// sample of them (all with OSS_LONG) restart with every acknowledged
// commit.
func checkRelogImages(t *testing.T, images []relogImage, want *recoveredGroup, start func(persist.FS) (*Node, *Heap)) {
	ctx := context.Background()
	relogged, first := false, images[0].seqOf(t)
	for i, img := range images {
		g := replayCatalog(t, img.fs.Crash(rand.New(rand.NewPCG(0, 0))), "/data")
		if g.hard.Term != want.hard.Term || g.hard.Vote != want.hard.Vote {
			t.Fatalf("image %d (at %s): the catalog's hard state is term %d vote %d, want term %d vote %d",
				i, img.op, g.hard.Term, g.hard.Vote, want.hard.Term, want.hard.Vote)
		}
		if g.hardSeq != first {
			relogged = true
		}
		if i%6 != 0 && os.Getenv("OSS_LONG") == "" {
			continue
		}
		n, h := start(img.fs)
		err := h.View(ctx, func(tx *Tx) error {
			for j := range img.acked {
				id, v := relogPut(j)
				got, err := Get[[]byte](tx, id)
				if err != nil {
					return err
				}
				if string(got) != string(v) {
					t.Errorf("image %d: object %d holds another value", i, j)
				}
			}
			return nil
		}, nil)
		n.Close(ctx)
		if err != nil {
			t.Fatalf("image %d (at %s): after the restart, of %d commits acknowledged: %v", i, img.op, img.acked, err)
		}
	}
	if !relogged {
		t.Errorf("no image holds the catalog's hard state logged again")
	}
}

// seqOf is the catalog's last record with the hard state in the image.
func (img relogImage) seqOf(t *testing.T) uint64 {
	return replayCatalog(t, img.fs.Crash(rand.New(rand.NewPCG(0, 0))), "/data").hardSeq
}
