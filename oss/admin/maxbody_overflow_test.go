package admin_test

import (
	"context"
	"math"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A node run with --http-max-body 9223372036854775807 (no limit, as
// meant) refused every write: the room for bodies read at once, four
// times the cap, overflowed to a negative size that no body fitted, and
// each write waited for it and was refused 503. The cap is taken as the
// most the room can hold four times, and a write goes through.
func TestLargestMaxBodyTakesWrites(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true, MaxBodyBytes: math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(ctx) })
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.PutRoot(ctx, "h", "r", map[string]int{"a": 1}); err != nil {
		t.Fatalf("a write to a node whose body cap is math.MaxInt64: %v", err)
	}
}
