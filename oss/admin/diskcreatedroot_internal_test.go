package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
)

// A root's PUT that created its heap and then had the root refused by
// the node's disk is answered without the sentinel's "nothing was
// committed" (the heap's creation was), saying the heap exists and the
// root was not written; the client's error still matches oss.ErrDisk
// (the root's commit was refused) and TookNothing tells it from a
// refusal of a node that did nothing, which the client sends on. The
// answer said "heap exists now ... root was not written: ... nothing
// was committed", and a caller could not tell the two 507s apart.
func TestRootRefusedAfterItsHeapWasCreatedTookSomething(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	refusal := fmt.Errorf("%w: heap \"h\": the log cannot be written: %w", oss.ErrDisk, syscall.ENOSPC)
	if err := createdThen("h", refusal); !errors.Is(err, oss.ErrDisk) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("createdThen of a disk's refusal: %v; want it to match oss.ErrDisk and the disk's error", err)
	}
	var second atomic.Int32
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "created") {
			fail(w, createdThen("h", refusal))
			return
		}
		fail(w, refusal)
	}))
	defer first.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		second.Add(1)
		w.Write([]byte("{}"))
	}))
	defer other.Close()
	c := insecureClient(t, strings.TrimPrefix(first.URL, "http://"), strings.TrimPrefix(other.URL, "http://"))
	ctx := context.Background()

	_, err := c.send(ctx, "PUT", "/created", []byte("{}"))
	msg := err.Error()
	if !errors.Is(err, oss.ErrDisk) || TookNothing(err) || second.Load() != 0 {
		t.Fatalf("a 507 after the heap's creation: %v (sent on %d times); want oss.ErrDisk, TookNothing false, not sent on", err, second.Load())
	}
	if strings.Contains(msg, "nothing was committed") || !strings.Contains(msg, `heap "h" exists now`) ||
		!strings.Contains(msg, "the root was not written") || !strings.Contains(msg, "no space left") {
		t.Fatalf("a 507 after the heap's creation says:\n%s\nwant that the heap exists and the root was not written, with the disk's error, not that nothing was committed", msg)
	}

	_, err = c.send(ctx, "PUT", "/refused", []byte("{}"))
	if err != nil || second.Load() != 1 {
		t.Fatalf("a 507 disk-refused: %v (sent on %d times); want it sent on to the next node, which took it", err, second.Load())
	}
	only := insecureClient(t, strings.TrimPrefix(first.URL, "http://"))
	for what, e := range map[string]error{"one node": errOf(only.send(ctx, "PUT", "/refused", []byte("{}"))),
		"two nodes": errOf(insecureClient(t, strings.TrimPrefix(first.URL, "http://"), strings.TrimPrefix(first.URL, "http://")).send(ctx, "PUT", "/refused", []byte("{}")))} {
		if !errors.Is(e, oss.ErrDisk) || !TookNothing(e) || !strings.Contains(e.Error(), "nothing was committed") {
			t.Fatalf("a 507 disk-refused of %s: %v; want oss.ErrDisk, TookNothing true", what, e)
		}
	}
	if TookNothing(nil) {
		t.Fatal("TookNothing(nil) is true")
	}
}

// errOf is the error of a call's two results.
func errOf(_ []byte, err error) error { return err }
