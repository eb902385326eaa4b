package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/objectsharing/oss/oss"
)

// "ossd put" whose node created the heap and then had its disk refuse
// the root (a 507 without the disk-refused state: not sent on) says that
// the heap exists and the root was not written, and notes the heap as
// one put created: it said "nothing was committed" and that the CLI goes
// on to the next node, which it did not, and left the note out.
func TestPutWhoseRootTheDiskRefusedAfterCreatingTheHeapSaysSo(t *testing.T) {
	var puts atomic.Int32
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			w.Write([]byte("[]")) // no heap yet
			return
		}
		w.WriteHeader(http.StatusInsufficientStorage) // createdThen's: no X-Oss-Node-State
		w.Write([]byte(`{"error":"heap \"h\" exists now (created for the root, by this request or meanwhile by another), and the root was not written: the node's disk refused its write: heap \"h\": the log cannot be written: no space left on device"}`))
	}))
	defer first.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			puts.Add(1)
		}
		w.Write([]byte(`{}`))
	}))
	defer other.Close()
	addrs := strings.TrimPrefix(first.URL, "http://") + "," + strings.TrimPrefix(other.URL, "http://")
	var out, notes strings.Builder
	err := putTo(strings.NewReader(""), &out, &notes, []string{"h", "r", "1", "--http", addrs, "--http-insecure"})
	if err == nil || puts.Load() != 0 {
		t.Fatalf("put, the first node's disk refusing the root after it created the heap: %v, %d puts to the second node; want the refusal, not sent on", err, puts.Load())
	}
	msg := err.Error()
	if !errors.Is(err, oss.ErrDisk) || strings.Contains(msg, "nothing was committed") || strings.Contains(msg, "next node") ||
		!strings.Contains(msg, "\nthe heap exists and the root was not written") || !strings.Contains(msg, "put again") {
		t.Fatalf("put, the disk refusing the root after the heap was created, said:\n%s\nwant oss.ErrDisk, that the heap exists and the root was not written, put again; not that nothing was committed or it went on", msg)
	}
	if !strings.Contains(notes.String(), `heap "h" did not exist when put began and exists now`) {
		t.Fatalf("put's notes: %q; want that heap h exists now", notes.String())
	}
}
