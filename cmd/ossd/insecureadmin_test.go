package main

import (
	"context"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// insecureAdmin starts a lone in-memory node and an admin server on it
// that takes plain HTTP, both closed at the test's end, and returns the
// node and the CLI flags that reach the server.
func insecureAdmin(t *testing.T) (*oss.Node, []string) {
	t.Helper()
	ctx := context.Background()
	n, err := oss.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	srv, err := admin.NewServer(n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(ctx) })
	return n, []string{"--http", srv.Addr(), "--http-insecure"}
}
