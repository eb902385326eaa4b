package scene_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/bots"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// TestReadSinceEqualsRead reads the room while bots walk, chat and grab
// props in it, and guests join and leave, each time both afresh (Read)
// and from the previous incremental snapshot (ReadSince) in the same
// View: the two are equal at every index.
func TestReadSinceEqualsRead(t *testing.T) {
	w := newWorld(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(runCtx) }()
	defer func() { stopRun(); recv(t, done, "the world to stop running") }()
	const seed = 7
	sw, err := bots.Start(ctx, w, &bots.Config{N: 12, Seed: seed, Room: "room"})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Stop()

	var prev *scene.Snapshot
	var guests []*scene.Avatar
	indices := map[uint64]bool{}
	for reads := 0; len(indices) < 200; reads++ {
		if reads%10 == 9 { // a guest joins, or the oldest leaves
			if len(guests) < 3 {
				g, err := w.Join(ctx, fmt.Sprintf("guest%d", reads), &scene.JoinOptions{Room: "room"})
				if err != nil {
					t.Fatal(err)
				}
				guests = append(guests, g)
			} else {
				if err := guests[0].Leave(ctx); err != nil {
					t.Fatal(err)
				}
				guests = guests[1:]
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("seed %d: saw %d states of the room before the deadline; want 200", seed, len(indices))
		}
		var full, inc *scene.Snapshot
		err := w.Heap().View(ctx, func(tx *oss.Tx) error {
			var err error
			if full, err = w.Read(tx, "room"); err != nil {
				return err
			}
			inc, err = w.ReadSince(tx, "room", prev)
			return err
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(full, inc) {
			t.Fatalf("seed %d: at index %d (previous %d) ReadSince gives\n%+v\nand Read\n%+v", seed, full.Index, prev.Index, inc, full)
		}
		indices[full.Index] = true
		prev = inc
	}
}

// BenchmarkReadSince reads a room of 1,000 avatars afresh and from a
// snapshot of the previous index, after one avatar moved: what the
// window's reader does at 60 Hz while the others mostly stand still
// between two reads.
func BenchmarkReadSince(b *testing.B) {
	ctx := context.Background()
	w := startWorld(b, scene.DemoSpec(1000))
	h := w.Heap()
	var last *scene.Avatar
	var err error
	for i := range 1000 {
		if last, err = w.Join(ctx, fmt.Sprintf("a%d", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	room := w.Rooms()[0].Name
	read := func(prev *scene.Snapshot) *scene.Snapshot {
		var s *scene.Snapshot
		if err := h.View(ctx, func(tx *oss.Tx) error {
			var err error
			s, err = w.ReadSince(tx, room, prev)
			return err
		}, nil); err != nil {
			b.Fatal(err)
		}
		return s
	}
	prev := read(nil)
	if err := last.Move(ctx, scene.Vec{X: 0.05}); err != nil {
		b.Fatal(err)
	}
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			read(nil)
		}
	})
	b.Run("since", func(b *testing.B) {
		for b.Loop() {
			read(prev)
		}
	})
}
