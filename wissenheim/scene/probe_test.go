package scene_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// An outsider's probes of the scene's calls with arguments a client gets
// wrong.

// Join at a place that is not a number is refused with ErrInvalid, and a
// place that is taken or outside the room with ErrBlocked, naming it.
func TestProbeJoinAtBadPlace(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	join(t, w, "ada", at(2, 5))
	for _, c := range []struct {
		at   scene.Vec
		want error
	}{
		{scene.Vec{X: math.NaN(), Y: 1}, scene.ErrInvalid},
		{scene.Vec{X: 1, Y: math.Inf(-1)}, scene.ErrInvalid},
		{scene.Vec{X: -3, Y: -3}, scene.ErrBlocked},
		{scene.Vec{X: 2, Y: 5}, scene.ErrBlocked},
	} {
		_, err := w.Join(ctx, "bob", &scene.JoinOptions{Room: "room", At: &c.at})
		if !errors.Is(err, c.want) {
			t.Errorf("Join at %v: %v, want %v", c.at, err, c.want)
		} else if c.want == scene.ErrBlocked && strings.Contains(err.Error(), "no free spot") {
			t.Errorf("Join at %v: %v; want the place named", c.at, err)
		}
	}
	verify(t, w)
}

// An ID of an object of another kind, where a prop or an avatar is named
// (an avatar's for a prop, a prop's for an avatar), is refused with
// ErrInvalid, as a prop that does not exist is: never the decoder's error
// about the scene's own types.
func TestProbeWrongKindOfObject(t *testing.T) {
	w := newWorld(t, 0)
	ctx := context.Background()
	s := snap(t, w)
	ball := propNamed(s, "ball").ID
	ada := join(t, w, "ada", at(2, 2.6))
	bob := join(t, w, "bob", at(3, 3))
	if err := ada.PickUp(ctx, ball); err != nil {
		t.Fatal(err)
	}
	if err := ada.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	calls := map[string]error{
		"PickUp of an avatar": ada.PickUp(ctx, bob.ID()),
		"Toggle of an avatar": ada.Toggle(ctx, bob.ID()),
		"Kick of an avatar":   ada.Kick(ctx, bob.ID(), scene.Vec{X: 1}),
	}
	if err := ada.PickUp(ctx, ball); err != nil {
		t.Fatal(err)
	}
	calls["Give to a prop"] = ada.Give(ctx, ball)
	_, calls["Resume of a prop"] = w.Resume(ctx, ball, ada.Session())
	// In a View of the caller's, as a reader does; the read's error is the
	// View's too (oss aborts a transaction whose read did not decode).
	calls["World.Avatar of a prop"] = w.Heap().View(ctx, func(tx *oss.Tx) error {
		_, err := w.Avatar(tx, ball)
		return err
	}, nil)
	calls["World.Prop of an avatar"] = w.Heap().View(ctx, func(tx *oss.Tx) error {
		_, err := w.Prop(tx, bob.ID())
		return err
	}, nil)
	for name, err := range calls {
		var de *oss.DecodeError
		if !errors.Is(err, scene.ErrInvalid) || errors.As(err, &de) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	verify(t, w)
}

// Create with no spec is refused with ErrInvalid, and creates nothing: it
// used to panic.
func TestProbeCreateWithoutASpec(t *testing.T) {
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	h, err := n.CreateHeapIfNotExists(ctx, "world", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scene.Create(ctx, h, nil); !errors.Is(err, scene.ErrInvalid) {
		t.Fatalf("Create with a nil spec: %v, want ErrInvalid", err)
	}
	if st := h.Stats(); st.Objects != 0 {
		t.Fatalf("Create with a nil spec left %d objects", st.Objects)
	}
}
