package admin_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A write whose connection is cut after the node read it may have been
// carried out: the client says its outcome is unknown (ErrCommitUnknown),
// never that no node answers. A read cut the same way, and a write that
// never reached a node, are not unknown outcomes.
func TestClientWriteCutAfterSendingIsUnknown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the whole request, as a node that carries it out
			// would, then cut the connection without an answer.
			if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				req.Body.Close()
			}
			c.Close()
		}
	}()
	cl, err := admin.NewClient(ln.Addr().String(), &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = cl.Do(ctx, "PUT", "/v1/heaps/h/roots/r", map[string]int{"v": 1}, nil)
	if !errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a PUT cut after it was read: %v, want ErrCommitUnknown", err)
	}
	if _, err := cl.Fetch(ctx, "/v1/status"); err == nil || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a GET cut after it was read: %v, want an error that is not ErrCommitUnknown", err)
	}

	// Nothing listens at a closed listener's address: the PUT was never
	// sent.
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := gone.Addr().String()
	gone.Close()
	cl2, err := admin.NewClient(addr, &admin.ClientOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	err = cl2.Do(ctx, "PUT", "/v1/heaps/h/roots/r", map[string]int{"v": 1}, nil)
	if err == nil || errors.Is(err, oss.ErrCommitUnknown) {
		t.Fatalf("a PUT to an address where nothing listens: %v, want an error that is not ErrCommitUnknown", err)
	}
}
