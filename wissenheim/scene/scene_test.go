package scene_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// testSpec is a 10 × 10 m room with a wall along x = 5 from y = 0 to 4, a
// door in it from y = 4 to 6, a ball, a box and a lamp.
func testSpec(lease time.Duration) *scene.Spec {
	return &scene.Spec{
		Name:  "test",
		Lease: lease,
		Rooms: []scene.RoomSpec{{
			Name:  "room",
			Size:  scene.Vec{X: 10, Y: 10},
			Walls: []scene.Rect{scene.R(4.9, 0, 5.1, 4), scene.R(4.9, 6, 5.1, 10)},
			Doors: []scene.DoorSpec{{Name: "door", Rect: scene.R(4.9, 4, 5.1, 6), Open: true}},
			Props: []scene.PropSpec{
				{Kind: scene.Ball, Name: "ball", Pos: scene.Vec{X: 2, Y: 2}},
				{Kind: scene.Box, Name: "box", Pos: scene.Vec{X: 8, Y: 8}},
				{Kind: scene.Lamp, Name: "lamp", Pos: scene.Vec{X: 2, Y: 8}},
			},
		}, {
			Name: "other",
			Size: scene.Vec{X: 4, Y: 4},
		}},
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newWorld starts a one-node in-memory cluster and creates the test world.
func newWorld(t *testing.T, lease time.Duration) *scene.World {
	t.Helper()
	return startWorld(t, testSpec(lease))
}

// startWorld starts a one-node in-memory cluster and creates the world
// spec describes.
func startWorld(tb testing.TB, spec *scene.Spec) *scene.World {
	tb.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quiet()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeapIfNotExists(ctx, "world", nil)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := scene.Create(ctx, h, spec)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func at(x, y float64) *scene.JoinOptions {
	return &scene.JoinOptions{Room: "room", At: &scene.Vec{X: x, Y: y}}
}

func join(t *testing.T, w *scene.World, name string, opts *scene.JoinOptions) *scene.Avatar {
	t.Helper()
	a, err := w.Join(context.Background(), name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func verify(t *testing.T, w *scene.World) {
	t.Helper()
	err := w.Heap().View(context.Background(), w.Verify, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func snap(t *testing.T, w *scene.World) *scene.Snapshot {
	t.Helper()
	s, err := w.Snapshot(context.Background(), "room")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func avatarIn(s *scene.Snapshot, id uuid.UUID) (scene.AvatarState, bool) {
	for _, a := range s.Avatars {
		if a.ID == id {
			return a, true
		}
	}
	return scene.AvatarState{}, false
}

func propNamed(s *scene.Snapshot, name string) scene.PropState {
	for _, p := range s.Props {
		if p.Name == name {
			return p
		}
	}
	panic("no prop " + name)
}

func TestCreateIsIdempotentAndOpenFindsIt(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	w2, err := scene.Create(ctx, w.Heap(), &scene.Spec{Name: "test", Rooms: []scene.RoomSpec{{Name: "x", Size: scene.Vec{X: 1, Y: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if rs := w2.Rooms(); len(rs) != 2 || rs[0].Name != "room" {
		t.Fatalf("a second Create replaced the world: %+v", rs)
	}
	if _, err := scene.Open(ctx, w.Heap(), "nowhere"); !errors.Is(err, scene.ErrNoWorld) {
		t.Fatalf("Open of a missing world: %v", err)
	}
	if _, err := scene.Create(ctx, w.Heap(), &scene.Spec{Name: "bad"}); !errors.Is(err, scene.ErrInvalid) {
		t.Fatalf("Create without rooms: %v", err)
	}
	if _, err := w.Room("cellar"); !errors.Is(err, scene.ErrNoRoom) {
		t.Fatalf("Room of a missing room: %v", err)
	}
}

func TestJoinRefusesATakenName(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	ada := join(t, w, "ada", nil)
	if _, err := w.Join(ctx, "ada", nil); !errors.Is(err, scene.ErrNameTaken) {
		t.Fatalf("second ada: %v", err)
	}
	if _, err := w.Join(ctx, "", nil); !errors.Is(err, scene.ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
	if _, err := w.Join(ctx, "bob", at(5, 1)); !errors.Is(err, scene.ErrBlocked) {
		t.Fatalf("join into a wall: %v", err)
	}
	if err := ada.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ada.Move(ctx, scene.Vec{X: 0.1}); !errors.Is(err, scene.ErrGone) {
		t.Fatalf("move after leaving: %v", err)
	}
	join(t, w, "ada", nil) // the name is free again
	verify(t, w)
}

func TestImpossibleMovesAreRefusedWhole(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	ada := join(t, w, "ada", at(4.5, 2))
	join(t, w, "bob", at(3.6, 2.4))
	before := snap(t, w)
	for _, c := range []struct {
		d    scene.Vec
		want error
	}{
		{scene.Vec{X: 0.3}, scene.ErrBlocked},           // into the wall
		{scene.Vec{X: -0.45, Y: 0.2}, scene.ErrBlocked}, // onto bob
		{scene.Vec{X: -2}, scene.ErrTooFar},             // a jump
		{scene.Vec{X: -0.2, Y: -1.9}, scene.ErrTooFar},  // out of the room, too far
	} {
		if err := ada.Move(ctx, c.d); !errors.Is(err, c.want) {
			t.Errorf("move %v: %v, want %v", c.d, err, c.want)
		}
	}
	after := snap(t, w)
	a0, _ := avatarIn(before, ada.ID())
	a1, _ := avatarIn(after, ada.ID())
	if a0 != a1 {
		t.Fatalf("a refused move changed the avatar: %+v → %+v", a0, a1)
	}
	// Walk north, then through the open door, east along y = 5.
	for range 20 {
		if err := ada.Move(ctx, scene.Vec{Y: 0.25}); err != nil {
			t.Fatal(err)
		}
		if a, _ := avatarIn(snap(t, w), ada.ID()); a.Pos.Y >= 5 {
			break
		}
	}
	for range 6 {
		if err := ada.Move(ctx, scene.Vec{X: 0.4}); err != nil {
			t.Fatal(err)
		}
	}
	if a, _ := avatarIn(snap(t, w), ada.ID()); a.Pos.X < 5.5 {
		t.Fatalf("ada did not get through the door: %v", a.Pos)
	}
	verify(t, w)
}

func TestDoorsBlockWhenClosedAndDoNotCloseOnAvatars(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	door := propNamed(snap(t, w), "door")
	ada := join(t, w, "ada", at(5, 5)) // in the doorway
	bob := join(t, w, "bob", at(4.3, 4.2))
	if err := bob.Toggle(ctx, door.ID); !errors.Is(err, scene.ErrBlocked) {
		t.Fatalf("closing the door on ada: %v", err)
	}
	if err := ada.Move(ctx, scene.Vec{X: 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := ada.Move(ctx, scene.Vec{X: 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Toggle(ctx, door.ID); err != nil {
		t.Fatal(err)
	}
	if propNamed(snap(t, w), "door").On {
		t.Fatal("door still open")
	}
	if err := ada.Move(ctx, scene.Vec{X: -0.5}); err != nil {
		t.Fatal(err)
	}
	if err := ada.Move(ctx, scene.Vec{X: -0.5}); !errors.Is(err, scene.ErrBlocked) {
		t.Fatalf("walking into a closed door: %v", err)
	}
	lamp := propNamed(snap(t, w), "lamp")
	if err := bob.Toggle(ctx, lamp.ID); !errors.Is(err, scene.ErrTooFar) {
		t.Fatalf("switching a lamp across the room: %v", err)
	}
	ball := propNamed(snap(t, w), "ball")
	if err := bob.Toggle(ctx, ball.ID); !errors.Is(err, scene.ErrCannot) {
		t.Fatalf("switching a ball: %v", err)
	}
	verify(t, w)
}

// Two avatars grab one ball at once, many times over: exactly one holds
// it each time, and holder and ball agree.
func TestTwoAvatarsGrabOneBall(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	ball := propNamed(snap(t, w), "ball").ID
	ada := join(t, w, "ada", at(1.6, 2))
	bob := join(t, w, "bob", at(2.4, 2))
	for round := range 30 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, a := range []*scene.Avatar{ada, bob} {
			wg.Go(func() { errs[i] = a.PickUp(ctx, ball) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, scene.ErrHeld):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		s := snap(t, w)
		b := propNamed(s, "ball")
		holders := 0
		for _, a := range s.Avatars {
			if a.Holding == ball {
				holders++
				if b.Holder != a.ID {
					t.Fatalf("round %d: %s holds the ball, the ball says %v", round, a.Name, b.Holder)
				}
			}
		}
		if won != 1 || holders != 1 {
			t.Fatalf("round %d: %d grabs succeeded, %d avatars hold the ball", round, won, holders)
		}
		for _, a := range []*scene.Avatar{ada, bob} {
			if a.ID() == b.Holder {
				if err := a.Drop(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	verify(t, w)
}

func TestPickUpWhenFreeWaitsForTheHolder(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	box := propNamed(snap(t, w), "box").ID
	ada := join(t, w, "ada", at(7.6, 8))
	bob := join(t, w, "bob", at(8.4, 8))
	if err := ada.PickUp(ctx, box); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- bob.PickUpWhenFree(ctx, box) }()
	select {
	case err := <-got:
		t.Fatalf("bob took a held box: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := ada.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, got, "the pick-up to return once the holder let go"); err != nil {
		t.Fatal(err)
	}
	if b := propNamed(snap(t, w), "box"); b.Holder != bob.ID() {
		t.Fatalf("box held by %v, want bob", b.Holder)
	}
	verify(t, w)
}

func TestGiveAndDrop(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	box := propNamed(snap(t, w), "box").ID
	ball := propNamed(snap(t, w), "ball").ID
	ada := join(t, w, "ada", at(7.6, 8))
	bob := join(t, w, "bob", at(8.4, 8))
	cyd := join(t, w, "cyd", at(1, 1))
	if err := ada.Give(ctx, bob.ID()); !errors.Is(err, scene.ErrEmptyHands) {
		t.Fatalf("give with empty hands: %v", err)
	}
	if err := ada.PickUp(ctx, ball); !errors.Is(err, scene.ErrTooFar) {
		t.Fatalf("pick up across the room: %v", err)
	}
	if err := ada.PickUp(ctx, box); err != nil {
		t.Fatal(err)
	}
	if err := ada.Give(ctx, cyd.ID()); !errors.Is(err, scene.ErrTooFar) {
		t.Fatalf("give across the room: %v", err)
	}
	if err := ada.Give(ctx, bob.ID()); err != nil {
		t.Fatal(err)
	}
	s := snap(t, w)
	if b := propNamed(s, "box"); b.Holder != bob.ID() {
		t.Fatalf("box held by %v after the give", b.Holder)
	}
	if err := bob.Move(ctx, scene.Vec{X: 0.5}); err != nil {
		t.Fatal(err)
	}
	if b, a := propNamed(snap(t, w), "box"), must(avatarIn(snap(t, w), bob.ID())); b.Pos != a.Pos {
		t.Fatalf("a held box is at %v, its holder at %v", b.Pos, a.Pos)
	}
	if err := bob.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if b := propNamed(snap(t, w), "box"); b.Holder != uuid.Nil || b.Pos != (scene.Vec{X: 8.9, Y: 8}) {
		t.Fatalf("box after its holder left: %+v", b)
	}
	verify(t, w)
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("missing")
	}
	return v
}

func TestChatIsInLogOrder(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	var as []*scene.Avatar
	for _, n := range []string{"ada", "bob", "cyd", "dan"} {
		as = append(as, join(t, w, n, nil))
	}
	var wg sync.WaitGroup
	for _, a := range as {
		wg.Go(func() {
			for i := range 20 {
				if err := a.Say(ctx, a.Name()+" "+string(rune('a'+i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	s := snap(t, w)
	if len(s.Chat) != scene.ChatKeep {
		t.Fatalf("%d messages shown, want %d", len(s.Chat), scene.ChatKeep)
	}
	last := map[string]string{}
	for i, m := range s.Chat {
		if i > 0 && m.Index <= s.Chat[i-1].Index {
			t.Fatalf("chat out of order at %d: %+v", i, s.Chat)
		}
		if prev := last[m.From]; prev != "" && m.Text <= prev {
			t.Fatalf("%s's messages out of order: %q after %q", m.From, m.Text, prev)
		}
		last[m.From] = m.Text
	}
	for _, a := range s.Avatars {
		if a.Said != a.Name+" t" {
			t.Fatalf("%s last said %q", a.Name, a.Said)
		}
	}
	if err := as[0].Say(ctx, "bad\x00"); !errors.Is(err, scene.ErrInvalid) {
		t.Fatalf("a control character: %v", err)
	}
	verify(t, w)
}

// A kicked ball rolls, bounces off the walls and stops, inside the room,
// and its path is a function of the kick and the clock alone.
func TestKickedBallRollsAndStops(t *testing.T) {
	w := newWorld(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx) }()
	defer func() { cancel(); recv(t, ran, "the world to stop running") }()
	ball := propNamed(snap(t, w), "ball").ID
	ada := join(t, w, "ada", at(1.5, 2))
	if err := ada.Kick(ctx, ball, scene.Vec{X: 20, Y: 3}); err != nil { // capped at MaxKickSpeed
		t.Fatal(err)
	}
	seen := map[uint64]scene.Vec{}
	var last scene.PropState
	deadline := time.Now().Add(recvDeadline) // a bound against a hang
	for {
		s := snap(t, w)
		b := propNamed(s, "ball")
		if p, ok := seen[s.Tick]; ok && p != b.Pos {
			t.Fatalf("tick %d: ball at %v and at %v", s.Tick, p, b.Pos)
		}
		seen[s.Tick] = b.Pos
		if b.Pos.X < scene.BallRadius || b.Pos.X > 10-scene.BallRadius || b.Pos.Y < scene.BallRadius || b.Pos.Y > 10-scene.BallRadius {
			t.Fatalf("ball left the room: %v", b.Pos)
		}
		if b.Vel.Len() > scene.MaxKickSpeed*1.01 {
			t.Fatalf("ball faster than a kick: %v", b.Vel)
		}
		last = b
		if !b.Rolling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ball never stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if last.Pos.X < 4 || last.Pos.X > 4.9 {
		// Kicked east at 8 m/s it would roll 6 m: the wall at x = 4.9
		// bounces it back.
		t.Logf("ball came to rest at %v", last.Pos)
	}
	if len(seen) < 10 {
		t.Fatalf("ball seen at only %d ticks", len(seen))
	}
	// Pick it up where it lies.
	if err := ada.PickUp(ctx, ball); err != nil && !errors.Is(err, scene.ErrTooFar) {
		t.Fatal(err)
	}
	verify(t, w)
}

// A client that stops (crashes) leaves no avatar behind: its lease runs
// out and a node that runs the world removes it, frees its cells and its
// name, and drops what it held.
func TestExpiredAvatarsAreRemoved(t *testing.T) {
	// A lease long enough for a heartbeat to land under -race on a loaded
	// machine, short enough for a test.
	w := newWorld(t, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	// The crashed client: its own World, which runs nothing.
	crashed, err := scene.Open(ctx, w.Heap(), "test")
	if err != nil {
		t.Fatal(err)
	}
	ghost, err := crashed.Join(ctx, "ghost", at(7.6, 8))
	if err != nil {
		t.Fatal(err)
	}
	if err := ghost.PickUp(ctx, propNamed(snap(t, w), "box").ID); err != nil {
		t.Fatal(err)
	}
	alive := join(t, w, "alive", at(1, 1)) // heartbeated by w's Run
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx) }()
	defer func() { cancel(); recv(t, ran, "the world to stop running") }()
	deadline := time.Now().Add(recvDeadline) // a bound against a hang
	for {
		s := snap(t, w)
		if _, ok := avatarIn(s, ghost.ID()); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ghost was never removed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := snap(t, w)
	if _, ok := avatarIn(s, alive.ID()); !ok {
		t.Fatal("the live avatar was removed too")
	}
	if b := propNamed(s, "box"); b.Holder != uuid.Nil {
		t.Fatalf("the ghost's box is still held: %+v", b)
	}
	if err := ghost.Move(ctx, scene.Vec{X: 0.1}); !errors.Is(err, scene.ErrGone) {
		t.Fatalf("the ghost moved: %v", err)
	}
	join(t, w, "ghost", at(7.6, 8)) // name and spot are free
	verify(t, w)
}

func TestResumeTakesBackAnAvatar(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	ada := join(t, w, "ada", nil)
	again, err := scene.Open(ctx, w.Heap(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Resume(ctx, ada.ID(), uuid.New()); !errors.Is(err, scene.ErrGone) {
		t.Fatalf("resume with another session: %v", err)
	}
	back, err := again.Resume(ctx, ada.ID(), ada.Session())
	if err != nil {
		t.Fatal(err)
	}
	if back.Name() != "ada" {
		t.Fatalf("resumed %q", back.Name())
	}
	if err := back.Say(ctx, "back again"); err != nil {
		t.Fatal(err)
	}
}

func TestStatsCountInteractions(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	ada := join(t, w, "ada", at(1, 1))
	ada.Move(ctx, scene.Vec{X: 0.1})
	ada.Move(ctx, scene.Vec{X: -2})
	for _, s := range w.Stats() {
		if s.Op == "move" && (s.Calls != 1 || s.Commits != 1 || s.Runs != 1) {
			t.Fatalf("move stats %+v: want 1 call, 1 commit, 1 run (a too long step runs nothing)", s)
		}
	}
}
