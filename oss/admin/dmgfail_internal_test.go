package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// damagedNode is a node whose catalog replica is lost, as its admin
// interface answers every request that needs the catalog: fail with the
// damage (503, X-Oss-Node-State: damaged). It counts the requests it got.
func damagedNode(t *testing.T, name string) (addr string, got *atomic.Int64) {
	t.Helper()
	got = new(atomic.Int64)
	why := fmt.Errorf("%w: node %q cannot use the catalog: its replica of \"oss:catalog\" was lost while the node ran; restart it empty: ossd run --rebuild-replica --join <a member>", oss.ErrCorrupt, name)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		fail(w, why)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), got
}

// healthyNode is an in-memory node's admin interface.
func healthyNode(t *testing.T) (*oss.Node, string) {
	t.Helper()
	n, err := oss.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	srv, err := NewServer(n, &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return n, srv.Addr()
}

func insecureClient(t *testing.T, addrs ...string) *Client {
	t.Helper()
	c, err := NewClient(strings.Join(addrs, ","), &ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// A damaged node did nothing of a request it refused with its damage, so
// the client sends reads and writes on to the next node of its list, as
// it does past one that is starting: before, a damaged first node failed
// every command given "--http damaged,healthy".
func TestClientGoesPastADamagedNode(t *testing.T) {
	ctx := context.Background()
	bad, got := damagedNode(t, "n1")
	n, good := healthyNode(t)
	c := insecureClient(t, bad, good)

	if err := c.CreateHeap(ctx, "h", 0); err != nil {
		t.Fatalf("create a heap through a list whose first node is damaged: %v", err)
	}
	put, err := c.PutRoot(ctx, "h", "r", 1)
	if err != nil {
		t.Fatalf("put through a list whose first node is damaged: %v", err)
	}
	if _, err := c.Commit(ctx, "h", &Txn{Writes: []Write{{ID: put.ID, Value: []byte("2")}}}); err != nil {
		t.Fatalf("a transaction through a list whose first node is damaged: %v", err)
	}
	o, err := c.Root(ctx, "h", "r", true)
	if err != nil || o.Value != float64(2) {
		t.Fatalf("get through a list whose first node is damaged: %v %v; want 2", o.Value, err)
	}
	if hs, err := c.Heaps(ctx); err != nil || len(hs) == 0 {
		t.Fatalf("heaps through a list whose first node is damaged: %v %v", hs, err)
	}
	if err := c.DropHeap(ctx, "h"); err != nil {
		t.Fatalf("drop a heap through a list whose first node is damaged: %v", err)
	}
	if _, err := n.Heap(ctx, "h"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the heap after its drop: %v; want ErrNoHeap", err)
	}
	if k := got.Load(); k != 6 {
		t.Fatalf("the damaged node got %d requests; want each of the 6 once", k)
	}

	// A node that is starting, then a damaged one, then the healthy one.
	starting, err := Starting("n0", &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { starting.Close(ctx) })
	c = insecureClient(t, starting.Addr(), bad, good)
	if _, err := c.PutRoot(ctx, "h2", "r", 3); err != nil {
		t.Fatalf("put through a list of a starting node, a damaged one and a healthy one: %v", err)
	}
	if o, err := c.Root(ctx, "h2", "r", false); err != nil || o.Value != float64(3) {
		t.Fatalf("get through the same list: %v %v; want 3", o.Value, err)
	}
}

// When no node of the list takes a request, the error names each node
// and why it did not (damaged, starting, no answer), matches
// oss.ErrCorrupt as a damaged node's does, and is never an unknown
// outcome: nothing was done.
func TestClientEveryNodeDamagedNamesEach(t *testing.T) {
	ctx := context.Background()
	a, gotA := damagedNode(t, "n1")
	b, gotB := damagedNode(t, "n2")
	c := insecureClient(t, a, b)
	_, err := c.PutRoot(ctx, "h", "r", 1)
	if err == nil || !errors.Is(err, oss.ErrCorrupt) || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a put to damaged nodes only: %v; want an error matching ErrCorrupt, not an unknown outcome", err)
	}
	msg := err.Error()
	for _, want := range []string{"http://" + a + " is damaged", `node "n1" cannot use the catalog`, "http://" + b + " is damaged", `node "n2" cannot use the catalog`, "nothing was done"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("a put to damaged nodes only: %q; want it to say %q", msg, want)
		}
	}
	if gotA.Load() != 1 || gotB.Load() != 1 {
		t.Fatalf("the damaged nodes got %d and %d requests; want one each", gotA.Load(), gotB.Load())
	}
	_, err = c.Root(ctx, "h", "r", false)
	if err == nil || !strings.Contains(err.Error(), "http://"+a+" is damaged") || !strings.Contains(err.Error(), "http://"+b+" is damaged") {
		t.Fatalf("a get from damaged nodes only: %v; want both named", err)
	}

	// Starting, damaged and down together.
	starting, err := Starting("n0", &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { starting.Close(ctx) })
	down := httptest.NewServer(http.NotFoundHandler())
	downAddr := strings.TrimPrefix(down.URL, "http://")
	down.Close()
	c = insecureClient(t, starting.Addr(), a, downAddr)
	_, err = c.PutRoot(ctx, "h", "r", 1)
	if err == nil || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a put to a starting, a damaged and a down node: %v; want a failure, not an unknown outcome", err)
	}
	msg = err.Error()
	for _, want := range []string{"http://" + starting.Addr() + " is starting", `node "n0" is starting`, "http://" + a + " is damaged", "no node answers at http://" + downAddr} {
		if !strings.Contains(msg, want) {
			t.Fatalf("a put to a starting, a damaged and a down node: %q; want it to say %q", msg, want)
		}
	}
}

// A node's state is only said of a request it did nothing of: an error
// that says something was done (a heap created and not opened, an
// outcome unknown) carries no X-Oss-Node-State even when its cause is the
// node's damage, so no client sends that request to another node.
func TestNodeStateOnlyOfRequestsNotDone(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("oss: heap %q: %w; open it with Heap (%w)", "h", oss.ErrCreatedNotOpen, damage),
		&oss.UnknownOutcomeError{Err: damage},
	} {
		rec := httptest.NewRecorder()
		fail(rec, err)
		if s := rec.Header().Get(stateHeader); s != "" {
			t.Errorf("fail(%v): %d, %s %q; want no node state", err, rec.Code, stateHeader, s)
		}
	}
	rec := httptest.NewRecorder()
	fail(rec, damage)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get(stateHeader) != "damaged" {
		t.Fatalf("fail(damage): %d %q; want 503, damaged", rec.Code, rec.Header().Get(stateHeader))
	}
}

// A listener whose interface is not set yet (between listen and Starting
// or Ready) did nothing of a request either: its 503 says the node is
// starting, so the client goes on to the next node.
func TestNotReadyListenerIsPassed(t *testing.T) {
	ctx := context.Background()
	s, err := listen(nil, &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	_, good := healthyNode(t)
	c := insecureClient(t, s.Addr(), good)
	if _, err := c.PutRoot(ctx, "h", "r", 1); err != nil {
		t.Fatalf("put through a list whose first node's interface is not ready: %v", err)
	}
}
