package oss_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Close called by several goroutines at once (a signal handler and a
// deferred Close, say): every call returns with the node closed, not only
// the one that does the closing. A call that returned at once while
// another still handed the node's replicas over let its caller go on
// (exit, restart on the data directory) with the node still running.
func TestConcurrentCloseReturnsClosed(t *testing.T) {
	c := osstest.Start(t, 3, &osstest.Options{Seed: 11})
	for _, name := range []string{"n1", "n2", "n3"} {
		c.Heap(name, "kv")
	}
	leader := c.WaitLeader("kv") // its Close hands the heap's leadership over
	n := c.Node(leader)
	ctx := context.Background()
	const callers = 4
	var wg sync.WaitGroup
	begin := make(chan struct{})
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			if err := n.Close(ctx); err != nil {
				errs <- err
				return
			}
			if n.Context().Err() == nil {
				errs <- errors.New("Close returned with the node's context not ended")
				return
			}
			if _, err := n.Heap(ctx, "kv"); !errors.Is(err, oss.ErrClosed) {
				errs <- errors.New("Close returned with the node still opening heaps")
			}
		}()
	}
	close(begin)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
