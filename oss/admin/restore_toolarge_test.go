package admin_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A restore over HTTP of a sound backup whose object is too large for
// the node's commits is an error matching oss.ErrTooLarge, not
// oss.ErrBadBackup, and creates nothing.
func TestRestoreTooLargeOverHTTP(t *testing.T) {
	ctx := context.Background()
	big := startNode(t)
	h, err := big.CreateHeap(ctx, "wide", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(ctx, func(tx *oss.Tx) error {
		return oss.Put(tx, uuid.New(), strings.Repeat("w", 100<<10))
	}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := h.Backup(ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	small, err := oss.Start(ctx, &oss.Config{MaxCommitBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { small.Close(context.Background()) })
	srv := serve(t, small, &admin.Options{Insecure: true, Addr: "127.0.0.1:0"})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_, err = c.Restore(ctx, "wide", bytes.NewReader(buf.Bytes()), 0)
	if !errors.Is(err, oss.ErrTooLarge) || errors.Is(err, oss.ErrBadBackup) {
		t.Errorf("restore of an object over the node's commit limit: %v; want ErrTooLarge, not ErrBadBackup", err)
	}
	if _, err := small.Heap(ctx, "wide"); !errors.Is(err, oss.ErrNoHeap) {
		t.Errorf("heap wide after a refused restore: %v; want ErrNoHeap", err)
	}
}
