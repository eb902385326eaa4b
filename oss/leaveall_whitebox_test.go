package oss

import (
	"context"
	"sync"
	"testing"
)

// A whole cluster stopped at once (every node sent SIGTERM together, as a
// host's shutdown does) closes every node without an error: the last to
// leave has no member left to gossip its leave to, and its Close failed
// with "timeout waiting for leave broadcast", so ossd exited 1 from a
// clean stop.
func TestCloseWholeClusterAtOnce(t *testing.T) {
	t.Parallel()
	c := newQUICCluster(t, "a", "b", "c")
	var wg sync.WaitGroup
	errs := make(map[string]error)
	var mu sync.Mutex
	for name, n := range c.nodes {
		wg.Go(func() {
			err := n.Close(context.Background())
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, err := range errs {
		if err != nil {
			t.Errorf("Close of %s with the whole cluster closing: %v", name, err)
		}
	}
}
