package scene

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// FuzzWorldGarbage writes arbitrary bytes into one object of a world (the
// world object, the clock, a room, a prop, a roster or chat shard, an
// avatar, a cell), either as they are or xored into the object's own
// encoding (which gives values that decode into something impossible),
// and checks that nothing panics or hangs: a Snapshot of every room
// succeeds, a Move, a Say and a PickUp return, Repair, Reap and Open
// return, and Open refuses only with ErrDamaged.
//
//	go test ./wissenheim/scene -run '^$' -fuzz FuzzWorldGarbage
func FuzzWorldGarbage(f *testing.F) {
	fz := newGarbageFuzz(f)
	f.Add(uint8(0), false, []byte("garbage"))
	f.Add(uint8(1), true, []byte{0, 0, 0, 0xff})
	f.Add(uint8(3), true, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x40})
	f.Add(uint8(5), false, []byte{0xa1, 0x01, 0x80})
	f.Add(uint8(6), true, []byte{0, 0, 0, 0, 0, 0x20})
	f.Fuzz(func(t *testing.T, pick uint8, xor bool, data []byte) { fz.check(t, pick, xor, data) })
}

// TestWorldGarbageRandom runs FuzzWorldGarbage's check on random inputs
// from a seed: 40 by default, 2,000 with OSS_LONG set.
func TestWorldGarbageRandom(t *testing.T) {
	runs := 40
	if os.Getenv("OSS_LONG") != "" {
		runs = 2000
	}
	fz := newGarbageFuzz(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	seed := rng.Uint64()
	t.Logf("seed %d", seed)
	rng = rand.New(rand.NewPCG(seed, 7))
	for i := range runs {
		data := make([]byte, rng.IntN(24))
		for j := range data {
			if rng.IntN(3) == 0 {
				data[j] = byte(rng.Uint32())
			}
		}
		pick, xor := uint8(rng.Uint32()), rng.IntN(4) != 0
		t.Run(fmt.Sprint(i), func(t *testing.T) { fz.check(t, pick, xor, data) })
	}
}

// garbageFuzz holds the node the fuzz's worlds live in: a heap of one
// world a check, dropped after it, so that the heap Repair scans stays
// small.
type garbageFuzz struct {
	n     *oss.Node
	count atomic.Int64
}

func newGarbageFuzz(tb testing.TB) *garbageFuzz {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close(context.Background()) })
	return &garbageFuzz{n: n}
}

// check makes a world with an avatar holding the ball and one that has
// spoken, writes data into the object pick chooses, and runs the world.
func (fz *garbageFuzz) check(t *testing.T, pick uint8, xor bool, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	heap := fmt.Sprintf("fuzz%d", fz.count.Add(1))
	h, err := fz.n.CreateHeap(ctx, heap, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fz.n.DropHeap(context.Background(), heap)
	w, err := Create(ctx, h, DemoSpec(4))
	if err != nil {
		t.Fatal(err)
	}
	ada, err := w.Join(ctx, "ada", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ada.Say(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	id := fz.target(t, w, ada, pick)
	err = w.h.Update(ctx, func(tx *oss.Tx) error {
		v := data
		if xor {
			raw, err := oss.Get[cbor.RawMessage](tx, id)
			if err != nil && !errors.Is(err, oss.ErrNotFound) {
				return err
			}
			v = append([]byte(nil), raw...)
			for i, b := range data {
				if len(v) > 0 {
					v[i%len(v)] ^= b
				}
			}
		}
		return oss.Put(tx, id, cbor.RawMessage(v))
	})
	if err != nil {
		return // not CBOR the heap stores: nothing to read back
	}
	fz.run(t, ctx, w, ada)
}

// target returns the object pick chooses among w's.
func (fz *garbageFuzz) target(t *testing.T, w *World, ada *Avatar, pick uint8) uuid.UUID {
	r := w.rooms[0]
	var av avatarObj
	err := w.h.View(context.Background(), func(tx *oss.Tx) (err error) {
		av, err = oss.Get[avatarObj](tx, ada.ID())
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := []uuid.UUID{ada.ID(), w.clock, r.id, cellID(r.id, cellsOf(av.Pos)[0]), cellID(r.id, cell{1, 1})}
	for id, k := range w.structural {
		if k == WorldObject {
			ids = append(ids, id)
		}
	}
	for _, refs := range [][]uuid.UUID{refIDs(r.obj.Props), refIDs(r.obj.Rosters), refIDs(r.obj.Chat)} {
		ids = append(ids, refs...)
	}
	ids = append(ids, r.obj.Rosters[shardOf(ada.ID(), RosterShards)].ID, r.obj.Chat[shardOf(ada.ID(), ChatShards)].ID)
	return ids[int(pick)%len(ids)]
}

// run reads and uses the damaged world: every call must return, none may
// panic, and a snapshot must read.
func (fz *garbageFuzz) run(t *testing.T, ctx context.Context, w *World, ada *Avatar) {
	hung := func(what string, err error) {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s hung: %v", what, err)
		}
	}
	for _, r := range w.rooms {
		if _, err := w.Snapshot(ctx, r.obj.Name); err != nil {
			t.Fatalf("snapshot of %q: %v", r.obj.Name, err)
		}
	}
	hung("move", ada.Move(ctx, Vec{X: 0.1}))
	hung("say", ada.Say(ctx, "again"))
	hung("pick up", ada.PickUp(ctx, w.rooms[0].obj.Props[0].ID))
	hung("toggle", ada.Toggle(ctx, w.rooms[0].obj.Doors[0].Prop.ID))
	hung("advance", w.advance(ctx, time.Second/TickRate))
	_, err := w.Repair(ctx)
	hung("repair", err)
	_, err = w.Reap(ctx)
	hung("reap", err)
	if _, err := Open(ctx, w.h, w.name); err != nil && !errors.Is(err, ErrDamaged) {
		t.Fatalf("open: %v, want ErrDamaged or none", err)
	}
	for _, r := range w.rooms {
		if _, err := w.Snapshot(ctx, r.obj.Name); err != nil {
			t.Fatalf("snapshot of %q after the repair: %v", r.obj.Name, err)
		}
	}
}
