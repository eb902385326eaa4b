package oss

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/transport/transporttest"
)

// quicGroup returns the heap's group as its leader with the highest term
// among nodes sees it.
func quicGroup(nodes []*Node, heap string) (Stats, bool) {
	var g Stats
	found := false
	for _, n := range nodes {
		if h := n.replicaOf(heap); h != nil && h.leaderIs(h.self) {
			if st := h.Stats(); !found || st.Term > g.Term {
				g, found = st, true
			}
		}
	}
	return g, found
}

// quicLeader returns the node leading the heap with the highest term
// among nodes, or "".
func quicLeader(nodes []*Node, heap string) string {
	lead, term := "", uint64(0)
	for _, n := range nodes {
		if h := n.replicaOf(heap); h != nil && h.leaderIs(h.self) {
			if st := h.Stats(); lead == "" || st.Term > term {
				lead, term = n.cfg.Name, st.Term
			}
		}
	}
	return lead
}

// blockOneway makes each pair's first node drop every datagram to the
// second: one way at the UDP level. QUIC needs both ways (handshakes,
// acknowledgements), so the connections between the two stall and end,
// and the second no longer hears the first however its own are
// answered.
func (hs *harness) blockOneway(addrs map[string]string, pairs ...[2]string) {
	blocked := map[string]map[string]bool{}
	for _, p := range pairs {
		if blocked[p[0]] == nil {
			blocked[p[0]] = map[string]bool{}
		}
		blocked[p[0]][addrs[p[1]]] = true
	}
	for name, b := range blocked {
		hs.conns[name].SetFaults(transporttest.PacketFaults{Blocked: b})
	}
}

// quicOneway is oneway (on the in-memory network) at the UDP level of
// QUIC nodes: the heap's leader deaf or mute, a follower unreached or
// unheard by it, or the leader and a follower apart with the others
// bridging them; a node connected both ways to a majority must commit
// while it lasts.
func (hs *harness) quicOneway(rng *rand.Rand, nodes []*Node, addrs map[string]string) {
	var names []string
	for _, n := range nodes {
		names = append(names, n.cfg.Name)
	}
	lead := quicLeader(nodes, harnessHeap)
	if lead == "" {
		time.Sleep(50 * time.Millisecond)
		return
	}
	others := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == lead })
	f := others[rng.IntN(len(others))]
	without := func(s []string, x string) []string {
		return slices.DeleteFunc(slices.Clone(s), func(n string) bool { return n == x })
	}
	var cuts [][2]string
	var kind string
	majority := others
	switch rng.IntN(6) {
	case 0:
		kind = "udp leader deaf"
		for _, o := range others {
			cuts = append(cuts, [2]string{o, lead})
		}
	case 1:
		kind = "udp leader mute"
		for _, o := range others {
			cuts = append(cuts, [2]string{lead, o})
		}
	case 2:
		kind, majority = "udp follower unreached", without(names, f)
		cuts = append(cuts, [2]string{lead, f})
	case 3:
		kind, majority = "udp follower unheard", without(names, f)
		cuts = append(cuts, [2]string{f, lead})
	case 4:
		kind, majority = "udp leader-follower bridged", without(others, f)
		cuts = append(cuts, [2]string{f, lead}, [2]string{lead, f})
	case 5:
		// The leader, or a follower: one that flaps must not unseat the
		// leader each time it is back (PreVote).
		x := lead
		if rng.IntN(2) == 0 {
			x = f
		}
		hs.flap(rng, nodes, addrs, x)
		return
	}
	hs.blockOneway(addrs, cuts...)
	hs.faults[kind]++
	hs.commitThrough(majority[rng.IntN(len(majority))], kind)
	time.Sleep(time.Duration(200+rng.IntN(2000)) * time.Millisecond)
	if g, ok := quicGroup(nodes, harnessHeap); ok {
		for _, x := range []string{lead, f} {
			if !slices.Contains(g.Voters, x) && !slices.Contains(g.Learners, x) {
				hs.faults["replica removed"]++
			}
		}
	}
	hs.heal()
	time.Sleep(time.Duration(200+rng.IntN(500)) * time.Millisecond)
}

// flap cuts name off both ways and back every 50 to 400 ms for a few
// seconds (a minute with OSS_LONG=1), then commits through another node,
// and logs how far the heap's term rose.
func (hs *harness) flap(rng *rand.Rand, nodes []*Node, addrs map[string]string, name string) {
	var pairs [][2]string
	for other := range addrs {
		if other != name {
			pairs = append(pairs, [2]string{name, other}, [2]string{other, name})
		}
	}
	d := time.Duration(2+rng.IntN(4)) * time.Second
	if os.Getenv("OSS_LONG") != "" {
		d = time.Minute
	}
	before, lead0 := quicTerm(nodes, harnessHeap), quicLeader(nodes, harnessHeap)
	flips := 0
	for start := time.Now(); time.Since(start) < d; flips++ {
		hs.blockOneway(addrs, pairs...)
		time.Sleep(time.Duration(50+rng.IntN(350)) * time.Millisecond)
		hs.heal()
		time.Sleep(time.Duration(50+rng.IntN(350)) * time.Millisecond)
	}
	hs.faults["udp flapping node"]++
	var other string
	for o := range addrs {
		if o != name && (other == "" || o < other) {
			other = o
		}
	}
	hs.commitThrough(other, "after "+name+" flapped")
	g, _ := quicGroup(nodes, harnessHeap)
	hs.t.Logf("seed %d: %s (leader at the start: %v) flapped %d times in %v: the heap's highest term %d → %d, its leader %s at term %d", hs.seed, name, lead0 == name, flips, d, before, quicTerm(nodes, harnessHeap), g.Leader, g.Term)
}

// quicTerm returns the highest term of the heap's replicas on nodes.
func quicTerm(nodes []*Node, heap string) uint64 {
	var t uint64
	for _, n := range nodes {
		if h := n.replicaOf(heap); h != nil {
			t = max(t, h.Stats().Term)
		}
	}
	return t
}

// quicAllCurrent waits until every node's replicas of the catalog and
// the heap are members of their groups and hear their leaders, then
// reads the heap Fresh on every node: every read must see the same
// state.
func (hs *harness) quicAllCurrent(nodes []*Node) {
	t := hs.t
	var first [32]byte
	// Placement restores the heap's three voters, every node a member.
	waitCond(t, "the heap's three voters, every node a member", func() bool {
		g, ok := quicGroup(nodes, harnessHeap)
		return ok && !g.Joint && len(g.Voters) == 3 && len(g.Voters)+len(g.Learners) == len(nodes)
	})
	for i, n := range nodes {
		for _, heap := range []string{catalogName, harnessHeap} {
			waitCond(t, n.cfg.Name+"'s replica of "+heap+" to be current", func() bool {
				h := n.replicaOf(heap)
				return h != nil && h.current()
			})
		}
		h := n.replicaOf(harnessHeap)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := h.View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true})
		cancel()
		if err != nil {
			t.Fatalf("seed %d: %s: a fresh view after the faults: %v", hs.seed, n.cfg.Name, err)
		}
		if _, d := h.Digest(); i == 0 {
			first = d
		} else if d != first {
			t.Errorf("seed %d: fresh views disagree: %s and %s", hs.seed, nodes[0].cfg.Name, n.cfg.Name)
		}
	}
}

// One-way cuts at the UDP level around the heap's leader on four QUIC
// nodes with membership and a short ReplaceAfter, so that a node cut off
// may be declared dead and its replicas replaced: a connected majority
// commits while a cut lasts, no anomaly, nothing acknowledged lost, and
// after the cuts every replica is current again and fresh views agree.
func TestHarnessQUICOneWay(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seed := harnessSeeds(21)
	hs, addrs, nodes := startQUICHarness(t, seed, 4, 2*time.Second)
	hs.seedBank()
	hs.run(6, harnessTime(), func(rng *rand.Rand) { hs.quicOneway(rng, nodes, addrs) })
	hs.finish()
	hs.quicAllCurrent(nodes)
	var st transporttest.PacketStats
	for _, fc := range hs.conns {
		st.Blocked += fc.Stats().Blocked
	}
	t.Logf("seed %d: datagrams blocked: %d", seed, st.Blocked)
}
