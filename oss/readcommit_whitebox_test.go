package oss

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
)

// An Update whose function reads and writes nothing commits without a
// record of its own: its reads are checked against the group's commit
// index (a read index), and it commits at the index of the state it
// checked them in. It wrote a record and waited for its sync before.
func TestReadOnlyUpdateWritesNoRecord(t *testing.T) {
	c := startTestNodes(t, 41, "a")
	h := c.open("a", "bank")
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	x := uuid.New()
	if err := h.Update(ctx, func(tx *Tx) error { return Put(tx, x, 1) }); err != nil {
		t.Fatal(err)
	}
	before := h.Stats()
	var got int
	var at uint64
	err := h.Update(ctx, func(tx *Tx) error {
		v, err := Get[int](tx, x)
		tx.OnCommit(func() { got, at = v, tx.Index() })
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	after := h.Stats()
	if after.Applied != before.Applied {
		t.Errorf("the read-only Update moved the log from %d to %d: it wrote a record", before.Applied, after.Applied)
	}
	if after.ReadCommits != before.ReadCommits+1 || after.Commits != before.Commits+1 {
		t.Errorf("commits %d → %d, of them by read index %d → %d; want one more of each", before.Commits, after.Commits, before.ReadCommits, after.ReadCommits)
	}
	if got != 1 || at != after.Applied {
		t.Errorf("committed having read %d at index %d; want 1 at %d", got, at, after.Applied)
	}
}

// A read-only Update whose reads another node's (or goroutine's) commit
// changes before its function returns conflicts and runs again: it never
// returns, as committed, a value that was no longer current when it
// returned. On one node, on a follower and on a client node, the writer
// on another replica.
func TestReadOnlyUpdateConcurrentWithAWriterRunsAgain(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	one := startTestNodes(t, 42, "solo")
	h := one.open("solo", "bank")
	readWhileWritten(t, "one node", h, h)

	c, app, g := clientOfBank(t, 43, PermWrite)
	ha := c.open("app", "bank")
	follower := "a"
	if g.Leader == follower {
		follower = "b"
	}
	hf := c.heaps[follower]
	hl := c.heaps[g.Leader]
	readWhileWritten(t, "a follower", hf, hl)
	readWhileWritten(t, "a client node", ha, hl)
	readWhileWritten(t, "a client node, the writer a follower", ha, hf)
	_ = app
}

// readWhileWritten runs on reader a read-only Update of an object whose
// value writer's Update changes, and returns, while the function's first
// run has yet to return. The Update must run again and commit the new
// value; and a read-only Update with no writer commits by read index.
func readWhileWritten(t *testing.T, where string, reader, writer *Heap) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	x := uuid.New()
	if err := writer.Update(ctx, func(tx *Tx) error { return Put(tx, x, 1) }); err != nil {
		t.Fatal(err)
	}
	// The reader reads x as 1 first: a read index brings its replica up to
	// the write.
	if err := reader.freshRead(ctx); err != nil {
		t.Fatal(err)
	}
	before := reader.Stats()
	var seen []int
	committed := 0
	err := reader.Update(ctx, func(tx *Tx) error {
		v, err := Get[int](tx, x)
		if err != nil {
			return err
		}
		seen = append(seen, v)
		if len(seen) == 1 {
			done := make(chan error, 1)
			go func() { done <- writer.Update(ctx, func(tx *Tx) error { return Put(tx, x, 2) }) }()
			if err := await.Recv(t, done, "the writer's Update"); err != nil {
				t.Errorf("%s: the writer's Update: %v", where, err)
			}
		}
		tx.OnCommit(func() { committed = v })
		return nil
	})
	if err != nil {
		t.Fatalf("%s: the read-only Update: %v", where, err)
	}
	if committed != 2 || len(seen) < 2 || seen[0] != 1 {
		t.Errorf("%s: the read-only Update read %v and committed having read %d; want a first run that read 1, then 2 committed", where, seen, committed)
		return
	}
	mid := reader.Stats()
	if mid.Conflicts <= before.Conflicts {
		t.Errorf("%s: no conflict counted (%d → %d)", where, before.Conflicts, mid.Conflicts)
	}
	// With no writer, the same Update commits by read index alone.
	err = reader.Update(ctx, func(tx *Tx) error {
		v, err := Get[int](tx, x)
		if err == nil && v != 2 {
			t.Errorf("%s: a later read-only Update read %d, want 2", where, v)
		}
		return err
	})
	if err != nil {
		t.Fatalf("%s: a later read-only Update: %v", where, err)
	}
	if after := reader.Stats(); after.ReadCommits <= mid.ReadCommits {
		t.Errorf("%s: the read-only Update with no writer did not commit by read index (%d → %d)", where, mid.ReadCommits, after.ReadCommits)
	}
}
