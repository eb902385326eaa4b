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
	"time"

	"github.com/objectsharing/oss/oss"
)

// serveCounted serves h on a loopback listener of its own, counting the
// requests it gets, and returns its address.
func serveCounted(t *testing.T, h http.Handler) (string, *atomic.Int64) {
	t.Helper()
	got := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), got
}

// insecureHandler is the admin interface of n, insecure, for a listener
// on any loopback port.
func insecureHandler(t *testing.T, n *oss.Node) *api {
	t.Helper()
	h, err := NewHandler(n, &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return h.(*api)
}

// A closed node did nothing of a request it refused with oss.ErrClosed
// (a commit it may have carried out is an unknown outcome instead), so
// its 503 says it is closing (X-Oss-Node-State: closing) and the client
// sends reads and writes on to the next node; its lists, no longer kept,
// are refused the same way. Before, its 503 said nothing and every
// command given "--http closed,healthy" failed.
func TestClientGoesPastAClosedNode(t *testing.T) {
	ctx := context.Background()
	closed, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := closed.CreateHeap(ctx, "h", nil); err != nil {
		t.Fatal(err)
	}
	bad, got := serveCounted(t, insecureHandler(t, closed))
	if err := closed.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, good := healthyNode(t)
	c := insecureClient(t, bad, good)

	if err := c.CreateHeap(ctx, "h", 0); err != nil {
		t.Fatalf("create a heap through a list whose first node is closed: %v", err)
	}
	put, err := c.PutRoot(ctx, "h", "r", 1)
	if err != nil {
		t.Fatalf("put through a list whose first node is closed: %v", err)
	}
	if _, err := c.Commit(ctx, "h", &Txn{Writes: []Write{{ID: put.ID, Value: []byte("2")}}}); err != nil {
		t.Fatalf("a transaction through a list whose first node is closed: %v", err)
	}
	if o, err := c.Root(ctx, "h", "r", true); err != nil || o.Value != float64(2) {
		t.Fatalf("get through a list whose first node is closed: %v %v; want 2", o.Value, err)
	}
	if err := c.Grant(ctx, oss.Grant{Who: "alice", Heap: "h", Perm: oss.PermRead}); err != nil {
		t.Fatalf("grant through a list whose first node is closed: %v", err)
	}
	if gs, err := c.Grants(ctx); err != nil || len(gs) != 1 {
		t.Fatalf("grants through a list whose first node is closed: %v %v; want the healthy node's one", gs, err)
	}
	if hs, err := c.Heaps(ctx); err != nil || len(hs) == 0 {
		t.Fatalf("heaps through a list whose first node is closed: %v %v", hs, err)
	}
	if err := c.DropHeap(ctx, "h"); err != nil {
		t.Fatalf("drop a heap through a list whose first node is closed: %v", err)
	}
	if _, err := n.Heap(ctx, "h"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the heap after its drop: %v; want ErrNoHeap", err)
	}
	if k := got.Load(); k != 8 {
		t.Fatalf("the closed node got %d requests; want each of the 8 once", k)
	}

	// Alone, it fails the request as not done, saying why.
	_, err = insecureClient(t, bad).PutRoot(ctx, "h", "r", 3)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !se.closing || !errors.Is(err, oss.ErrClosed) ||
		errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a put to a closed node alone: %v; want a 503 saying closing, matching oss.ErrClosed, not an unknown outcome", err)
	}
	_, err = insecureClient(t, bad, bad).Heaps(ctx)
	if err == nil || !strings.Contains(err.Error(), "http://"+bad+" is closing") || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("heaps of closed nodes only: %v; want each named closing", err)
	}
}

// Only a closed node's refusal of a request it did nothing of says
// "closing": a commit whose outcome the close left unknown stays a 504
// that no client sends on, and a root's PUT that created its heap before
// the close is a 503 without a state, whatever the cause.
func TestClosingOnlyOfRequestsNotDone(t *testing.T) {
	undecided := &oss.UnknownOutcomeError{Err: errors.New("oss: heap closed before the commit was decided")}
	for _, c := range []struct {
		err   error
		code  int
		state string
	}{
		{fmt.Errorf("oss: drop heap %q: %w", "h", oss.ErrClosed), http.StatusServiceUnavailable, "closing"},
		{undecided, http.StatusGatewayTimeout, ""},
		{fmt.Errorf("%w (%w)", oss.ErrClosed, undecided), http.StatusGatewayTimeout, ""},
		{createdThen("h", oss.ErrClosed), http.StatusServiceUnavailable, ""},
		{createdThen("h", damage), http.StatusServiceUnavailable, ""},
		{createdThen("h", undecided), http.StatusGatewayTimeout, ""},
		{createdThen("h", &oss.ConflictError{}), http.StatusConflict, ""},
	} {
		rec := httptest.NewRecorder()
		fail(rec, c.err)
		if rec.Code != c.code || rec.Header().Get(stateHeader) != c.state {
			t.Errorf("fail(%v): %d, %s %q; want %d, %q", c.err, rec.Code, stateHeader, rec.Header().Get(stateHeader), c.code, c.state)
		}
	}

	// A 504 is not sent on: the second node never hears of the write.
	unknown, _ := serveCounted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fail(w, undecided) }))
	n, good := healthyNode(t)
	_, err := insecureClient(t, unknown, good).PutRoot(context.Background(), "h", "r", 1)
	if !errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a put whose outcome the first node's close left unknown: %v; want ErrCommitUnknown", err)
	}
	if _, err := n.Heap(context.Background(), "h"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the second node after a put whose outcome was unknown at the first: %v; want no heap (not sent on)", err)
	}
}

// A write refused for want of room for its body (too many large writes
// in progress) read nothing and did nothing: its 503 says the node is
// busy, and the client sends it on to the next node. Before, the write
// waited for room until its client gave up, which then took it for one
// whose outcome is unknown.
func TestClientGoesPastABusyNode(t *testing.T) {
	ctx := context.Background()
	busyNode, _ := healthyNode(t)
	a := insecureHandler(t, busyNode)
	a.bodyWait = time.Millisecond
	full := bodySlots * a.opts.MaxBodyBytes
	if err := a.bodies.Acquire(ctx, full); err != nil {
		t.Fatal(err)
	}
	busy, got := serveCounted(t, a)
	// Before the server's close, which waits for a write still waiting
	// for room: its request's context does not end with its client, as
	// the body it has not read keeps the connection's end unseen.
	t.Cleanup(func() { a.bodies.Release(full) })
	_, good := healthyNode(t)
	c := insecureClient(t, busy, good)

	put, err := c.PutRoot(ctx, "h", "r", 1)
	if err != nil {
		t.Fatalf("put through a list whose first node is busy: %v", err)
	}
	if _, err := c.Commit(ctx, "h", &Txn{Writes: []Write{{ID: put.ID, Value: []byte("2")}}}); err != nil {
		t.Fatalf("a transaction through a list whose first node is busy: %v", err)
	}
	// Reads take no room: the busy node answers them itself.
	if o, err := insecureClient(t, good).Root(ctx, "h", "r", true); err != nil || o.Value != float64(2) {
		t.Fatalf("the second node's root written past a busy node: %v %v; want 2", o.Value, err)
	}
	if k := got.Load(); k != 2 {
		t.Fatalf("the busy node got %d requests; want 2", k)
	}
	if _, err := busyNode.Heap(ctx, "h"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the busy node's heap: %v; want none (nothing done)", err)
	}

	_, err = insecureClient(t, busy).PutRoot(ctx, "h", "r", 3)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !se.busy || errors.Is(err, oss.ErrCommitUnknown) ||
		errors.Is(err, oss.ErrNoQuorum) || !strings.Contains(err.Error(), "too many large writes") {
		t.Fatalf("a put to a busy node alone: %v; want a 503 saying busy, not an unknown outcome", err)
	}
}
