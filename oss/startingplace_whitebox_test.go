package oss

import (
	"fmt"
	"slices"
	"testing"

	"github.com/objectsharing/oss/engine"
	"go.uber.org/goleak"
)

// A node inside its Start is live in membership from startNetwork on,
// before the catalog has taken its join, so placement may choose it to
// hold a replica: here the one server that can replace a dead voter of a
// heap. It is added as a learner while it starts; messages of a heap its
// catalog does not list yet are dropped (route), and once it lists the
// heap the leader's next message opens the replica, which catches up and
// takes the dead voter's place: nothing stays pending, and the heap is
// back at its replica count with every acknowledged write.
func TestAStartingNodeChosenForAReplicaCatchesUp(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 71, "a", "b", "c")
	c.open("a", "bank")
	waitCond(t, "bank's voters a, b and c", func() bool { return c.settled("bank", "a", "b", "c") })
	ids := seedBank(t, c.heaps["a"])
	c.kill("c")
	var id uint64
	added := false
	e := c.add("e", true, func(cfg *Config) {
		cfg.catalogStep = func(step string, h *Heap) {
			if step != "join" {
				return
			}
			id = h.node.id
			// Held before its catalog join until bank's leader has
			// chosen it for c's place, as a learner.
			waitCond(t, "the starting e a learner of bank", func() bool {
				g, ok := c.group("bank")
				if !ok {
					return false
				}
				for _, n := range []string{"a", "b"} {
					if lead := c.nodes[n].replicaOf("bank"); lead != nil && lead.leaderIs(lead.self) {
						cs := lead.conf.Load()
						return cs != nil && slices.Contains(cs.Learners, id) && slices.Contains(g.Learners, "e")
					}
				}
				return false
			})
			added = true
		}
	})
	if !added || e.id != id {
		t.Fatalf("e was not held at its catalog join (added %v, id %016x, e %016x)", added, id, e.id)
	}
	waitCond(t, "bank's voters a, b and e", func() bool { return c.settled("bank", "a", "b", "e") })
	waitCond(t, "the catalog's voters a, b and e", func() bool { return catalogVotersAre(t, c, "a", "a", "b", "e") })
	r := e.replicaOf("bank")
	if r == nil {
		t.Fatal("e, a voter of bank, has no replica of it")
	}
	want := c.heaps["a"].Stats().Applied
	waitCond(t, "e's replica of bank caught up", func() bool { return r.Stats().Applied >= want })
	if got := total(t, r, ids); got != 800 {
		t.Fatalf("e's replica of bank holds %d, want 800", got)
	}
}

// As above, with a node the catalog does not place: until its own join
// is taken, its catalog replica is empty, so the heap's messages are
// dropped and its learner acknowledges nothing; it stalls and is passed
// over for a server that can take the place. Once its Start has caught
// the catalog up, the heap's next message opens the replica, and the
// heap moves a voter to it, where placement wants it.
func TestAStartingNodeTheCatalogDoesNotPlaceCatchesUp(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	servers := []string{"a", "b", "c", "d"}
	// k: the catalog's learner (ranked fourth) and a voter of the heap;
	// e: a server the heap ranks above its own fourth once k is gone,
	// and the catalog below its three voters.
	k := catalogRanked(servers...)[3]
	rest := slices.DeleteFunc(slices.Clone(servers), func(s string) bool { return s == k })
	var heap, e string
	for i := 0; e == ""; i++ {
		heap, e = fmt.Sprintf("h%d", i/8), fmt.Sprintf("n%d", i%8)
		with := append(slices.Clone(rest), e)
		if !slices.Contains(heapRanked(heap, servers...)[:3], k) || !slices.Contains(heapRanked(heap, with...)[:3], e) ||
			slices.Contains(catalogRanked(with...)[:3], e) {
			e = ""
		}
	}
	voters := heapRanked(heap, servers...)[:3]
	spare := heapRanked(heap, servers...)[3]
	after := heapRanked(heap, append(slices.Clone(rest), e)...)[:3]
	c := startTestNodes(t, 73, servers...)
	h := c.open(rest[0], heap)
	waitCond(t, heap+"'s voters "+fmt.Sprint(voters), func() bool { return c.settled(heap, voters...) })
	ids := seedBank(t, h)
	c.kill(k)
	held := false
	n := c.add(e, true, func(cfg *Config) {
		cfg.catalogStep = func(step string, ch *Heap) {
			if step != "join" {
				return
			}
			id := ch.node.id
			// Its replica's own requests to join (rejoin) held back:
			// the catalog takes it at the join of its Start.
			ch.contact.rejoining.Store(true)
			defer ch.contact.rejoining.Store(false)
			waitCond(t, "the starting "+e+" a learner of "+heap+", with no replica of it", func() bool {
				for _, name := range rest {
					if lead := c.nodes[name].replicaOf(heap); lead != nil && lead.leaderIs(lead.self) {
						cs := lead.conf.Load()
						return cs != nil && slices.Contains(cs.Learners, id) && ch.node.replicaOf(heap) == nil
					}
				}
				return false
			})
			// Silent to the leader for ReplaceAfter, it is passed
			// over: the server that is no voter of the heap takes k's
			// place meanwhile.
			waitCond(t, spare+" taking "+k+"'s place in "+heap, func() bool {
				for _, name := range rest {
					if lead := c.nodes[name].replicaOf(heap); lead != nil && lead.leaderIs(lead.self) {
						return lead.votes(c.nodes[spare].id)
					}
				}
				return false
			})
			held = !ch.inConf.Load() && ch.node.replicaOf(heap) == nil
		}
	})
	if !held {
		t.Fatalf("%s was no learner of %s held at its catalog join, or its catalog replica was a member already", e, heap)
	}
	waitCond(t, heap+"'s voters "+fmt.Sprint(after), func() bool { return c.settled(heap, after...) })
	var r *Heap
	waitCond(t, e+"'s replica of "+heap, func() bool { r = n.replicaOf(heap); return r != nil })
	want := h.Stats().Applied
	waitCond(t, e+"'s replica caught up", func() bool { return r.Stats().Applied >= want })
	if got := total(t, r, ids); got != 800 {
		t.Fatalf("%s's replica of %s holds %d, want 800", e, heap, got)
	}
}

// heapRanked returns the names placement ranks for heap, best first.
func heapRanked(heap string, names ...string) []string {
	var ms []engine.Member
	for _, name := range names {
		ms = append(ms, engine.Member{ID: uint64(len(ms) + 1), Name: name, Server: true})
	}
	var out []string
	for _, m := range engine.Rank(heap, ms) {
		out = append(out, m.Name)
	}
	return out
}
