package admin_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// "--http A,B,C" with A down failed to parse ("invalid port") in every
// command but "debug bundle". A client of a list now sends each request
// to the first node it reaches, and moves on only when the request
// reached no node, so a write that may have run on one is never sent to
// another.
func TestClientTriesTheNextNode(t *testing.T) {
	ctx := context.Background()
	n := startNode(t)
	srv := serve(t, n, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	down := closedAddr(t)

	c, err := admin.NewClient(down+","+srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.PutRoot(ctx, "h", "r", 1); err != nil {
		t.Fatalf("put through a list whose first node is down: %v", err)
	}
	o, err := c.Root(ctx, "h", "r", true)
	if err != nil || o.Value != float64(1) {
		t.Fatalf("get through the list: %v %v", o.Value, err)
	}

	// A node that is starting handled nothing: the request goes on.
	starting, err := admin.Starting("n0", &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { starting.Close(ctx) })
	cs, err := admin.NewClient(starting.Addr()+","+srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cs.Close)
	if _, err := cs.PutRoot(ctx, "h", "r", 1); err != nil {
		t.Fatalf("put through a list whose first node is starting: %v", err)
	}

	// Every node down: the error names them all, and is no unknown
	// outcome.
	all, err := admin.NewClient(down+","+closedAddr(t), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(all.Close)
	err = all.Do(ctx, "PUT", "/v1/heaps/h/roots/r", 2, nil)
	if err == nil || errors.Is(err, oss.ErrCommitUnknown) || !strings.Contains(err.Error(), down) || !strings.Contains(err.Error(), "no node answers") {
		t.Fatalf("every node down: %v", err)
	}

	// A node that read the write and cut the connection may have carried
	// it out: the write is not sent on.
	var cut sync.WaitGroup
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cut.Add(1)
	go func() {
		defer cut.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		if req, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
			req.Body.Close()
		}
		conn.Close()
	}()
	t.Cleanup(func() { ln.Close(); cut.Wait() })
	c2, err := admin.NewClient(ln.Addr().String()+","+srv.Addr(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Close)
	if _, err := c2.PutRoot(ctx, "other", "r", 3); !errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a write cut after it was read: %v, want ErrCommitUnknown", err)
	}
	for _, h := range n.Heaps() {
		if h.Name == "other" {
			t.Fatal("a write whose outcome was unknown at the first node was sent to the next")
		}
	}

	for _, bad := range []string{srv.Addr() + ",," + down, "127.0.0.1", ""} {
		if _, err := admin.NewClient(bad, &admin.ClientOptions{Insecure: true}); err == nil {
			t.Fatalf("the address %q was taken: an address without a port goes to 443", bad)
		}
	}
}

// closedAddr is a loopback address where nothing listens, held so until
// the test ends (admin.ClosedAddr).
func closedAddr(t *testing.T) string {
	t.Helper()
	return admin.ClosedAddr(t)
}
