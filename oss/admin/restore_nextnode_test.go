package admin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// onlyReader hides a reader's Seek: a backup read from stdin.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// "ossd heaps restore NAME --in FILE --http A,B" with A down failed,
// "no node answers at A", where every other command (and the README's
// "--http A,B,C") goes on to B: a restore was never sent to a second
// node. It now goes on when the first took nothing of it, as any
// request: a node down (nothing of the backup read, stdin too) or one
// that says it is starting (a file, put back where it began). A node
// that took it is still not sent it again.
func TestRestoreGoesToTheNextNodeWhenOneTookNothing(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the cleanups that close the nodes and servers
	ctx := context.Background()
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	bkFill(t, n, "src", 40)
	direct, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(direct.Close)
	var buf bytes.Buffer
	if _, err := direct.Backup(ctx, "src", &buf, false); err != nil {
		t.Fatal(err)
	}
	client := func(addrs string) *admin.Client {
		c, err := admin.NewClient(addrs, &admin.ClientOptions{Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}

	down := client(closedAddr(t) + "," + srv.Addr())
	if ri, err := down.Restore(ctx, "fromstdin", onlyReader{bytes.NewReader(buf.Bytes())}, 0); err != nil || ri.Backup.Objects != 40 {
		t.Errorf("restore of a stream through a list whose first node is down: %+v, %v", ri, err)
	}
	if ri, err := down.Restore(ctx, "fromfile", bytes.NewReader(buf.Bytes()), 0); err != nil || ri.Backup.Objects != 40 {
		t.Errorf("restore of a file through a list whose first node is down: %+v, %v", ri, err)
	}

	starting, err := admin.Starting("n0", &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { starting.Close(ctx) })
	if ri, err := client(starting.Addr()+","+srv.Addr()).Restore(ctx, "afterstarting", bytes.NewReader(buf.Bytes()), 0); err != nil || ri.Backup.Objects != 40 {
		t.Errorf("restore of a file through a list whose first node is starting: %+v, %v", ri, err)
	}

	// The first node took it and refused it: not sent on.
	other := startNode(t)
	otherSrv := serve(t, other, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if _, err := client(srv.Addr()+","+otherSrv.Addr()).Restore(ctx, "fromfile", bytes.NewReader(buf.Bytes()), 0); !errors.Is(err, oss.ErrHeapExists) {
		t.Errorf("restore onto a heap the first node has: %v; want ErrHeapExists", err)
	}
	if _, err := other.Heap(ctx, "fromfile"); !errors.Is(err, oss.ErrNoHeap) {
		t.Errorf("a restore the first node refused reached the next: %v", err)
	}
}
