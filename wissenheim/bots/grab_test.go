package bots_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/wissenheim/internal/cluster"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// Two players on two nodes grab the same ball at the same moment, round
// after round: exactly one gets it, and every node agrees who. Then one
// kicks it, and while it rolls every node draws it at the same place for
// the same log index.
func TestTwoNodesGrabOneBallAndSeeItRollAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := cluster.Start(ctx, &cluster.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	hs, err := c.Heap(ctx, "wissenheim")
	if err != nil {
		t.Fatal(err)
	}
	spec := &scene.Spec{Rooms: []scene.RoomSpec{{
		Name:  "pitch",
		Size:  scene.Vec{X: 12, Y: 8},
		Walls: []scene.Rect{scene.R(8, 2, 8.5, 6)},
		Props: []scene.PropSpec{{Kind: scene.Ball, Name: "ball", Pos: scene.Vec{X: 3, Y: 4}}},
	}}}
	ws := make([]*scene.World, len(hs))
	for i, h := range hs {
		if ws[i], err = scene.Create(ctx, h, spec); err != nil {
			t.Fatal(err)
		}
	}
	// Every node that has a player in the world runs it, as Wissenheim
	// does: Run's heartbeats keep the leases of its players that write
	// nothing. Bob loses grab after grab and writes nothing meanwhile;
	// with Run on ada's node only, at load 12 to 17 his lease ran out
	// and he was removed at round 9.
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, len(ws))
	for _, w := range ws {
		go func() { ran <- w.Run(runCtx) }()
	}
	defer func() {
		stopRun()
		for range ws {
			recv(t, ran, "the worlds to stop running")
		}
	}()

	ada, err := ws[0].Join(ctx, "ada", &scene.JoinOptions{At: &scene.Vec{X: 2.5, Y: 4}})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := ws[1].Join(ctx, "bob", &scene.JoinOptions{At: &scene.Vec{X: 3.5, Y: 4}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ws[0].Snapshot(ctx, "pitch")
	if err != nil {
		t.Fatal(err)
	}
	ball := s.Props[0].ID
	wins := map[string]int{}
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, a := range []*scene.Avatar{ada, bob} {
			wg.Go(func() {
				<-start
				errs[i] = a.PickUp(ctx, ball)
			})
		}
		close(start)
		wg.Wait()
		var winner *scene.Avatar
		for i, err := range errs {
			switch {
			case err == nil && winner == nil:
				winner = []*scene.Avatar{ada, bob}[i]
			case err == nil:
				t.Fatalf("round %d: both grabs succeeded", round)
			case !errors.Is(err, scene.ErrHeld):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if winner == nil {
			t.Fatalf("round %d: neither grab succeeded: %v", round, errs)
		}
		wins[winner.Name()]++
		for i, w := range ws {
			holder := waitFor(t, w, func(s *scene.Snapshot) (uuid.UUID, bool) {
				return s.Props[0].Holder, s.Props[0].Holder != uuid.Nil
			})
			if holder != winner.ID() {
				t.Fatalf("round %d: %s says %v holds the ball, %s won it", round, cluster.Name(i), holder, winner.Name())
			}
		}
		if err := winner.Drop(ctx); err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			waitFor(t, w, func(s *scene.Snapshot) (bool, bool) { return true, s.Props[0].Holder == uuid.Nil })
		}
	}
	t.Logf("grabs won: %v", wins)

	// The kick: every node samples the rolling ball as fast as it can.
	if err := ada.Kick(ctx, ball, scene.Vec{X: 7, Y: 2.5}); err != nil {
		t.Fatal(err)
	}
	seen := make([]map[uint64]scene.PropState, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		seen[i] = map[uint64]scene.PropState{}
		wg.Go(func() {
			deadline := time.Now().Add(recvDeadline) // a bound against a hang
			for time.Now().Before(deadline) {
				s, err := w.Snapshot(ctx, "pitch")
				if err != nil {
					t.Error(err)
					return
				}
				seen[i][s.Index] = s.Props[0]
				if !s.Props[0].Rolling && s.Props[0].Holder == uuid.Nil && len(seen[i]) > 1 {
					return
				}
				time.Sleep(time.Millisecond)
			}
			t.Errorf("%s: the ball never stopped", cluster.Name(i))
		})
	}
	wg.Wait()
	common, moving := 0, 0
	for idx, p := range seen[0] {
		for i := 1; i < len(ws); i++ {
			if q, ok := seen[i][idx]; ok {
				common++
				if p.Rolling {
					moving++
				}
				if p != q {
					t.Fatalf("at index %d the ball is %+v on %s, %+v on %s", idx, p, cluster.Name(0), q, cluster.Name(i))
				}
			}
		}
	}
	if moving == 0 {
		t.Fatalf("no index at which two nodes both saw the ball rolling (%d in common)", common)
	}
	t.Logf("%d indexes seen on two nodes, %d with the ball rolling", common, moving)
}

// waitFor polls a world's snapshots until cond holds, and returns its value.
func waitFor[T any](t *testing.T, w *scene.World, cond func(*scene.Snapshot) (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute) // against a hang, not a measure
	for {
		s, err := w.Snapshot(context.Background(), "pitch")
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := cond(s); ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
