package oss_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// Fault tests through the public API, on clusters of package osstest.
// They run in parallel; TestMain checks for leaked goroutines once all
// have ended.

type acct struct{ Balance int64 }

func update(h *oss.Heap, fn func(*oss.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.Update(ctx, fn)
}

func transfer(h *oss.Heap, from, to uuid.UUID, amount int64) error {
	return update(h, transferTx(from, to, amount))
}

// transferTx moves amount from one account to another.
func transferTx(from, to uuid.UUID, amount int64) func(*oss.Tx) error {
	return func(tx *oss.Tx) error {
		a, err := oss.Get[acct](tx, from)
		if err != nil {
			return err
		}
		b, err := oss.Get[acct](tx, to)
		if err != nil {
			return err
		}
		a.Balance -= amount
		b.Balance += amount
		if err := oss.Put(tx, from, a); err != nil {
			return err
		}
		return oss.Put(tx, to, b)
	}
}

// commit commits fn on h, trying again while the outcome says the group
// was between leaders (noQuorum): an election on a loaded machine, or
// after a kill or a partition, must not fail a step that needs a commit.
// fn must be one a second commit does no harm to (a transfer keeps the
// bank's total; a put writes the same value). It returns any other error,
// or the last after 2 minutes (a bound against a hang).
func commit(h *oss.Heap, fn func(*oss.Tx) error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := update(h, fn)
		if err == nil || !noQuorum(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// seedAccounts creates 8 accounts of 100 through h, waiting for a leader
// (commit): the accounts are chosen once, so a commit again writes the
// same ones.
func seedAccounts(t *testing.T, h *oss.Heap) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, 8)
	for i := range ids {
		ids[i] = uuid.New()
	}
	err := commit(h, func(tx *oss.Tx) error {
		for _, id := range ids {
			if err := oss.Put(tx, id, acct{100}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// bankTotal is the sum of the accounts in a local snapshot of h.
func bankTotal(t *testing.T, h *oss.Heap, ids []uuid.UUID) int64 {
	t.Helper()
	var sum int64
	err := h.View(context.Background(), func(tx *oss.Tx) error {
		for _, id := range ids {
			a, err := oss.Get[acct](tx, id)
			if err != nil {
				return err
			}
			sum += a.Balance
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func balance(t *testing.T, h *oss.Heap, id uuid.UUID) int64 {
	t.Helper()
	var a acct
	err := h.View(context.Background(), func(tx *oss.Tx) error { var err error; a, err = oss.Get[acct](tx, id); return err }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance
}

// openAll opens the heap on every running node and waits until its group
// has settled on its voters, which it returns.
func openAll(c *osstest.Cluster, heap string, voters int) oss.Stats {
	for _, name := range c.Live() {
		c.Heap(name, heap)
	}
	var g oss.Stats
	c.Wait(heap+"'s voters", func() bool {
		for name, h := range c.Heaps(heap) {
			if g = h.Stats(); g.Leader == name {
				return len(g.Voters) == voters && !g.Joint && len(g.Voters)+len(g.Learners) == len(c.Live())
			}
		}
		return false
	})
	return g
}

// noQuorum reports whether err is how a commit without a quorum ends.
func noQuorum(err error) bool {
	return errors.Is(err, oss.ErrNoQuorum) || errors.Is(err, oss.ErrCommitUnknown) || errors.Is(err, context.DeadlineExceeded)
}

// Transfers from every replica, a learner's forwarded, keep the bank's
// total; when the leader dies the others elect another and go on.
func TestReplicatedBank(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 4, nil)
	g := openAll(c, "bank", 3)
	ids := seedAccounts(t, c.Heap(g.Learners[0], "bank")) // a learner commits too: forwarded
	var wg sync.WaitGroup
	for name, h := range c.Heaps("bank") {
		wg.Go(func() {
			for i := range 30 {
				if err := commit(h, transferTx(ids[i%8], ids[(i+3)%8], int64(i))); err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	c.WaitConverged("bank")
	for name, h := range c.Heaps("bank") {
		if got := bankTotal(t, h, ids); got != 800 {
			t.Fatalf("%s holds %d, want 800", name, got)
		}
	}

	// The leader dies; the others elect another and go on.
	old := c.WaitLeader("bank")
	c.Kill(old)
	if l := c.WaitLeader("bank"); l == old {
		t.Fatalf("the dead leader %s still leads", old)
	}
	for name, h := range c.Heaps("bank") {
		if err := commit(h, transferTx(ids[0], ids[1], 1)); err != nil {
			t.Fatalf("%s after the leader died: %v", name, err)
		}
	}
	c.WaitConverged("bank")
}

// A leader cut off from its group commits nothing; the majority elects
// another leader and commits; once healed, the old leader holds the
// majority's write, never its own.
func TestMinorityMakesNoCommits(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 3, nil)
	openAll(c, "bank", 3)
	id := uuid.New()
	if err := commit(c.Heap("n1", "bank"), func(tx *oss.Tx) error { return oss.Put(tx, id, acct{1}) }); err != nil {
		t.Fatal(err)
	}
	minority := c.WaitLeader("bank")
	var majority []string
	for _, name := range c.Live() {
		if name != minority {
			majority = append(majority, name)
		}
	}
	c.Partition([]string{minority}, majority)
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	err := c.Heap(minority, "bank").Update(short, func(tx *oss.Tx) error { return oss.Put(tx, id, acct{666}) })
	cancel()
	if err == nil {
		t.Fatal("a minority committed")
	}
	if !noQuorum(err) {
		t.Fatalf("minority commit: %v", err)
	}
	// The majority elects a leader and commits.
	if err := commit(c.Heap(majority[0], "bank"), func(tx *oss.Tx) error { return oss.Put(tx, id, acct{2}) }); err != nil {
		t.Fatalf("majority: %v", err)
	}
	c.Heal()
	c.WaitConverged("bank")
	if got := balance(t, c.Heap(minority, "bank"), id); got != 2 {
		t.Fatalf("after healing the old minority holds %d, want 2 (the minority's write must not survive)", got)
	}
}

// In a cluster of five, a minority of one voter and a learner commits
// nothing and serves no linearizable read; the majority commits; once
// healed, every replica holds the bank whole.
func TestMinorityPartitionOfFive(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 5, nil)
	g := openAll(c, "bank", 3)
	ids := seedAccounts(t, c.Heap("n1", "bank"))
	// The minority holds two of the three voters' peers apart: one voter
	// and a learner on one side, two voters and a learner on the other.
	minority := []string{g.Voters[0], g.Learners[0]}
	majority := []string{g.Voters[1], g.Voters[2], g.Learners[1]}
	c.Partition(minority, majority)
	for _, name := range minority {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := c.Heap(name, "bank").Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, ids[0], acct{666}) })
		cancel()
		if err == nil {
			t.Fatalf("%s committed in the minority", name)
		}
		if !noQuorum(err) {
			t.Fatalf("%s in the minority: %v", name, err)
		}
		// A linearizable read cannot be served there either: no leader.
		err = c.Heap(name, "bank").View(context.Background(), func(*oss.Tx) error { return nil }, &oss.ViewOptions{Fresh: true})
		if !errors.Is(err, oss.ErrNoQuorum) {
			t.Fatalf("a fresh view in the minority: %v", err)
		}
	}
	for _, name := range majority {
		if err := commit(c.Heap(name, "bank"), transferTx(ids[1], ids[2], 3)); err != nil {
			t.Fatalf("%s in the majority: %v", name, err)
		}
	}
	c.Heal()
	c.WaitConverged("bank")
	for name, h := range c.Heaps("bank") {
		if got := bankTotal(t, h, ids); got != 800 {
			t.Fatalf("%s holds %d, want 800", name, got)
		}
	}
}

// A durable node down for longer than ReplaceAfter is removed from its
// groups; restarted on its data directory it comes back as the member it
// was, with a replica that believes it is still one. It rejoins, and its
// first Heap call returns a replica that caught up.
func TestReplicaRemovedWhileDownRejoinsAfterRestart(t *testing.T) {
	t.Parallel()
	c := osstest.Start(t, 5, &osstest.Options{Durable: true})
	g := openAll(c, "bank", 3)
	ids := seedAccounts(t, c.Heap(g.Voters[0], "bank"))
	victim := g.Learners[0]
	c.Kill(victim)
	c.Wait(victim+" to be removed from the bank's group", func() bool {
		for name, h := range c.Heaps("bank") {
			if s := h.Stats(); s.Leader == name {
				return !s.Joint && !slices.Contains(s.Learners, victim) && !slices.Contains(s.Voters, victim)
			}
		}
		return false
	})
	for i := range 50 {
		if err := commit(c.Heap(g.Voters[i%3], "bank"), transferTx(ids[i%8], ids[(i+1)%8], 1)); err != nil {
			t.Fatal(err)
		}
	}
	n := c.Restart(victim)
	var h *oss.Heap
	c.Wait(victim+" to open the bank again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		h, err = n.CreateHeapIfNotExists(ctx, "bank", nil)
		if err != nil && !errors.Is(err, oss.ErrNoQuorum) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: open the bank after the restart: %v", victim, err)
		}
		return err == nil
	})
	c.Heap(victim, "bank") // the same handle, now among the cluster's
	c.WaitConverged("bank")
	for name, h := range c.Heaps("bank") {
		if got := bankTotal(t, h, ids); got != 800 {
			t.Fatalf("%s holds %d, want 800", name, got)
		}
	}
	if err := commit(h, transferTx(ids[0], ids[1], 1)); err != nil {
		t.Fatal(err)
	}
	// A node that came back under a new raft ID would have joined as a
	// new member, never rejoined: then the test would test nothing.
	c.Wait(victim+" to have found that it was removed", func() bool { return h.Stats().Rejoins > 0 })
}

// A dead voter is replaced once it has been gone for ReplaceAfter (its
// default, 30 s), not before; meanwhile the group elects a leader and
// commits without it. The cluster runs in a synctest bubble: its clocks
// are fake, and 30 s pass as soon as every node waits.
func TestDeadVoterReplacedAfterReplaceAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := osstest.Start(t, 4, &osstest.Options{Patience: 5 * time.Minute, Configure: func(_ string, cfg *oss.Config) {
			cfg.ReplaceAfter = 0 // the default
		}})
		g := openAll(c, "bank", 3)
		ids := seedAccounts(t, c.Heap(g.Voters[0], "bank"))
		victim := g.Leader
		c.Kill(victim)
		killed := time.Now()
		replaced := func() bool {
			for name, h := range c.Heaps("bank") {
				if s := h.Stats(); s.Leader == name {
					return !s.Joint && len(s.Voters) == 3 && !slices.Contains(s.Voters, victim)
				}
			}
			return false
		}
		// Fake time: the sleep ends when every node waits, 25 s later.
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if replaced() {
			t.Fatalf("%s replaced %v after its death, before ReplaceAfter", victim, time.Since(killed))
		}
		for name, h := range c.Heaps("bank") {
			if err := transfer(h, ids[0], ids[1], 1); err != nil {
				t.Fatalf("%s, with a voter dead: %v", name, err)
			}
		}
		c.Wait(victim+" to be replaced", replaced)
		if d := time.Since(killed); d < 30*time.Second {
			t.Fatalf("%s replaced %v after its death, before ReplaceAfter", victim, d)
		}
		c.WaitConverged("bank")
		for name, h := range c.Heaps("bank") {
			if got := bankTotal(t, h, ids); got != 800 {
				t.Fatalf("%s holds %d, want 800", name, got)
			}
		}
	})
}
