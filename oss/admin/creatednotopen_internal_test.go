package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestCreatedNotOpenIsNoQuorumlessRefusal: a root's PUT whose heap this
// request created and could not open was a bare 503, which the client
// read as oss.ErrNoQuorum ("nothing committed", safe to send on), though
// the heap now exists. It carries createdHeader, and the client's error
// matches oss.ErrCreatedNotOpen, not ErrNoQuorum, and is not sent on; a
// bare 503 still means no quorum.
func TestCreatedNotOpenIsNoQuorumlessRefusal(t *testing.T) {
	rec := httptest.NewRecorder()
	fail(rec, fmt.Errorf("oss: heap %q: %w; open it with Heap (%w)", "h", oss.ErrCreatedNotOpen, oss.ErrNoQuorum))
	resp := rec.Result()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get(createdHeader) == "" || resp.Header.Get(stateHeader) != "" {
		t.Fatalf("a heap created, not open: %d, %s %q, %s %q; want a 503 saying created and no node state", resp.StatusCode, createdHeader, resp.Header.Get(createdHeader), stateHeader, resp.Header.Get(stateHeader))
	}
	se := statusError(resp, rec.Body.Bytes(), nil, http.MethodPut, "/v1/heaps/h/roots/r", "https://n1")
	if !errors.Is(se, oss.ErrCreatedNotOpen) || errors.Is(se, oss.ErrNoQuorum) || tookNothing(se) {
		t.Fatalf("client's error of it: %v (ErrCreatedNotOpen %v, ErrNoQuorum %v, took nothing %v); want created, not no quorum, not sent on",
			se, errors.Is(se, oss.ErrCreatedNotOpen), errors.Is(se, oss.ErrNoQuorum), tookNothing(se))
	}

	rec = httptest.NewRecorder()
	fail(rec, fmt.Errorf("oss: heap %q: %w", "h", oss.ErrNoQuorum))
	resp = rec.Result()
	se = statusError(resp, rec.Body.Bytes(), nil, http.MethodPut, "/v1/heaps/h/roots/r", "https://n1")
	if resp.Header.Get(createdHeader) != "" || !errors.Is(se, oss.ErrNoQuorum) || errors.Is(se, oss.ErrCreatedNotOpen) {
		t.Fatalf("a bare no quorum: %v, %s %q", se, createdHeader, resp.Header.Get(createdHeader))
	}
}
