package oss_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/pki"
	"github.com/objectsharing/oss/persist"
)

// The error contract of the public API, as a user relies on it: every
// error a call returns matches the sentinel README's "Errors" documents
// for it, and no sentinel that contradicts it (a definite failure never
// matches ErrCommitUnknown; an unknown outcome never ErrNoQuorum,
// ErrClosed or ErrDisk, which say nothing was committed).

// wrongFor are the sentinels an error matching want must not match.
func wrongFor(want error) []error {
	all := []error{oss.ErrConflict, oss.ErrNotFound, oss.ErrTxDone, oss.ErrClosed, oss.ErrReadOnly,
		oss.ErrNoQuorum, oss.ErrNoHeap, oss.ErrHeapExists, oss.ErrCreatedNotOpen, oss.ErrCommitUnknown,
		oss.ErrDisk, oss.ErrInvalidArgument, oss.ErrInvalidHeapName, oss.ErrTooLarge, oss.ErrPermission}
	return slices.DeleteFunc(all, func(e error) bool { return e == want })
}

// checkSentinel fails t unless err matches want and no other sentinel.
func checkSentinel(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: %v; want an error matching %v", what, err, want)
		return
	}
	for _, w := range wrongFor(want) {
		if errors.Is(err, w) {
			t.Errorf("%s: %v matches %v as well as %v", what, err, w, want)
		}
	}
}

// Errors a lone node's calls return, each provoked once.
func TestAPIErrorsMatchTheirSentinels(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n, err := oss.Start(ctx, &oss.Config{Name: "solo", DataDir: t.TempDir(), MaxCommitBytes: 1 << 16, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h := openBank(t, n)
	id := uuid.New()
	if err := put(h, id, 1); err != nil {
		t.Fatal(err)
	}
	done, err := h.Begin(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	done.Rollback()
	for _, c := range []struct {
		what string
		want error
		call func() error
	}{
		{"Heap of a heap that does not exist", oss.ErrNoHeap, func() error { _, err := n.Heap(ctx, "none"); return err }},
		{"DropHeap of a heap that does not exist", oss.ErrNoHeap, func() error { return n.DropHeap(ctx, "none") }},
		{"CreateHeap of a heap that exists", oss.ErrHeapExists, func() error { _, err := n.CreateHeap(ctx, "bank", nil); return err }},
		{"CreateHeap of an invalid name", oss.ErrInvalidHeapName, func() error { _, err := n.CreateHeap(ctx, "oss:x", nil); return err }},
		{"Update of a nil function", oss.ErrInvalidArgument, func() error { return h.Update(ctx, nil) }},
		{"Put of the nil ID", oss.ErrInvalidArgument, func() error { return put(h, uuid.Nil, 1) }},
		{"Get of an object that does not exist", oss.ErrNotFound, func() error {
			return h.View(ctx, func(tx *oss.Tx) error { _, err := oss.Get[acct](tx, uuid.New()); return err }, nil)
		}},
		{"Put in a View", oss.ErrReadOnly, func() error {
			return h.View(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, acct{2}) }, nil)
		}},
		{"Commit of a transaction rolled back", oss.ErrTxDone, func() error { return done.Commit() }},
		{"a commit record over MaxCommitBytes", oss.ErrTooLarge, func() error {
			return h.Update(ctx, func(tx *oss.Tx) error { return oss.Put(tx, id, make([]byte, 1<<17)) })
		}},
	} {
		checkSentinel(t, c.what, c.call(), c.want)
	}
	if err := n.DropHeap(ctx, "bank"); err != nil {
		t.Fatal(err)
	}
	checkSentinel(t, "Update on a handle of a dropped heap", put(h, id, 3), oss.ErrClosed)
	h2, err := n.CreateHeap(ctx, "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	checkSentinel(t, "Update after the node closed", put(h2, id, 4), oss.ErrClosed)
	checkSentinel(t, "View after the node closed", h2.View(ctx, func(*oss.Tx) error { return nil }, nil), oss.ErrClosed)
	checkSentinel(t, "Heap after the node closed", func() error { _, err := n.Heap(ctx, "other"); return err }(), oss.ErrClosed)
}

// A commit that fails because the node's disk refuses its log's writes
// (full, an I/O error, a sync that fails) matches ErrDisk when nothing
// was committed, ErrCommitUnknown when its record had been proposed, and
// never both; each matches the disk's error and names the log. It matched
// no documented sentinel: "oss: heap "bank": the log cannot be written:
// ...", so a caller could not tell whether anything committed.
func TestDiskRefusalMatchesErrDisk(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ffs := &persist.FaultFS{FS: persist.NewMemFS()}
	n := startOn(t, ffs, 0)
	h := openBank(t, n)
	id := uuid.New()
	if err := put(h, id, 1); err != nil {
		t.Fatal(err)
	}
	for _, fault := range []struct {
		err error
		ops []persist.Op
	}{
		{syscall.ENOSPC, []persist.Op{persist.OpWrite}},
		{syscall.EIO, []persist.Op{persist.OpWrite, persist.OpSync}},
	} {
		ffs.SetRule(func(op persist.Op, name string) error {
			if slices.Contains(fault.ops, op) && strings.HasSuffix(name, ".wal") {
				return fault.err
			}
			return nil
		})
		definite := 0
		for range 4 {
			err := put(h, id, 666)
			if errors.Is(err, oss.ErrCommitUnknown) {
				checkSentinel(t, "a commit proposed before the disk refused", err, oss.ErrCommitUnknown)
			} else {
				checkSentinel(t, "a commit while the disk refuses", err, oss.ErrDisk)
				definite++
			}
			if !errors.Is(err, fault.err) || !strings.Contains(err.Error(), ".wal") {
				t.Errorf("a commit while the disk fails with %v: %v; want the disk's error and the log's file", fault.err, err)
			}
		}
		if definite == 0 {
			t.Errorf("no commit failed definitely (ErrDisk) while the disk failed with %v", fault.err)
		}
		ffs.SetRule(nil)
		waitUntil(t, "commits to work again", func() bool { return put(h, id, 2) == nil })
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// Start refuses a Config whose Role is not the role of the node's own
// certificate, with an error matching ErrInvalidArgument, as it refuses
// any Config; it matched no sentinel.
func TestStartRefusesAMismatchedRoleAsInvalid(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	caCert, caKey, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueCert(caCert, caKey, "cl", pki.RoleClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		tls  *oss.TLSConfig
	}{
		{"a client's certificate given to a server", &oss.TLSConfig{CertPEM: cert, KeyPEM: key, CAPEM: caCert}},
		{"no certificate in TLS.CertPEM", &oss.TLSConfig{CertPEM: []byte("none"), KeyPEM: key, CAPEM: caCert}},
	} {
		n, err := oss.Start(context.Background(), &oss.Config{Name: "cl", Role: pki.RoleServer, Listen: "127.0.0.1:0", TLS: c.tls, Logger: quietLogger()})
		if err == nil {
			n.Close(context.Background())
		}
		checkSentinel(t, c.what, err, oss.ErrInvalidArgument)
	}
}
