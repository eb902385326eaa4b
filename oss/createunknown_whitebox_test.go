package oss

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/objectsharing/oss/transport"
)

// errNoOpen stands for whatever stops the open of a heap once its catalog
// entry is found (a context's end, the node closing).
var errNoOpen = errors.New("the open was stopped")

// catalogLed starts three nodes whose catalog has a leader and three
// voters, and returns the leader and a follower.
func catalogLed(t *testing.T, seed uint64) (c *testCluster, lead, follower string) {
	c = startTestNodes(t, seed, "a", "b", "c")
	waitCond(t, "the catalog's group of three, led", func() bool {
		st := c.nodes["a"].catalog.Load().Stats()
		lead = st.Leader
		return lead != "" && len(st.Voters) == 3
	})
	for _, name := range []string{"a", "b", "c"} {
		if name != lead {
			follower = name
		}
	}
	return c, lead, follower
}

// onFirstUnknown has the node's tries of a catalog entry call then once,
// on the first whose outcome is unknown, and reports whether one was.
func onFirstUnknown(n *Node, then func()) (seen func() bool) {
	var once sync.Once
	var mu sync.Mutex
	unknown := false
	n.entryTried = func(err error) {
		if errors.Is(err, ErrCommitUnknown) {
			once.Do(func() {
				mu.Lock()
				unknown = true
				mu.Unlock()
				then()
			})
		}
	}
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		return unknown
	}
}

// CreateHeapIfNotExists whose try of unknown outcome another node's
// creation beat, and whose later try found that node's entry, did not
// create the heap: when its open then fails, the error must not say it
// did (ErrCreatedNotOpen). It said so: a later try that found the entry
// counted as the unknown one's.
func TestCreateIfNotExistsDoesNotClaimAHeapAnotherCreated(t *testing.T) {
	t.Parallel()
	c, lead, x := catalogLed(t, 47)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := onFirstUnknown(c.nodes[x], func() {
		// x's proposal went nowhere. Another node creates the heap, then
		// x hears the cluster again.
		c.nodes[lead].openFault = func() error { return errNoOpen }
		_, err := c.nodes[lead].CreateHeap(ctx, "made", nil)
		c.nodes[lead].openFault = nil
		if !errors.Is(err, ErrCreatedNotOpen) {
			t.Errorf("the leader's CreateHeap: %v, want ErrCreatedNotOpen", err)
		}
		c.net.Heal()
	})
	c.nodes[x].openFault = func() error { return errNoOpen }
	others := []string{}
	for name := range c.nodes {
		if name != x {
			others = append(others, name)
		}
	}
	c.net.Partition([]string{x}, others)
	_, err := c.nodes[x].CreateHeapIfNotExists(ctx, "made", nil)
	c.net.Heal()
	if !seen() {
		t.Fatalf("no try of %s had an unknown outcome (%v): the test tests nothing", x, err)
	}
	if errors.Is(err, ErrCreatedNotOpen) || !errors.Is(err, errNoOpen) {
		t.Fatalf("CreateHeapIfNotExists that found the heap another node created: %v, want the open's error, not ErrCreatedNotOpen", err)
	}
}

// CreateHeapIfNotExists whose try of unknown outcome committed, and whose
// later try found that entry, created the heap, and says so when its open
// fails. The node sends and hears nothing: its proposal reaches the
// catalog's leader, which commits it.
func TestCreateIfNotExistsClaimsTheHeapItsUnknownTryCreated(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 48)
	deaf := map[string]*atomic.Bool{}
	c.wrapHandler = func(name string, hd transport.Handler) transport.Handler {
		return deafHandler{Handler: hd, deaf: deaf[name]}
	}
	for i, name := range []string{"a", "b", "c"} {
		deaf[name] = new(atomic.Bool)
		c.add(name, i > 0, nil)
	}
	var lead, x string
	waitCond(t, "the catalog's group of three, led", func() bool {
		st := c.nodes["a"].catalog.Load().Stats()
		lead = st.Leader
		return lead != "" && len(st.Voters) == 3
	})
	for _, name := range []string{"a", "b", "c"} {
		if name != lead {
			x = name
		}
	}
	seen := onFirstUnknown(c.nodes[x], func() {
		waitCond(t, "the leader to commit the entry", func() bool {
			_, ok := c.nodes[lead].catalogEntry("made")
			return ok
		})
		deaf[x].Store(false)
	})
	c.nodes[x].openFault = func() error { return errNoOpen }
	deaf[x].Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.nodes[x].CreateHeapIfNotExists(ctx, "made", nil)
	deaf[x].Store(false)
	if !seen() {
		t.Fatalf("no try of %s had an unknown outcome (%v): the test tests nothing", x, err)
	}
	if !errors.Is(err, ErrCreatedNotOpen) {
		t.Fatalf("CreateHeapIfNotExists whose unknown try created the heap: %v, want ErrCreatedNotOpen", err)
	}
}
