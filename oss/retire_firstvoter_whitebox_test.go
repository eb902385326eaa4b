package oss

import (
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// hearRetireRefused has n's refusals of a retirement due sent on the
// returned channel, as "why" strings, dropping those the channel has no
// room for.
func hearRetireRefused(n *Node, h *Heap) <-chan string {
	ch := make(chan string, 4)
	n.mu.Lock()
	n.retireRefusedHook = func(r *Heap, why string) {
		if r != h {
			return
		}
		select {
		case ch <- why:
		default:
		}
	}
	n.mu.Unlock()
	return ch
}

// TestFirstVoterGivenUpIsNotRetired: a replica given up (its removal
// applied, no application using it, no leader heard for retireTicks) on
// a node the heap's catalog entry names among its first voters is kept
// open, not retired. Retired, only its log's record would keep a restart
// from opening it again from the catalog's entry as a first voter, from
// the group's first configuration: once the log dropped the record, a
// replica under the node's ID with none of the group's entries, that
// campaigns. Before, it was retired as any other.
func TestFirstVoterGivenUpIsNotRetired(t *testing.T) {
	t.Parallel()
	c, placed, _ := bankWithUnusedLearner(t, 67)
	x := placed[2]
	nx, hx := c.nodes[x], c.heaps[x]
	e, ok := nx.catalogEntry("bank")
	if !ok || !e.FirstVoter(nx.id) {
		t.Fatalf("%s is not among bank's first voters in its catalog entry %+v", x, e)
	}
	retired := hearRetired(nx)
	refused := hearRetireRefused(nx, hx)
	// Cut off, as a replica its group removed hears no leader; its
	// removal applied, and no application using it: given up.
	for _, o := range placed[:2] {
		c.net.Cut([2]string{x, o})
	}
	hx.used.Store(false)
	hx.inConf.Store(false)
	hx.contact.dropped.Store(true)
	if !hx.givenUp() {
		t.Fatal("the replica is not given up")
	}
	select {
	case why := <-refused:
		t.Logf("refused: %s", why)
	case h := <-retired:
		t.Fatalf("the first voter's replica %p was retired", h)
	case <-time.After(await.Deadline):
		t.Fatalf("waited %v for %s's retirement, due, to be refused", await.Deadline, x)
	}
	if hx.isClosed() || nx.replicaOf("bank") != hx {
		t.Fatal("the first voter's replica was taken out of its node")
	}
	c.net.Heal()
}
