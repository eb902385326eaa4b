package oss

import (
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss/pki"
)

// Two of a heap's three voters over four servers close at once: the
// server that stays and is no voter takes one of their votes, and the two
// nodes left commit. Placement wants one voter of the two servers that
// stay, a voter already (the leavers are the second and third placed), and
// the spare used to be left out: both leavers kept their votes and the
// group had one live voter of three, with no leader ever again.
func TestTwoVotersLeavingAtOnceWithASpare(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodes(t, 31, "a", "b", "c", "d")
	var peers []peerInfo
	for name, n := range c.nodes {
		peers = append(peers, peerInfo{Name: name, ID: n.id, Role: pki.RoleServer})
	}
	var r []string
	for _, p := range rendezvous("bank", peers) {
		r = append(r, p.Name)
	}
	for _, name := range r {
		c.open(name, "bank")
	}
	waitCond(t, "voters "+r[0]+", "+r[1]+", "+r[2], func() bool { return c.settled("bank", r[0], r[1], r[2]) })
	ids := seedBank(t, c.heaps[r[0]])
	var wg sync.WaitGroup
	for _, name := range r[1:3] {
		n := c.nodes[name]
		wg.Go(func() {
			if err := n.Close(t.Context()); err != nil {
				t.Errorf("close %s: %v", name, err)
			}
		})
	}
	wg.Wait()
	c.forget(r[1])
	c.forget(r[2])
	for _, name := range []string{r[0], r[3]} {
		untilCommitted(t, name+": a transfer after two voters left at once", c.heaps[name], func(tx *Tx) error {
			return transferIn(tx, ids[0], ids[1], 1)
		})
	}
	c.checkBank(ids)
}
