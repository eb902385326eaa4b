package oss

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// errNoOpen stands for whatever stops the open of a heap once its catalog
// entry is found (a context's end, the node closing).
var errNoOpen = errors.New("the open was stopped")

// waitCatalogKnown waits until the catalog has three voters, a leader
// that says it leads, and followers that both know it and have heard from
// it lately, and returns the leader and a follower. The tests that make a
// follower deaf need it to know the leader when it proposes: it forwards
// its commit to the leader it knows (an outcome it cannot learn:
// unknown), where one that knows none holds it unproposed and fails it
// for certain. They looked at a's replica alone, which says nothing of
// the follower's (deafOnProposal makes it deaf only once it proposed).
func waitCatalogKnown(t *testing.T, c *testCluster) (lead, follower string) {
	t.Helper()
	names := []string{"a", "b", "c"}
	waitCond(t, "the catalog's group of three, led, its leader known to every replica", func() bool {
		lead = ""
		for _, name := range names {
			if st := c.nodes[name].catalog.Load().Stats(); st.Leader == name {
				lead = name
			}
		}
		for _, name := range names {
			st := c.nodes[name].catalog.Load().Stats()
			if lead == "" || st.Leader != lead || !st.LeaderInReach || st.Joint || len(st.Voters) != 3 {
				return false
			}
		}
		return true
	})
	for _, name := range names {
		if name != lead {
			follower = name
		}
	}
	return lead, follower
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
	c, deaf, armed := deafNodes(t, 47, true)
	lead, x := waitCatalogKnown(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // a bound against a hang
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
		deaf[x].Store(false)
	})
	c.nodes[x].openFault = func() error { return errNoOpen }
	// Its proposal dropped where it arrived, and x deaf from then on.
	armed.Store(&x)
	_, err := c.nodes[x].CreateHeapIfNotExists(ctx, "made", nil)
	deaf[x].Store(false)
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
	c, deaf, armed := deafNodes(t, 48, false)
	lead, x := waitCatalogKnown(t, c)
	seen := onFirstUnknown(c.nodes[x], func() {
		waitCond(t, "the leader to commit the entry", func() bool {
			_, ok := c.nodes[lead].catalogEntry("made")
			return ok
		})
		deaf[x].Store(false)
	})
	c.nodes[x].openFault = func() error { return errNoOpen }
	armed.Store(&x)                                                          // deaf once its proposal reached another node
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline) // a bound against a hang
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
