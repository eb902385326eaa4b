package oss_test

import (
	"context"
	"fmt"
	"log"

	"github.com/objectsharing/oss/oss"
)

type Queue struct {
	Jobs []string
}

// A worker waits for its queue to be non-empty: its function returns
// tx.Retry() while the queue is empty, and Update runs it again once the
// queue changes, on whichever node the job was added.
func ExampleTx_Retry() {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeapIfNotExists(ctx, "jobs", nil)
	if err != nil {
		log.Fatal(err)
	}
	err = h.Update(ctx, func(tx *oss.Tx) error {
		q, err := oss.New(tx, Queue{})
		if err != nil {
			return err
		}
		return tx.SetRoot("queue", q.ID)
	})
	if err != nil {
		log.Fatal(err)
	}

	took := make(chan string)
	go func() {
		var job string
		err := h.Update(ctx, func(tx *oss.Tx) error {
			id, err := tx.Root("queue")
			if err != nil {
				return err
			}
			q, err := oss.Get[Queue](tx, id)
			if err != nil {
				return err
			}
			if len(q.Jobs) == 0 {
				return tx.Retry() // wait until the queue changes
			}
			job, q.Jobs = q.Jobs[0], q.Jobs[1:]
			return oss.Put(tx, id, q)
		})
		if err != nil {
			log.Fatal(err)
		}
		took <- job
	}()

	err = h.Update(ctx, func(tx *oss.Tx) error {
		id, err := tx.Root("queue")
		if err != nil {
			return err
		}
		q, err := oss.Get[Queue](tx, id)
		if err != nil {
			return err
		}
		q.Jobs = append(q.Jobs, "render frame 1")
		return oss.Put(tx, id, q)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the worker took", <-took)
	// Output:
	// the worker took render frame 1
}
