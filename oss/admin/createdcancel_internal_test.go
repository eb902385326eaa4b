package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A root's PUT that created its heap and then wrote no root because its
// request's context was cancelled (the server closing: Server.Close ends
// the contexts of the requests in flight) did something: its 503 carries
// no node state, as for a close or a damage then, so no client sends it on
// and takes it for a request the node did nothing of. Before, the cause
// context.Canceled made it a 503 "closing", which the client takes for
// oss.ErrClosed, "nothing was committed", and sends to the next node.
func TestRootPutThatCreatedItsHeapThenCancelledSaysNoState(t *testing.T) {
	for _, cause := range []error{
		context.Canceled,
		fmt.Errorf("%w: %w", oss.ErrNoQuorum, context.Canceled), // Update's, when its commit was never proposed
	} {
		err := createdThen("h", cause)
		rec := httptest.NewRecorder()
		fail(rec, err)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get(stateHeader) != "" {
			t.Errorf("fail(createdThen(%v)): %d, %s %q; want 503 and no node state", cause, rec.Code, stateHeader, rec.Header().Get(stateHeader))
		}
	}

	// The client does not send such a PUT on: the second node never
	// hears of it, and the error does not say the node was closing.
	created, got := serveCounted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, createdThen("h", context.Canceled))
	}))
	n, good := healthyNode(t)
	_, err := insecureClient(t, created, good).PutRoot(context.Background(), "h", "r", 1)
	if err == nil || errors.Is(err, oss.ErrClosed) || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a put whose first node created the heap and then was cancelled: %v; want the node's 503, not closing", err)
	}
	if got.Load() != 1 {
		t.Fatalf("the first node got %d requests; want 1", got.Load())
	}
	if _, err := n.Heap(context.Background(), "h"); !errors.Is(err, oss.ErrNoHeap) {
		t.Fatalf("the second node after a put the first had begun: %v; want no heap (not sent on)", err)
	}
}
