package oss_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/oss"
)

// startExample starts a one-node in-memory cluster with one heap.
func startExample(ctx context.Context, heap string) (*oss.Node, *oss.Heap) {
	n, err := oss.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	h, err := n.CreateHeap(ctx, heap, nil)
	if err != nil {
		log.Fatal(err)
	}
	return n, h
}

// A shared counter: four goroutines (on one node here, on several nodes
// alike) add 25 each. Update runs the function again whenever what it
// read changed before it committed, so no increment is lost.
func ExampleHeap_Update_counter() {
	ctx := context.Background()
	n, h := startExample(ctx, "counters")
	defer n.Close(ctx)
	id := uuid.New()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 25 {
				err := h.Update(ctx, func(tx *oss.Tx) error {
					c, err := oss.Get[int](tx, id)
					if err != nil && !errors.Is(err, oss.ErrNotFound) {
						return err
					}
					return oss.Put(tx, id, c+1)
				})
				if err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()

	h.View(ctx, func(tx *oss.Tx) error {
		c, err := oss.Get[int](tx, id)
		fmt.Println(c)
		return err
	}, nil)
	// Output: 100
}

type Item struct {
	Name string
	Next oss.Ref[Item] // zero at the end of the list
}

// A linked list of objects that point at each other with refs, pushed at
// the front in one transaction and walked in another.
func ExampleRef() {
	ctx := context.Background()
	n, h := startExample(ctx, "lists")
	defer n.Close(ctx)

	err := h.Update(ctx, func(tx *oss.Tx) error {
		var head oss.Ref[Item]
		for _, name := range []string{"c", "b", "a"} {
			ref, err := oss.New(tx, Item{Name: name, Next: head})
			if err != nil {
				return err
			}
			head = ref
		}
		return tx.SetRoot("list", head.ID)
	})
	if err != nil {
		log.Fatal(err)
	}

	err = h.View(ctx, func(tx *oss.Tx) error {
		id, err := tx.Root("list")
		if err != nil {
			return err
		}
		for ref := oss.RefTo[Item](id); !ref.IsZero(); {
			it, err := ref.Get(tx)
			if err != nil {
				return err
			}
			fmt.Print(it.Name, " ")
			ref = it.Next
		}
		fmt.Println()
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// Output: a b c
}

type Room struct {
	Name    string
	Avatars []oss.Ref[Avatar]
}

type Avatar struct {
	Name string
	X, Y int
}

// A scene-graph update: every avatar of a room takes a step, all in one
// transaction, so no node ever sees half the room moved.
func ExampleHeap_Update_sceneGraph() {
	ctx := context.Background()
	n, h := startExample(ctx, "world")
	defer n.Close(ctx)
	var room oss.Ref[Room]
	err := h.Update(ctx, func(tx *oss.Tx) error {
		ada, _ := oss.New(tx, Avatar{Name: "ada", X: 1})
		bob, _ := oss.New(tx, Avatar{Name: "bob", X: 5})
		var err error
		room, err = oss.New(tx, Room{Name: "hall", Avatars: []oss.Ref[Avatar]{ada, bob}})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	err = h.Update(ctx, func(tx *oss.Tx) error {
		r, err := room.Get(tx)
		if err != nil {
			return err
		}
		for _, ref := range r.Avatars {
			a, err := ref.Get(tx)
			if err != nil {
				return err
			}
			a.X++
			if err := ref.Put(tx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	h.View(ctx, func(tx *oss.Tx) error {
		r, _ := room.Get(tx)
		for _, ref := range r.Avatars {
			a, _ := ref.Get(tx)
			fmt.Println(a.Name, a.X)
		}
		return nil
	}, nil)
	// Output:
	// ada 2
	// bob 6
}

// A watch that resumes: a consumer remembers the index of the last event
// it handled, with the heap's incarnation (Event.Incarnation, or
// Stats().Incarnation), and, after a restart or a lost connection, starts
// again from there. It gets every later commit once, in log order (or a
// resync event if that history is no longer kept, or the heap was dropped
// and created again since: never a silent gap).
func ExampleHeap_Watch() {
	ctx := context.Background()
	n, h := startExample(ctx, "scores")
	defer n.Close(ctx)
	id := uuid.New()
	set := func(score int) (index uint64) {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			tx.OnCommit(func() { index = tx.Index() })
			return oss.Put(tx, id, score)
		})
		if err != nil {
			log.Fatal(err)
		}
		return index
	}
	seen := set(1) // the consumer handled this one, then stopped
	inc := h.Stats().Incarnation
	set(2)
	set(3)

	w, err := h.Watch(&oss.WatchOptions{IDs: []uuid.UUID{id}, From: seen, Incarnation: inc})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	for range 2 {
		ev, err := w.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		var score int
		if err := ev.Objects[0].Decode(&score); err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Kind, score, ev.Index > seen)
	}
	// Output:
	// change 2 true
	// change 3 true
}

// A merged watch, for a consumer slower than the commits (a chat pane, a
// spectator over a slow link): what it has not taken yet waits as one
// event, each object at its latest version, never part of a commit, and
// it catches up in a few events, however many commits it missed. Rate
// caps the events a second as well (WatchOptions.Rate: 20).
func ExampleWatchOptions_merge() {
	ctx := context.Background()
	n, h := startExample(ctx, "positions")
	defer n.Close(ctx)
	id := uuid.New()
	move := func(x int) (index uint64) {
		err := h.Update(ctx, func(tx *oss.Tx) error {
			tx.OnCommit(func() { index = tx.Index() })
			return oss.Put(tx, id, x)
		})
		if err != nil {
			log.Fatal(err)
		}
		return index
	}
	seen := move(1) // the consumer handled this one
	for x := 2; x <= 100; x++ {
		move(x)
	}

	w, err := h.Watch(&oss.WatchOptions{IDs: []uuid.UUID{id}, From: seen, Merge: true})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	x, events, commits := 0, 0, 0
	for x < 100 {
		ev, err := w.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if err := ev.Objects[0].Decode(&x); err != nil {
			log.Fatal(err)
		}
		events, commits = events+1, commits+ev.Commits
	}
	fmt.Println("x:", x, "commits:", commits, "in a few events:", events <= 2)
	// Output:
	// x: 100 commits: 99 in a few events: true
}

// A fresh read is linearizable: it sees every commit acknowledged, on any
// node, before it began. A plain View reads the local replica at once and
// may trail the leader by Stats().Lag entries.
func ExampleHeap_View_fresh() {
	ctx := context.Background()
	n, h := startExample(ctx, "settings")
	defer n.Close(ctx)
	err := h.Update(ctx, func(tx *oss.Tx) error {
		motd, err := oss.New(tx, "hello")
		if err != nil {
			return err
		}
		return tx.SetRoot("motd", motd.ID)
	})
	if err != nil {
		log.Fatal(err)
	}

	err = h.View(ctx, func(tx *oss.Tx) error {
		id, err := tx.Root("motd")
		if err != nil {
			return err
		}
		motd, err := oss.Get[string](tx, id)
		fmt.Println(motd)
		return err
	}, &oss.ViewOptions{Fresh: true})
	if err != nil {
		log.Fatal(err)
	}
	// Output: hello
}
