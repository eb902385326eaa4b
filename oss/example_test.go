package oss_test

import (
	"context"
	"fmt"
	"log"

	"github.com/objectsharing/oss/oss"
)

type Account struct {
	Owner   string
	Balance int64
}

type Bank struct {
	Accounts []oss.Ref[Account]
}

func Example() {
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

	// Create two accounts and a root object that lists them.
	err = h.Update(ctx, func(tx *oss.Tx) error {
		alice, err := oss.New(tx, Account{Owner: "alice", Balance: 100})
		if err != nil {
			return err
		}
		bob, err := oss.New(tx, Account{Owner: "bob", Balance: 50})
		if err != nil {
			return err
		}
		bank, err := oss.New(tx, Bank{Accounts: []oss.Ref[Account]{alice, bob}})
		if err != nil {
			return err
		}
		return tx.SetRoot("bank", bank.ID)
	})
	if err != nil {
		log.Fatal(err)
	}

	// Move 30 from alice to bob in one transaction.
	err = h.Update(ctx, func(tx *oss.Tx) error {
		id, err := tx.Root("bank")
		if err != nil {
			return err
		}
		bank, err := oss.Get[Bank](tx, id)
		if err != nil {
			return err
		}
		from, err := bank.Accounts[0].Get(tx)
		if err != nil {
			return err
		}
		to, err := bank.Accounts[1].Get(tx)
		if err != nil {
			return err
		}
		from.Balance -= 30
		to.Balance += 30
		if err := bank.Accounts[0].Put(tx, from); err != nil {
			return err
		}
		tx.OnCommit(func() { fmt.Println("transfer committed") })
		return bank.Accounts[1].Put(tx, to)
	})
	if err != nil {
		log.Fatal(err)
	}

	// Read both balances from one consistent snapshot.
	err = h.View(ctx, func(tx *oss.Tx) error {
		id, err := tx.Root("bank")
		if err != nil {
			return err
		}
		bank, err := oss.Get[Bank](tx, id)
		if err != nil {
			return err
		}
		for _, ref := range bank.Accounts {
			a, err := ref.Get(tx)
			if err != nil {
				return err
			}
			fmt.Printf("%s: %d\n", a.Owner, a.Balance)
		}
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// transfer committed
	// alice: 70
	// bob: 80
}
