package oss

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/objectsharing/oss/consistency"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss/pki"
	"go.uber.org/goleak"
)

// refusalCluster starts servers a and b and a client app granted read and
// write on the heap "w" (one voter), which all three replicate. It returns the
// cluster, the grant, and each node's replica of w.
func refusalCluster(t *testing.T, seed uint64) (*testCluster, Grant, map[string]*Heap) {
	t.Helper()
	c := startTestNodes(t, seed, "a", "b")
	ctx := aclContext(t)
	if _, err := c.nodes["a"].CreateHeap(ctx, "w", &HeapOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	// Read apart from write: revoking write leaves the client in the
	// group, where it learns how its commits were decided.
	write := Grant{Who: "app", Heap: "w", Perm: PermWrite}
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "w", Perm: PermRead})
	mustGrant(t, c.nodes["a"], write)
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	hs := map[string]*Heap{}
	for _, name := range []string{"a", "b", "app"} {
		h, err := c.nodes[name].Heap(ctx, "w")
		if err != nil {
			t.Fatalf("%s: open w: %v", name, err)
		}
		hs[name] = h
	}
	return c, write, hs
}

// leaderOf returns the replica of the heap that leads its group.
func leaderOf(t *testing.T, hs map[string]*Heap) *Heap {
	t.Helper()
	var lead *Heap
	waitCond(t, "a leader of w", func() bool {
		for _, h := range hs {
			if h.leaderIs(h.self) {
				lead = h
				return true
			}
		}
		return false
	})
	return lead
}

// A grant revoked while a client's commits are in flight: every commit
// ends committed, its write on every replica, or refused for certain
// (ErrPermission), its write on none; never with an unknown outcome, and
// never by waiting for its context to end. The commits held in their
// Update functions until the heap's leader has applied the revocation are
// all refused: the leader writes a refusal in their records' place.
func TestACLRevokedWhileCommitsInFlight(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, write, hs := refusalCluster(t, 41)
	a, app := c.nodes["a"], hs["app"]
	lead := leaderOf(t, hs)

	const held, free = 6, 3
	type result struct {
		ids  []uuid.UUID // written by the successful commits
		last uuid.UUID   // written by the commit that failed
		err  error
	}
	results := make([]result, held+free)
	release := make(chan struct{})
	var entered, done sync.WaitGroup
	entered.Add(held)
	for i := range held {
		done.Go(func() {
			id, once := uuid.New(), sync.Once{}
			err := app.Update(aclContext(t), func(tx *Tx) error {
				if err := Put(tx, id, i); err != nil {
					return err
				}
				once.Do(entered.Done)
				<-release
				return nil
			})
			results[i] = result{last: id, err: err}
			if err == nil {
				results[i] = result{ids: []uuid.UUID{id}}
			}
		})
	}
	for i := held; i < held+free; i++ {
		done.Go(func() {
			r := &results[i]
			for {
				id := uuid.New()
				err := app.Update(aclContext(t), func(tx *Tx) error { return Put(tx, id, i) })
				if err != nil {
					r.last, r.err = id, err
					return
				}
				r.ids = append(r.ids, id)
			}
		})
	}
	entered.Wait()
	mustRevoke(t, a, write)
	waitCond(t, "the heap's leader to apply the revocation", func() bool {
		return lead.node.Authorize("app", pki.RoleClient, "w", PermWrite) != nil
	})
	close(release)
	done.Wait()

	for i, r := range results {
		if !errors.Is(r.err, ErrPermission) || errors.Is(r.err, ErrCommitUnknown) {
			t.Errorf("writer %d ended with %v, want an error matching ErrPermission", i, r.err)
		}
	}
	// A later commit, applied everywhere: the state every replica holds
	// after every decision of the client's commits.
	marker := uuid.New()
	untilCommitted(t, "a commit after the revocation", hs["a"], func(tx *Tx) error { return Put(tx, marker, 1) })
	for name, h := range hs {
		waitCond(t, name+" to apply the later commit", func() bool { _, ok := h.state.Load().Get(marker); return ok })
		st := h.state.Load()
		for i, r := range results {
			for _, id := range r.ids {
				if _, ok := st.Get(id); !ok {
					t.Errorf("%s lacks writer %d's committed write", name, i)
				}
			}
			if _, ok := st.Get(r.last); ok {
				t.Errorf("%s holds writer %d's refused write", name, i)
			}
		}
	}
}

// A transaction refused stays refused: its record proposed again, with
// the grant restored, is a copy of the refusal and writes nothing. A
// refusal a client forges is dropped by the leader, and the transaction's
// own record then commits.
func TestACLRefusalIsAtMostOnce(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, write, hs := refusalCluster(t, 43)
	a, app := c.nodes["a"], hs["app"]
	lead := leaderOf(t, hs)
	ctx := aclContext(t)

	mustRevoke(t, a, write)
	waitCond(t, "the heap's leader to apply the revocation", func() bool {
		return lead.node.Authorize("app", pki.RoleClient, "w", PermWrite) != nil
	})
	id := uuid.New()
	rec := consistency.Record{TxID: uuid.Must(uuid.NewV7()), Snapshot: app.state.Load().Index(), Writes: []consistency.Write{putWrite(t, id, 1)}}
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.commit(ctx, rec.TxID, data)
	if err != nil || res.Outcome != consistency.Refused {
		t.Fatalf("a commit after the revocation: %+v, %v; want refused", res, err)
	}

	mustGrant(t, a, write)
	waitCond(t, "the heap's leader to apply the grant", func() bool {
		return lead.node.Authorize("app", pki.RoleClient, "w", PermWrite) == nil
	})
	again, err := app.commit(ctx, rec.TxID, data)
	if err != nil || again.Outcome != consistency.Refused || !again.Duplicate || again.Index != res.Index {
		t.Fatalf("the refused record proposed again: %+v, %v; want the refusal at %d", again, err, res.Index)
	}
	for name, h := range hs {
		waitCond(t, name+" to apply the copy", func() bool { return h.state.Load().Index() >= again.Index })
		if _, ok := h.state.Load().Get(id); ok {
			t.Fatalf("%s holds the refused write", name)
		}
	}

	// A forged refusal, from a client granted write, never reaches the log.
	id2 := uuid.New()
	rec2 := consistency.Record{TxID: uuid.Must(uuid.NewV7()), Snapshot: app.state.Load().Index(), Writes: []consistency.Write{putWrite(t, id2, 2)}}
	forged, err := consistency.Refusal(&rec2).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	before := lead.node.acl.refused.Load()
	fctx, cancel := context.WithCancel(ctx)
	forgedDone := make(chan error, 1)
	go func() {
		r, err := app.commit(fctx, rec2.TxID, forged)
		if err == nil {
			err = fmt.Errorf("decided %v", r.Outcome)
		}
		forgedDone <- err
	}()
	waitCond(t, "the leader to drop the forged refusal", func() bool { return lead.node.acl.refused.Load() > before })
	cancel()
	<-forgedDone
	data2, err := rec2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	res2, err := app.commit(ctx, rec2.TxID, data2)
	if err != nil || res2.Outcome != consistency.Committed || res2.Duplicate {
		t.Fatalf("the transaction whose refusal was forged: %+v, %v; want committed", res2, err)
	}
}

// A commit refused by a heap's leader whose catalog replica has not yet
// applied a grant the client's has is not a refusal for good: Update asks
// the catalog's leader, finds the write granted, and runs again until the
// heap's leader has the grant too.
func TestACLRefusalByALaggingLeaderIsRetried(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, ctx, app, hs := laggingACLHeaps(t, 47)
	lead := grantPastTheLeader(t, c, app, hs)
	before := lead.node.acl.refused.Load()
	id := uuid.New()
	done := make(chan error, 1)
	go func() { done <- hs["app"].Update(ctx, func(tx *Tx) error { return Put(tx, id, 1) }) }()
	waitCond(t, "the heap's leader to refuse the commit", func() bool { return lead.node.acl.refused.Load() > before })
	c.net.Heal()
	if err := await.Recv(t, done, "the commit the lagging leader refused to return"); err != nil {
		t.Fatalf("a commit granted write, refused by a leader that had not heard of it: %v", err)
	}
	// The leader sends the commit index before it applies (ApplyApart):
	// the client may return before the leader's own state holds it.
	waitCond(t, "the commit on the heap's leader", func() bool {
		_, ok := lead.state.Load().Get(id)
		return ok
	})
}

// laggingACLHeaps starts servers a, b and c (seed), a heap w with one
// replica, and a client app that may read it, and opens w on all four.
func laggingACLHeaps(t *testing.T, seed uint64) (*testCluster, context.Context, *Node, map[string]*Heap) {
	t.Helper()
	c := startTestNodesWith(t, seed, func(cfg *Config) { cfg.MaxRetries = 1 << 20 }, "a", "b", "c")
	ctx := aclContext(t)
	if _, err := c.nodes["a"].CreateHeap(ctx, "w", &HeapOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	mustGrant(t, c.nodes["a"], Grant{Who: "app", Heap: "w", Perm: PermRead})
	c.add("app", true, func(cfg *Config) { cfg.Role = pki.RoleClient })
	app := c.nodes["app"]
	hs := map[string]*Heap{}
	for _, name := range []string{"a", "b", "c", "app"} {
		h, err := c.nodes[name].Heap(ctx, "w")
		if err != nil {
			t.Fatalf("%s: open w: %v", name, err)
		}
		hs[name] = h
	}
	return c, ctx, app, hs
}

// grantPastTheLeader cuts w's leader off from the other servers, grants
// app the write through one of them, and returns the leader once the
// client has the grant and the leader has not: the heap's leader hears
// nothing of the catalog while the write is granted; the client hears
// it all.
func grantPastTheLeader(t *testing.T, c *testCluster, app *Node, hs map[string]*Heap) *Heap {
	t.Helper()
	lead := leaderOf(t, hs)
	x := lead.node.cfg.Name
	var others []string
	for _, name := range []string{"a", "b", "c"} {
		if name != x {
			others = append(others, name)
		}
	}
	c.net.Cut([2]string{x, others[0]}, [2]string{x, others[1]})
	mustGrant(t, c.nodes[others[0]], Grant{Who: "app", Heap: "w", Perm: PermWrite})
	waitCond(t, "the client to see the grant", func() bool { return app.Authorize("app", pki.RoleClient, "w", PermWrite) == nil })
	if lead.node.Authorize("app", pki.RoleClient, "w", PermWrite) == nil {
		t.Fatal("the heap's leader heard of the grant through the cut")
	}
	return lead
}
