package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// failPathsNode starts a durable node with a heap "src" of five objects
// and returns it with a backup of that heap.
func failPathsNode(t *testing.T, seed uint64) (*Node, []byte) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startDurable(t, seed, []string{"solo"}, nil)
	n := c.nodes["solo"]
	ctx := context.Background()
	src, err := n.CreateHeap(ctx, "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if err := src.Update(ctx, func(tx *Tx) error { return Put(tx, answerID(i), i) }); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := src.Backup(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	return n, buf.Bytes()
}

// otherCaller drops name and creates it again as another caller would,
// with object 99 in it, and returns that heap's group.
func otherCaller(t *testing.T, n *Node, ctx context.Context, name string) uint64 {
	if err := n.DropHeap(ctx, name); err != nil && !errors.Is(err, ErrNoHeap) {
		t.Errorf("the other caller's drop: %v", err)
	}
	o, err := n.CreateHeap(ctx, name, nil)
	if err != nil {
		t.Errorf("the other caller's create: %v", err)
		return 0
	}
	if err := o.Update(ctx, func(tx *Tx) error { return Put(tx, answerID(99), 99) }); err != nil {
		t.Errorf("the other caller's write: %v", err)
	}
	return o.group
}

// checkOthers checks that heap name is the other caller's, of group
// other, with its object 99 and nothing of the backup.
func checkOthers(t *testing.T, n *Node, ctx context.Context, name string, other uint64) {
	t.Helper()
	if e, ok := n.catalogEntry(name); !ok || e.Group != other {
		t.Fatalf("the catalog's entry of %s: %+v, %v; want the other caller's, group %d", name, e, ok, other)
	}
	x, err := n.Heap(ctx, name)
	if err != nil {
		t.Fatalf("the other caller's heap: %v", err)
	}
	err = x.View(ctx, func(tx *Tx) error {
		if v, err := Get[int](tx, answerID(99)); err != nil || v != 99 {
			t.Errorf("the other caller's object: %v, %v; want 99", v, err)
		}
		if ok, err := tx.Exists(answerID(3)); ok || err != nil {
			t.Errorf("the backup's object 3 in the other caller's heap: %v, %v", ok, err)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// checkPlain checks that a restore's error left is a *RestoreLeftError
// of heap name and group, matching the restore's cause and told in the
// user's terms: no internal text, the group named, and the drop of that
// group alone given as a command.
func checkPlain(t *testing.T, err error, name string, group uint64, cause error) {
	t.Helper()
	var left *RestoreLeftError
	if !errors.As(err, &left) || left.Heap != name || !slices.Equal(left.Groups, []uint64{group}) {
		t.Fatalf("restore whose drop failed: %v; want a *RestoreLeftError of heap %s, group %d", err, name, group)
	}
	if !errors.Is(err, cause) {
		t.Errorf("restore whose drop failed: %v; want it to match the restore's own error, %v", err, cause)
	}
	msg := err.Error()
	t.Logf("the restore's error: %s", msg)
	cmd := fmt.Sprintf("ossd heaps drop --group %d %s", group, name)
	for _, want := range []string{"left behind", fmt.Sprintf("group %d", group), cmd, "ossd heaps\" lists"} {
		if !strings.Contains(msg, want) {
			t.Errorf("restore whose drop failed: %q; want it to say %q", msg, want)
		}
	}
	for _, internal := range []string{"Update function", errNothingThere.Error(), "by hand"} {
		if strings.Contains(msg, internal) {
			t.Errorf("restore whose drop failed: %q; it says %q, internal text or a blind drop", msg, internal)
		}
	}
}

// TestRestoreLeftHeapSaysHowToDropItAlone: a restore of a damaged backup
// whose own drop cannot reach the catalog (its read index fails for want
// of a quorum, or its removal's outcome is unknown) returns a
// *RestoreLeftError that still matches ErrBadBackup and names the heap's
// group and the guarded drop. That drop removes the restore's heap while
// it is there, and leaves another caller's heap of the name alone. The
// error used to show the catalog transaction's internal error and advise
// a drop by name.
func TestRestoreLeftHeapSaysHowToDropItAlone(t *testing.T) {
	n, good := failPathsNode(t, 46)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bad := good[:len(good)-3]
	for _, c := range []struct {
		name  string
		fault error
		other bool // another caller creates the name again before the drop
	}{
		{"unchecked", &uncheckedError{err: fmt.Errorf("%w: no leader of the catalog in reach", ErrNoQuorum), ferr: errNothingThere}, false},
		{"unknown", fmt.Errorf("oss: catalog: %w", ErrCommitUnknown), false},
		{"recreated", &uncheckedError{err: ErrClosed, ferr: errNothingThere}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "X-" + c.name
			n.restoreDropFault = func() error { return c.fault }
			_, err := n.RestoreHeap(ctx, name, bytes.NewReader(bad), nil)
			n.restoreDropFault = nil
			e, ok := n.catalogEntry(name)
			if !ok {
				t.Fatalf("no entry of %s: the drop was to fail", name)
			}
			checkPlain(t, err, name, e.Group, ErrBadBackup)
			if strings.Contains(err.Error(), "no leader") != (c.name == "unchecked") {
				t.Errorf("restore whose drop failed: %q; want the drop's cause", err)
			}
			if c.other {
				other := otherCaller(t, n, ctx, name)
				err := n.DropHeapOfGroup(ctx, name, e.Group)
				if !errors.Is(err, ErrNoHeap) || !strings.Contains(err.Error(), fmt.Sprint(other)) {
					t.Errorf("the guarded drop of the restore's heap, the name another's now: %v; want ErrNoHeap naming group %d", err, other)
				}
				checkOthers(t, n, ctx, name, other)
				return
			}
			if err := n.DropHeapOfGroup(ctx, name, e.Group+1); !errors.Is(err, ErrNoHeap) {
				t.Errorf("the guarded drop of another group: %v; want ErrNoHeap", err)
			}
			if err := n.DropHeapOfGroup(ctx, name, e.Group); err != nil {
				t.Fatalf("the guarded drop of the restore's heap: %v", err)
			}
			if _, ok := n.catalogEntry(name); ok {
				t.Errorf("the restore's heap %s is still in the catalog after its guarded drop", name)
			}
			if _, err := n.RestoreHeap(ctx, name, bytes.NewReader(good), nil); err != nil {
				t.Errorf("a restore again after the guarded drop: %v", err)
			}
		})
	}
}

// TestRestoreWhoseReplicaFailsToOpenLeavesNoEntry: a restore whose heap
// was created and whose replica then failed to open (here a disk's
// refusal) drops the entry it created, as any failure after the
// creation: an empty heap left under the name refused the next restore
// as existing, and opened empty. The drop is the guarded one: a heap of
// the name another caller created meanwhile is left as it is.
func TestRestoreWhoseReplicaFailsToOpenLeavesNoEntry(t *testing.T) {
	n, good := failPathsNode(t, 47)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	refused := fmt.Errorf("%w: the replica's directory: no space left on device", ErrDisk)

	n.replicaFault = func() error { n.replicaFault = nil; return refused }
	_, err := n.RestoreHeap(ctx, "Y", bytes.NewReader(good), nil)
	if !errors.Is(err, ErrCreatedNotOpen) || !errors.Is(err, errRestoreDropped) || !strings.Contains(err.Error(), "no space left") || strings.Contains(err.Error(), "open it with Heap") {
		t.Errorf("restore whose replica did not open: %v; want ErrCreatedNotOpen, the open's cause, and nothing kept", err)
	}
	if e, ok := n.catalogEntry("Y"); ok {
		t.Errorf("restore whose replica did not open left the entry %+v", e)
	}
	if _, err := n.RestoreHeap(ctx, "Y", bytes.NewReader(good), nil); err != nil {
		t.Errorf("a restore again: %v", err)
	}

	var other uint64
	n.replicaFault = func() error {
		n.replicaFault = nil
		other = otherCaller(t, n, ctx, "Z")
		return refused
	}
	_, err = n.RestoreHeap(ctx, "Z", bytes.NewReader(good), nil)
	if !errors.Is(err, ErrCreatedNotOpen) || !strings.Contains(err.Error(), "dropped meanwhile") {
		t.Errorf("restore whose replica did not open, its heap dropped and created again meanwhile: %v; want a failure that drops nothing", err)
	}
	checkOthers(t, n, ctx, "Z", other)

	n.replicaFault = func() error { n.replicaFault = nil; return refused }
	n.restoreDropFault = func() error { return &uncheckedError{err: ErrNoQuorum, ferr: errNothingThere} }
	_, err = n.RestoreHeap(ctx, "W", bytes.NewReader(good), nil)
	n.restoreDropFault = nil
	e, ok := n.catalogEntry("W")
	if !ok {
		t.Fatal("no entry of W: the drop was to fail")
	}
	checkPlain(t, err, "W", e.Group, ErrCreatedNotOpen)
}

// TestRestoreOfUnknownCreationDropsOnlyItsGroup: a restore whose
// CreateHeap's outcome was unknown (the groups its tries proposed
// travel with the error) drops the entry if one of those groups is
// there, and leaves a heap of the name of another group alone. It used
// to drop nothing and advise a drop by name.
func TestRestoreOfUnknownCreationDropsOnlyItsGroup(t *testing.T) {
	n, _ := failPathsNode(t, 48)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	unknown := func(name string) error { return fmt.Errorf("oss: heap %q: catalog: %w", name, ErrCommitUnknown) }

	h, err := n.CreateHeap(ctx, "U", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = n.restoreNotOpened(ctx, "U", unknownEntry([]uint64{h.group + 1, h.group}, unknown("U")))
	if !errors.Is(err, ErrCommitUnknown) || !errors.Is(err, errRestoreDropped) {
		t.Errorf("restore whose creation's outcome was unknown, its entry there: %v; want it dropped", err)
	}
	if e, ok := n.catalogEntry("U"); ok {
		t.Errorf("the entry the restore's creation proposed is still there: %+v", e)
	}

	other := otherCaller(t, n, ctx, "V")
	err = n.restoreNotOpened(ctx, "V", unknownEntry([]uint64{other + 1}, unknown("V")))
	if !errors.Is(err, ErrCommitUnknown) || !strings.Contains(err.Error(), "never created") || errors.Is(err, errRestoreDropped) {
		t.Errorf("restore whose creation's outcome was unknown, another's heap under the name: %v; want nothing dropped", err)
	}
	checkOthers(t, n, ctx, "V", other)
}
