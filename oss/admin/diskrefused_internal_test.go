package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/persist"
)

// diskFullNode is a node on an in-memory disk that refuses nothing until
// refuse is called, then every write of its logs (ENOSPC), with its admin
// interface.
func diskFullNode(t *testing.T) (addr string, refuse func()) {
	t.Helper()
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	n, err := oss.Start(context.Background(), &oss.Config{Name: "full", DataDir: "/data", FS: ffs, TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ffs.SetRule(nil)
		n.Close(context.Background())
	})
	srv, err := NewServer(n, &Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return srv.Addr(), func() {
		ffs.SetRule(func(op persist.Op, name string) error {
			if op == persist.OpWrite && strings.HasSuffix(name, ".wal") {
				return syscall.ENOSPC
			}
			return nil
		})
	}
}

// definite sends write until it fails other than with an unknown outcome
// (a record proposed before the disk refused may be in the log), and
// returns that error.
func definite(t *testing.T, what string, write func() error) error {
	t.Helper()
	for range 50 {
		err := write()
		if err == nil {
			t.Fatalf("%s succeeded while the node's disk refuses its log's writes", what)
		}
		if !errors.Is(err, oss.ErrCommitUnknown) {
			return err
		}
	}
	t.Fatalf("%s: 50 unknown outcomes while the disk refuses, no definite refusal", what)
	return nil
}

// A write the node's disk refused, nothing committed (oss.ErrDisk), is
// answered 507 with the state disk-refused, which the client maps back to
// oss.ErrDisk, never to an unknown outcome, and sends on to the next node
// of its list, whose disk is its own: the interface answered 500, which
// matched no sentinel, and a client given "--http full,healthy" failed.
func TestDiskRefusalIs507AndErrDisk(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	full, refuse := diskFullNode(t)
	c := insecureClient(t, full)
	put, err := c.PutRoot(ctx, "h", "r", 1)
	if err != nil {
		t.Fatal(err)
	}
	refuse()
	for _, w := range []struct {
		what  string
		write func() error
	}{
		{"a root's PUT", func() error { _, err := c.PutRoot(ctx, "h", "r", 2); return err }},
		{"a transaction", func() error {
			_, err := c.Commit(ctx, "h", &Txn{Writes: []Write{{ID: put.ID, Value: []byte("3")}}})
			return err
		}},
	} {
		err := definite(t, w.what, w.write)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusInsufficientStorage || !errors.Is(err, oss.ErrDisk) || errors.Is(err, oss.ErrNoQuorum) {
			t.Fatalf("%s on a full disk: %v (%#v); want a 507 matching oss.ErrDisk alone", w.what, err, se)
		}
		if !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), ".wal") {
			t.Fatalf("%s on a full disk: %v; want the disk's error and the log's file", w.what, err)
		}
	}

	// The next node of the list takes the write.
	_, good := healthyNode(t)
	both := insecureClient(t, full, good)
	if _, err := both.PutRoot(ctx, "h", "r", 4); err != nil {
		t.Fatalf("a put through --http full,healthy: %v; want the healthy node to take it", err)
	}
	if o, err := insecureClient(t, good).Root(ctx, "h", "r", true); err != nil || o.Value != float64(4) {
		t.Fatalf("the root on the healthy node: %v %v; want 4", o.Value, err)
	}
	// Every node refusing: nothing was done, and the error says ErrDisk.
	_, err = insecureClient(t, full, full).PutRoot(ctx, "h", "r", 5)
	if !errors.Is(err, oss.ErrDisk) || errors.Is(err, oss.ErrCommitUnknown) || !strings.Contains(err.Error(), "disk-refused") {
		t.Fatalf("a put to two refusing nodes: %v; want ErrDisk naming each", err)
	}
}

// A root's PUT that created its heap and then had its disk refuse the
// root did something: its 507 still matches oss.ErrDisk (the root was not
// written) but carries no state, so no client sends it on.
func TestDiskRefusalAfterACreateIsNotSentOn(t *testing.T) {
	rec := httptest.NewRecorder()
	fail(rec, createdThen("h", fmt.Errorf("%w: heap \"h\": the log cannot be written: %w", oss.ErrDisk, syscall.ENOSPC)))
	if rec.Code != http.StatusInsufficientStorage || rec.Header().Get(stateHeader) != "" {
		t.Fatalf("a disk's refusal after the heap's creation: %d, state %q; want 507 with no state", rec.Code, rec.Header().Get(stateHeader))
	}
	rec = httptest.NewRecorder()
	fail(rec, fmt.Errorf("%w: heap \"h\": the log cannot be written: %w", oss.ErrDisk, syscall.ENOSPC))
	if rec.Code != http.StatusInsufficientStorage || rec.Header().Get(stateHeader) != "disk-refused" {
		t.Fatalf("a disk's refusal: %d, state %q; want 507, disk-refused", rec.Code, rec.Header().Get(stateHeader))
	}
	se := &StatusError{Code: http.StatusInsufficientStorage}
	if !errors.Is(se, oss.ErrDisk) || tookNothing(se) {
		t.Fatal("a 507 without state: want oss.ErrDisk, not sent on")
	}
}
