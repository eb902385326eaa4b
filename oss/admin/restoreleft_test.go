package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A restore over HTTP whose node closes under it fails, and its drop of
// the heap it created fails too (the node is closed): the client gets
// the restore's status (503) without the state that says the node did
// nothing (admin.TookNothing is false: the heap may be left behind), and
// a message that names the heap's group and the guarded drop, not a
// drop by name. The 503 used to carry the "closing" state, which told
// the client that nothing was done.
func TestRestoreLeftHeapOverHTTP(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	// A Close that catches the restore in its open fails the open, and
	// the drop that follows can still reach the catalog: the heap is
	// dropped again and nothing is left, a right answer that is not the
	// path this test is about. It tries again on a new node then.
	for try := 1; ; try++ {
		err, group := restoreClosedUnder(t)
		if strings.Contains(err.Error(), "dropped again: nothing was kept") && try < 20 {
			t.Logf("try %d: the drop reached the catalog: %v", try, err)
			continue
		}
		var se *admin.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
			t.Fatalf("restore whose node closed under it: %v; want 503", err)
		}
		if admin.TookNothing(err) {
			t.Errorf("restore whose heap may be left behind: %v; TookNothing says the node did nothing", err)
		}
		if want := fmt.Sprintf("ossd heaps drop --group %d left", group); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "left behind") {
			t.Errorf("restore whose drop failed: %v; want it to say the heap may be left behind, and %q", err, want)
		}
		return
	}
}

// restoreClosedUnder restores heap "left" over HTTP on a new node and
// closes the node while the restore waits for the second half of its
// backup; it returns the restore's error and the heap's group.
func restoreClosedUnder(t *testing.T) (error, uint64) {
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	srv := serve(t, n, &admin.Options{Insecure: true, Addr: "127.0.0.1:0"})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bkFill(t, n, "src", 200)
	var buf bytes.Buffer
	if _, err := c.Backup(ctx, "src", &buf, false); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := c.Restore(ctx, "left", pr, 0)
		done <- err
	}()
	more := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if _, err := pw.Write(b[:len(b)/2]); err != nil {
			return
		}
		<-more // the rest once the node closed
		pw.Write(b[len(b)/2:])
		pw.Close()
	}()
	var group uint64
	await.Until(t, "the restore's heap, open and led", func() bool {
		for _, h := range n.Heaps() {
			if h.Name == "left" && h.Leader != "" {
				group = h.Group
				return true
			}
		}
		return false
	})
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	close(more)
	err = <-done
	// The restore has answered: whatever of the backup it did not read,
	// no one will. The reader is the caller's (the client does not close
	// it), and the writer would wait on it forever.
	pr.CloseWithError(errors.New("the restore has answered"))
	<-wrote
	if err == nil {
		t.Fatal("a restore whose node closed under it succeeded")
	}
	return err, group
}

// DELETE /v1/heaps/{heap}?group=G (admin.Client.DropHeapOfGroup) drops
// the heap only if it is of group G, which the heap list carries: a
// heap of another group is a 404 that names its group, and is kept.
func TestDropHeapOfGroupOverHTTP(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Insecure: true, Addr: "127.0.0.1:0"})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateHeap(ctx, "g", 0); err != nil {
		t.Fatal(err)
	}
	hs, err := c.Heaps(ctx)
	if err != nil || len(hs) != 1 || hs[0].Group == 0 || hs[0].Group != n.Heaps()[0].Group {
		t.Fatalf("the heap list over HTTP: %+v, %v; want heap g with the node's group %d", hs, err, n.Heaps()[0].Group)
	}
	group := hs[0].Group
	err = c.DropHeapOfGroup(ctx, "g", group+1)
	if !errors.Is(err, oss.ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprint(group)) {
		t.Errorf("drop of heap g of another group: %v; want a 404 naming its group %d", err, group)
	}
	if _, err := n.Heap(ctx, "g"); err != nil {
		t.Fatalf("heap g after a drop of another group: %v", err)
	}
	if err := c.DropHeapOfGroup(ctx, "g", group); err != nil {
		t.Fatalf("drop of heap g of its group: %v", err)
	}
	if _, err := n.Heap(ctx, "g"); !errors.Is(err, oss.ErrNoHeap) {
		t.Errorf("heap g after its drop: %v; want ErrNoHeap", err)
	}
}
