package scene

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// Verify finds each kind of broken invariant, written past the World
// into a world that was whole: a tool or a test relies on it to say what
// is wrong.
func TestVerifyFindsBrokenInvariants(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(tx *oss.Tx, w *World, ann, bob *Avatar) error
		want    string
	}{{
		name: "cell not held",
		corrupt: func(tx *oss.Tx, w *World, ann, _ *Avatar) error {
			av, err := oss.Get[avatarObj](tx, ann.ID())
			if err != nil {
				return err
			}
			return tx.Delete(cellID(av.Room.ID, cellsOf(av.Pos)[0]))
		},
		want: `avatar "ann" does not hold cell`,
	}, {
		name: "name bound to another avatar",
		corrupt: func(tx *oss.Tx, w *World, ann, bob *Avatar) error {
			return tx.SetRoot(nameRoot(w.name, "ann"), bob.ID())
		},
		want: `name "ann" bound to`,
	}, {
		name: "avatar in a wall",
		corrupt: func(tx *oss.Tx, w *World, ann, _ *Avatar) error {
			return moveAvatar(tx, ann, Vec{X: 5, Y: 1})
		},
		want: "stands in wall",
	}, {
		name: "avatars overlap",
		corrupt: func(tx *oss.Tx, w *World, ann, _ *Avatar) error {
			return moveAvatar(tx, ann, Vec{X: 7.1, Y: 3})
		},
		want: "overlap",
	}, {
		name: "prop held by an avatar that holds nothing",
		corrupt: func(tx *oss.Tx, w *World, ann, _ *Avatar) error {
			ball := w.rooms[0].obj.Props[0]
			p, err := ball.Get(tx)
			if err != nil {
				return err
			}
			p.Holder = oss.RefTo[avatarObj](ann.ID())
			return ball.Put(tx, p)
		},
		want: `prop "ball" held by "ann", which holds`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := verifyWorld(t)
			ann, err := w.Join(ctx, "ann", &JoinOptions{At: &Vec{X: 2, Y: 5}})
			if err != nil {
				t.Fatal(err)
			}
			bob, err := w.Join(ctx, "bob", &JoinOptions{At: &Vec{X: 7, Y: 3}})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Heap().View(ctx, w.Verify, nil); err != nil {
				t.Fatalf("before breaking it: %v", err)
			}
			if err := w.Heap().Update(ctx, func(tx *oss.Tx) error { return tc.corrupt(tx, w, ann, bob) }); err != nil {
				t.Fatal(err)
			}
			err = w.Heap().View(ctx, w.Verify, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify: %v, want a violation with %q", err, tc.want)
			}
		})
	}
}

// moveAvatar writes a's avatar at p, leaving its cells where they were.
func moveAvatar(tx *oss.Tx, a *Avatar, p Vec) error {
	av, err := oss.Get[avatarObj](tx, a.ID())
	if err != nil {
		return err
	}
	av.Pos = p
	return oss.Put(tx, a.ID(), av)
}

// verifyWorld starts a one-node in-memory cluster and creates a 10 × 10 m
// room with a wall along x = 5 from y = 0 to 4 and a ball.
func verifyWorld(t *testing.T) *World {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	h, err := n.CreateHeapIfNotExists(ctx, "world", nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Create(ctx, h, &Spec{
		Name: "test",
		Rooms: []RoomSpec{{
			Name:  "room",
			Size:  Vec{X: 10, Y: 10},
			Walls: []Rect{R(4.9, 0, 5.1, 4)},
			Props: []PropSpec{{Kind: Ball, Name: "ball", Pos: Vec{X: 2, Y: 2}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}
