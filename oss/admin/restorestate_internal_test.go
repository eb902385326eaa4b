package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// A restore that failed on a node closing, damaged or refused by its
// disk may have created its heap first (and left it, when its drop
// failed too): its answer keeps the cause's status but not the state
// that says the node did nothing, so the client does not send the
// backup on to the next node, which answered that the heap exists while
// the first node's message (the heap left, how to drop it) was lost.
func TestRestoreFailureIsNotTakenForNothingDone(t *testing.T) {
	for _, cause := range []error{
		fmt.Errorf("oss: restore of heap \"h\": commit 1 of the restore: %w; dropping the heap it created failed too (%w): drop it by hand", oss.ErrClosed, oss.ErrClosed),
		fmt.Errorf("oss: restore of heap \"h\": %w", oss.ErrCorrupt),
		fmt.Errorf("oss: restore of heap \"h\": %w", oss.ErrDisk),
		fmt.Errorf("oss: restore of heap \"h\": %w", context.Canceled),
	} {
		w := httptest.NewRecorder()
		fail(w, restoreFailed(cause))
		resp := w.Result()
		se := statusError(resp, w.Body.Bytes(), nil, http.MethodPost, "/v1/heaps/h/restore", "https://n1")
		if TookNothing(se) {
			t.Errorf("%v: answered %d with state %q, which the client takes for a node that did nothing", cause, resp.StatusCode, resp.Header.Get(stateHeader))
		}
		if resp.StatusCode < 500 {
			t.Errorf("%v: answered %d; want the cause's 5xx", cause, resp.StatusCode)
		}
	}
}
