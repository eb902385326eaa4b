package oss

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// A client node its servers cannot hear, while membership still lists it
// (the in-memory network's failure detector never suspects; over QUIC, a
// death doubted after the servers stood still, whose confirming join
// never ran uninterrupted), is removed from the catalog and from its heap
// once it has sent their leaders nothing for ReplaceAfter: a client
// closed or killed while the servers were stopped stayed a learner of
// both for good. One that was only cut off comes back on its own: after
// the heal it rejoins both groups, and the handle its application held
// throughout commits again and converges with the others.
func TestUnheardClientLearnerRemovedAndRejoins(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 59, "a", "b", "c")
	servers := []string{"a", "b", "c"}
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "bank", Perm: PermWrite})
	for _, name := range servers {
		c.open(name, "bank")
	}
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	h := c.open("app", "bank")
	ids := seedBank(t, c.heaps["a"])
	learner := func(heap string) (in, ok bool) {
		g, ok := c.group(heap)
		return slices.Contains(g.Learners, "app"), ok
	}
	both := func(want bool) func() bool {
		return func() bool {
			cat, ok1 := learner(catalogName)
			bank, ok2 := learner("bank")
			return ok1 && ok2 && cat == want && bank == want
		}
	}
	waitCond(t, "app a learner of the catalog and of bank", both(true))

	c.net.Partition(servers, []string{"app"})
	waitCond(t, "app removed from the catalog and from bank", both(false))
	for _, name := range servers {
		if !slices.ContainsFunc(c.nodes[name].live(), func(p peerInfo) bool { return p.Name == "app" }) {
			t.Fatalf("%s's membership no longer lists app: the test tests nothing", name)
		}
	}

	c.net.Heal()
	waitCond(t, "app a learner of the catalog and of bank again", both(true))
	waitCond(t, "app's open handle to commit", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := h.Update(ctx, func(tx *Tx) error {
			a, err := Get[acct](tx, ids[0])
			if err != nil {
				return err
			}
			b, err := Get[acct](tx, ids[1])
			if err != nil {
				return err
			}
			a.Balance--
			b.Balance++
			if err := Put(tx, ids[0], a); err != nil {
				return err
			}
			return Put(tx, ids[1], b)
		})
		if err != nil && !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrCommitUnknown) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("app: update after healing: %v", err)
		}
		return err == nil
	})
	if h.Stats().Rejoins == 0 {
		t.Fatal("app's replica of bank counted no rejoin: it was never removed")
	}
	c.checkBank(ids)
}
