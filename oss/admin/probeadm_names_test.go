package admin_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// Heaps and roots named "." and ".." are valid names that the interface
// serves when their path escapes them, but the client sent them plainly,
// and a path of /v1/heaps/.. is cleaned before it is routed: "ossd heaps
// create .." answered "404 Not Found", and a heap of that name made by the
// library, or by curl with %2E%2E, could not be read, written or dropped
// from the CLI. Names with a slash, '?', '#' or '%' went through already.
func TestDotNamesReachable(t *testing.T) {
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	for _, name := range []string{".", "..", "a/..", "../a", "q?x#y%41"} {
		if err := c.CreateHeap(ctx, name, 0); err != nil {
			t.Fatalf("create heap %q: %v", name, err)
		}
		for _, root := range []string{".", "..", "r"} {
			if _, err := c.PutRoot(ctx, name, root, map[string]any{"heap": name, "root": root}); err != nil {
				t.Fatalf("put %q %q: %v", name, root, err)
			}
			o, err := c.Root(ctx, name, root, true)
			if err != nil {
				t.Fatalf("get %q %q: %v", name, root, err)
			}
			if v, _ := o.Value.(map[string]any); v["heap"] != name || v["root"] != root {
				t.Fatalf("get %q %q: %v", name, root, o.Value)
			}
		}
		if _, err := c.Digest(ctx, name); err != nil {
			t.Fatalf("digest of %q: %v", name, err)
		}
		if _, err := c.Hot(ctx, name); err != nil {
			t.Fatalf("hot of %q: %v", name, err)
		}
		if err := c.DropHeap(ctx, name); err != nil {
			t.Fatalf("drop heap %q: %v", name, err)
		}
	}
	if hs := n.Heaps(); len(hs) != 0 {
		t.Fatalf("heaps left: %v", hs)
	}
}

// A heap named "*" or "game*" could be created, and then no grant could
// name it alone: "ossd acl grant --heap '*'" grants every heap, and
// "--heap 'game*'" every heap whose name begins with "game". A new
// heap's name may not end in "*"; one with a "*" elsewhere is a name
// like any other.
func TestHeapNameEndingInStarRefused(t *testing.T) {
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	for _, name := range []string{"*", "game*", "a**"} {
		err := c.CreateHeap(ctx, name, 0)
		if se, ok := err.(*admin.StatusError); !ok || se.Code != http.StatusBadRequest {
			t.Errorf("create heap %q: %v, want a 400", name, err)
		}
		_, err = c.PutRoot(ctx, name, "r", 1)
		if se, ok := err.(*admin.StatusError); !ok || se.Code != http.StatusBadRequest {
			t.Errorf("put a root of a new heap %q: %v, want a 400", name, err)
		}
		if _, err := n.CreateHeapIfNotExists(ctx, name, nil); !errors.Is(err, oss.ErrInvalidHeapName) {
			t.Errorf("CreateHeapIfNotExists(%q): %v, want ErrInvalidHeapName", name, err)
		}
	}
	if hs := n.Heaps(); len(hs) != 0 {
		t.Fatalf("heaps created: %v", hs)
	}
	if err := c.CreateHeap(ctx, "a*b", 0); err != nil {
		t.Fatalf("create heap \"a*b\": %v", err)
	}
}
