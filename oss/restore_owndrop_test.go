package oss_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
)

// gateReader gives the first n bytes of r, then waits for release.
type gateReader struct {
	r       *bytes.Reader
	n       int
	reached chan struct{}
	release chan struct{}
	waited  bool
}

func (g *gateReader) Read(b []byte) (int, error) {
	if g.n == 0 {
		if !g.waited {
			g.waited = true
			close(g.reached)
			<-g.release
		}
		return g.r.Read(b)
	}
	k, err := g.r.Read(b[:min(len(b), g.n)])
	g.n -= k
	return k, err
}

// A restore whose heap was dropped under it, and created again by
// someone else, fails and drops nothing: the other's heap and its
// writes are kept, and the error says the restore's heap was dropped
// meanwhile. It used to drop by name, the other's heap.
func TestRestoreDropsOnlyItsOwnHeap(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n := bkStartNode(t, 64<<10)
	h, err := n.CreateHeap(ctx, "src", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, h, 200, 3000, 5)
	b, _ := backupOf(t, h)
	g := &gateReader{r: bytes.NewReader(b), n: len(b) / 2, reached: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := n.RestoreHeap(ctx, "X", g, nil)
		done <- err
	}()
	<-g.reached
	if err := n.DropHeap(ctx, "X"); err != nil {
		t.Fatal(err)
	}
	other, err := n.CreateHeap(ctx, "X", nil)
	if err != nil {
		t.Fatal(err)
	}
	bkFill(t, other, 3, 10, 1)
	want, _ := backupOf(t, other)
	close(g.release)
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "dropped meanwhile") {
		t.Errorf("restore whose heap was dropped and created anew: %v; want a failure that says its heap was dropped meanwhile", err)
	}
	if errors.Is(err, oss.ErrBadBackup) {
		t.Errorf("restore: %v matches ErrBadBackup; the backup is sound", err)
	}
	x, err := n.Heap(ctx, "X")
	if err != nil {
		t.Fatalf("the other's heap X after the failed restore: %v", err)
	}
	got, _ := backupOf(t, x)
	equalBackups(t, "X", parseBackup(t, got), parseBackup(t, want))
}
