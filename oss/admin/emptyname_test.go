package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// An empty heap or root name is refused by the client as invalid, before
// anything is sent. Sent, its path lost the segment and named another
// endpoint or none: "ossd put h ” 1" answered that heap h "existed when
// put began and was dropped since" (the 404 of /v1/heaps/h/roots/ read as
// a missing heap), "ossd heaps create ”" answered "404 Not Found" and
// "ossd hot ”" "405 Method Not Allowed".
func TestEmptyNamesRefusedAsInvalid(t *testing.T) {
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	if err := c.CreateHeap(ctx, "h", 0); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	heapCalls := map[string]func() error{
		"Root":              func() error { _, err := c.Root(ctx, "", "r", false); return err },
		"Object":            func() error { _, err := c.Object(ctx, "", id, true); return err },
		"PutRoot":           func() error { _, err := c.PutRoot(ctx, "", "r", 1); return err },
		"PutRootInExisting": func() error { _, err := c.PutRootInExisting(ctx, "", "r", 1); return err },
		"Commit":            func() error { _, err := c.Commit(ctx, "", &admin.Txn{}); return err },
		"Digest":            func() error { _, err := c.Digest(ctx, ""); return err },
		"CreateHeap":        func() error { return c.CreateHeap(ctx, "", 0) },
		"DropHeap":          func() error { return c.DropHeap(ctx, "") },
		"Hot":               func() error { _, err := c.Hot(ctx, ""); return err },
	}
	for name, call := range heapCalls {
		if err := call(); !errors.Is(err, oss.ErrInvalidHeapName) || errors.Is(err, oss.ErrNoHeap) {
			t.Errorf("%s of heap \"\": %v; want an error matching ErrInvalidHeapName", name, err)
		}
	}
	rootCalls := map[string]func() error{
		"Root":              func() error { _, err := c.Root(ctx, "h", "", true); return err },
		"PutRoot":           func() error { _, err := c.PutRoot(ctx, "h", "", 1); return err },
		"PutRootInExisting": func() error { _, err := c.PutRootInExisting(ctx, "h", "", 1); return err },
		"PutRoot, new heap": func() error { _, err := c.PutRoot(ctx, "new", "", 1); return err },
	}
	for name, call := range rootCalls {
		if err := call(); !errors.Is(err, oss.ErrInvalidArgument) || errors.Is(err, oss.ErrNoHeap) {
			t.Errorf("%s of root \"\": %v; want an error matching ErrInvalidArgument", name, err)
		}
	}
	hs := n.Heaps()
	if len(hs) != 1 || hs[0].Name != "h" {
		t.Errorf("heaps after the refused calls: %v; want h alone", hs)
	}
}
