package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// TestPutSaysItsHeapWasCreatedAndNotOpened: a put whose node created the
// heap and could not open it answers a 503 saying so (X-Oss-Heap-Created),
// which the client's error matches as oss.ErrCreatedNotOpen, no longer as
// oss.ErrNoQuorum: put passed on the node's text alone ("open it with
// Heap", a call of the Go API), with nothing saying that the heap exists,
// the root was not written, and that putting again opens the heap.
func TestPutSaysItsHeapWasCreatedAndNotOpened(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			w.Write([]byte("[]")) // the list of heaps: h is not there yet
			return
		}
		w.Header().Set("X-Oss-Heap-Created", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"error": `oss: heap "h": oss: heap created, not open on this node; open it with Heap (context deadline exceeded)`})
	}))
	defer srv.Close()
	var out, notes bytes.Buffer
	err := putTo(strings.NewReader(""), &out, &notes, []string{"--http", strings.TrimPrefix(srv.URL, "http://"), "--http-insecure", "h", "r", "1"})
	if !errors.Is(err, oss.ErrCreatedNotOpen) {
		t.Fatalf("put: %v; want ErrCreatedNotOpen", err)
	}
	for _, w := range []string{"the heap exists now", "the root was not written", "put again"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("put: %v\nwant %q", err, w)
		}
	}
}
