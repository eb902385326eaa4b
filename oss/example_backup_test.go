package oss_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
)

// A heap's backup, checked, and restored as a new heap (the README's
// "Backup and restore"; "ossd heaps backup" and "ossd heaps restore" do
// the same through a node's admin interface). The objects keep their
// IDs, so the roots find them in the copy.
func ExampleHeap_Backup() {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close(context.Background())
	h, err := n.CreateHeap(ctx, "bank", nil)
	if err != nil {
		log.Fatal(err)
	}
	err = h.Update(ctx, func(tx *oss.Tx) error {
		a, err := oss.New(tx, Account{Owner: "alice", Balance: 100})
		if err != nil {
			return err
		}
		return tx.SetRoot("alice", a.ID)
	})
	if err != nil {
		log.Fatal(err)
	}

	var backup bytes.Buffer // a file, in practice: written whole, then renamed
	info, err := h.Backup(ctx, &backup, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("backed up heap %s: %d objects, %d roots\n", info.Heap, info.Objects, info.Roots)

	checked, err := oss.VerifyBackup(bytes.NewReader(backup.Bytes()))
	if err != nil {
		log.Fatal(err) // matches oss.ErrBadBackup, naming the offset
	}
	fmt.Println("checked, same digest:", checked.SHA256 == info.SHA256)

	restored, err := n.RestoreHeap(ctx, "bank-copy", &backup, nil) // ErrHeapExists if it exists
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("restored from the backup of heap", restored.Backup.Heap)
	c, err := n.Heap(ctx, "bank-copy")
	if err != nil {
		log.Fatal(err)
	}
	err = c.View(ctx, func(tx *oss.Tx) error {
		id, err := tx.Root("alice")
		if err != nil {
			return err
		}
		a, err := oss.Get[Account](tx, id)
		fmt.Println(a.Owner, a.Balance)
		return err
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// backed up heap bank: 1 objects, 1 roots
	// checked, same digest: true
	// restored from the backup of heap bank
	// alice 100
}

// readmeUsage is the README's "Usage" snippet as it stands there (id
// and Account given), compiled so that the README's code builds.
func readmeUsage(ctx context.Context, id uuid.UUID) error {
	n, err := oss.Start(ctx, nil)                       // nil Config: one in-memory node
	defer n.Close(ctx)                                  // ctx bounds the hand-over to other nodes
	h, err := n.CreateHeapIfNotExists(ctx, "bank", nil) // opens it, creating it first if missing

	err = h.Update(ctx, func(tx *oss.Tx) error { // retried on conflict
		a, err := oss.Get[Account](tx, id)
		if err != nil {
			return err
		}
		a.Balance += 10
		return oss.Put(tx, id, a)
	})

	err = h.View(ctx, func(tx *oss.Tx) error { // a consistent local snapshot
		a, err := oss.Get[Account](tx, id)
		fmt.Println(a.Balance)
		return err
	}, nil)
	return err
}

var _ = readmeUsage
