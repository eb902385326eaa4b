package scene_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// An avatar's object overwritten with something that is not an avatar,
// as `ossd put HEAP wissenheim/WORLD/avatar/NAME VALUE` does, leaves the
// room readable: the snapshot leaves it out and names it in Damaged (it
// failed whole, for every client, for as long as the object stayed),
// and a Reap removes it with everything that named it (it was left for
// ever, holding its cells, its prop and its name).
func TestDamagedAvatarIsLeftOutAndReaped(t *testing.T) {
	for _, c := range []struct {
		name  string
		value any
	}{
		{"text", "garbage"},
		{"number", 42},
		{"empty map", map[string]any{}},
		{"map", map[string]any{"x": 1, "name": "ada"}},
		{"list", []any{1, "two", 3.0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, 0)
			ctx := context.Background()
			ada := join(t, w, "ada", at(2, 2.6))
			bob := join(t, w, "bob", at(7, 5))
			ball := propNamed(snap(t, w), "ball")
			if err := ada.PickUp(ctx, ball.ID); err != nil {
				t.Fatal(err)
			}
			before := snap(t, w)
			damage(t, w, "wissenheim/test/avatar/ada", c.value)

			s := readBoth(t, w, before)
			if len(s.Avatars) != 1 || s.Avatars[0].ID != bob.ID() {
				t.Errorf("avatars %+v, want bob's alone", s.Avatars)
			}
			if len(s.Damaged) != 1 || s.Damaged[0].ID != ada.ID() || s.Damaged[0].Kind != scene.AvatarObject {
				t.Errorf("damaged %v, want ada's %v", s.Damaged, ada.ID())
			}
			// No live avatar holds its name: a new one takes it.
			again := join(t, w, "ada", at(8, 2))

			if n, err := w.Reap(ctx); err != nil || n != 1 {
				t.Fatalf("reap: removed %d, %v; want the damaged avatar", n, err)
			}
			s = snap(t, w)
			if len(s.Avatars) != 2 || s.Damaged != nil {
				t.Errorf("after the reap: avatars %+v, damaged %v; want bob and the new ada", s.Avatars, s.Damaged)
			}
			if b := propNamed(s, "ball"); b.Holder != uuid.Nil {
				t.Errorf("the ball is still held: %+v", b)
			}
			verify(t, w)
			// Its cells and its ball are free, and the name stays the
			// new ada's.
			cy := join(t, w, "cy", at(2, 2.6))
			if err := cy.PickUp(ctx, ball.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Join(ctx, "ada", nil); !errors.Is(err, scene.ErrNameTaken) {
				t.Errorf("join of ada's name while the new ada lives: %v, want ErrNameTaken", err)
			}
			if err := again.Move(ctx, scene.Vec{X: 0.1}); err != nil {
				t.Errorf("the new ada: %v", err)
			}
			verify(t, w)
		})
	}
}

// A name's root bound to something that is not an avatar, and that no
// roster lists (`ossd put` of a root no avatar had), does not keep the
// name from every player: Join binds the name anew.
func TestNameBoundToGarbageCanBeTaken(t *testing.T) {
	w := newWorld(t, 0)
	err := w.Heap().Update(context.Background(), func(tx *oss.Tx) error {
		id := uuid.New()
		if err := tx.SetRoot("wissenheim/test/avatar/eve", id); err != nil {
			return err
		}
		return oss.Put(tx, id, "garbage")
	})
	if err != nil {
		t.Fatal(err)
	}
	join(t, w, "eve", at(2, 5))
	verify(t, w)
}

// damage overwrites the object a root names with v, as `ossd put` does.
func damage(t *testing.T, w *scene.World, root string, v any) {
	t.Helper()
	err := w.Heap().Update(context.Background(), func(tx *oss.Tx) error {
		id, err := tx.Root(root)
		if err != nil {
			return err
		}
		return oss.Put(tx, id, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readBoth reads the room with Read and with ReadSince from prev, and
// fails unless they agree.
func readBoth(t *testing.T, w *scene.World, prev *scene.Snapshot) *scene.Snapshot {
	t.Helper()
	var full, inc *scene.Snapshot
	err := w.Heap().View(context.Background(), func(tx *oss.Tx) error {
		var err error
		if full, err = w.Read(tx, "room"); err != nil {
			return err
		}
		inc, err = w.ReadSince(tx, "room", prev)
		return err
	}, nil)
	if err != nil {
		t.Fatalf("a room with a damaged avatar: %v", err)
	}
	if !reflect.DeepEqual(full, inc) {
		t.Fatalf("ReadSince gives\n%+v\nand Read\n%+v", inc, full)
	}
	return full
}
