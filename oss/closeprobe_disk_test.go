package oss_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// A node whose disk refuses (ENOSPC on every write and sync, EIO on
// every sync) while Updates run, once one has failed with ErrDisk:
// Close, called twice at once, returns (with what closing the data
// directory failed with, if anything: the log seals a segment whose sync
// failed and goes on refusing, it does not stop), every Update returns,
// and the directory starts again holding every Update acknowledged.
func TestCloseOfANodeWhoseDiskRefuses(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	for _, refusal := range []error{syscall.ENOSPC, syscall.EIO} {
		t.Run(refusal.Error(), func(t *testing.T) {
			dir := t.TempDir()
			fs := &persist.FaultFS{FS: persist.OS{}}
			n, h := openHeap(t, &oss.Config{DataDir: dir, FS: fs})
			id := create(t, h, counter{})
			var mu sync.Mutex
			acked, refused := 0, 0
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						err := h.Update(context.Background(), func(tx *oss.Tx) error {
							c, err := oss.Get[counter](tx, id)
							if err != nil {
								return err
							}
							c.N++
							return oss.Put(tx, id, c)
						})
						mu.Lock()
						if err == nil {
							acked++
						}
						if errors.Is(err, oss.ErrDisk) {
							refused++
						}
						mu.Unlock()
						if n.Context().Err() != nil {
							return
						}
					}
				})
			}
			awaitCount(t, &mu, &acked, 10)
			fs.SetRule(func(op persist.Op, name string) error {
				if op == persist.OpSync || (refusal == syscall.ENOSPC && (op == persist.OpWrite || op == persist.OpCreate)) {
					return refusal
				}
				return nil
			})
			awaitCount(t, &mu, &refused, 1)
			errs := make([]error, 2)
			var closers sync.WaitGroup
			for i := range errs {
				closers.Go(func() { errs[i] = n.Close(context.Background()) })
			}
			within(t, "Close of a node whose disk refuses, twice at once", func() { closers.Wait() })
			within(t, "the Updates to return", func() { wg.Wait() })
			t.Logf("Close: %v; %v", errs[0], errs[1])
			fs.SetRule(nil)
			mu.Lock()
			want := acked
			mu.Unlock()
			n2, err := oss.Start(context.Background(), &oss.Config{DataDir: dir, Logger: quietLogger()})
			if err != nil {
				t.Fatalf("start again: %v", err)
			}
			defer n2.Close(context.Background())
			h2, err := n2.Heap(context.Background(), "test")
			if err != nil {
				t.Fatal(err)
			}
			c, err := read(t, h2, id)
			if err != nil || c.N < want {
				t.Errorf("after the restart the counter holds %d, %v; %d increments were acknowledged", c.N, err, want)
			}
			t.Logf("counter %d, acknowledged %d", c.N, want)
		})
	}
}

func awaitCount(t *testing.T, mu *sync.Mutex, n *int, want int) {
	t.Helper()
	within(t, fmt.Sprintf("%d acknowledged Updates", want), func() {
		for {
			mu.Lock()
			got := *n
			mu.Unlock()
			if got >= want {
				return
			}
			runtimeGosched()
		}
	})
}

func runtimeGosched() { time.Sleep(time.Millisecond) }
