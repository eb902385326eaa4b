package scene_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/wissenheim/scene"
)

// Two players reach for the same ball: one gets it, the other is refused,
// and the snapshot a renderer reads shows who holds it.
func ExampleWorld() {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close(ctx)
	h, err := n.CreateHeap(ctx, "wissenheim", nil)
	if err != nil {
		log.Fatal(err)
	}
	w, err := scene.Create(ctx, h, &scene.Spec{Rooms: []scene.RoomSpec{{
		Name:  "hall",
		Size:  scene.Vec{X: 10, Y: 6},
		Props: []scene.PropSpec{{Kind: scene.Ball, Name: "ball", Pos: scene.Vec{X: 5, Y: 3}}},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	ada, err := w.Join(ctx, "ada", &scene.JoinOptions{At: &scene.Vec{X: 4.5, Y: 3}})
	if err != nil {
		log.Fatal(err)
	}
	bob, err := w.Join(ctx, "bob", &scene.JoinOptions{At: &scene.Vec{X: 5.5, Y: 3}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.Join(ctx, "ada", nil); errors.Is(err, scene.ErrNameTaken) {
		fmt.Println("a second ada is refused")
	}

	snap, err := w.Snapshot(ctx, "hall")
	if err != nil {
		log.Fatal(err)
	}
	ball := snap.Props[0].ID
	if err := ada.PickUp(ctx, ball); err != nil {
		log.Fatal(err)
	}
	if err := bob.PickUp(ctx, ball); errors.Is(err, scene.ErrHeld) {
		fmt.Println("bob is too late")
	}
	if err := bob.Move(ctx, scene.Vec{X: -0.5}); errors.Is(err, scene.ErrBlocked) {
		fmt.Println("bob cannot walk into ada")
	}

	snap, err = w.Snapshot(ctx, "hall")
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range snap.Avatars {
		holds := "nothing"
		if a.Holding == ball {
			holds = "the ball"
		}
		fmt.Printf("%s at %.1f holds %s\n", a.Name, a.Pos, holds)
	}
	// Output:
	// a second ada is refused
	// bob is too late
	// bob cannot walk into ada
	// ada at {4.5 3.0} holds the ball
	// bob at {5.5 3.0} holds nothing
}
