package admin_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
)

// A node that takes the TCP connection and never finishes the TLS
// handshake (a stopped process: the kernel accepts for it), or cuts it
// during the handshake, was sent no request: a write goes on to the next
// node of the list. "ossd put --http A,B" with A stopped said "its outcome
// is unknown" after the handshake timed out, and B was never tried.
func TestWriteGoesOnPastANodeThatNeverFinishesTheHandshake(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx := context.Background()
	p := newPKI(t)
	n := startNode(t)
	srv := serve(t, n, p.serverOptions(t))
	for _, c := range []struct {
		name string
		cut  bool
	}{{"stalled", false}, {"cut", true}} {
		t.Run(c.name, func(t *testing.T) {
			first := handshakeNeverDone(t, c.cut)
			cl, err := admin.NewClient(first+","+srv.Addr(), &admin.ClientOptions{CertDir: p.dir, Name: "admin", Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			root := "r-" + c.name
			if _, err := cl.PutRoot(ctx, "h", root, 1); err != nil {
				t.Fatalf("a put whose first node never finished the handshake: %v, want it written by the next", err)
			}
			o, err := cl.Root(ctx, "h", root, true)
			if err != nil || o.Value != float64(1) {
				t.Fatalf("the put's root on the next node: %v %v", o.Value, err)
			}
			// Alone in the list, the node took nothing: not an unknown
			// outcome.
			alone, err := admin.NewClient(first, &admin.ClientOptions{CertDir: p.dir, Name: "admin", Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer alone.Close()
			err = alone.Do(ctx, "PUT", "/v1/heaps/h/roots/"+root, 2, nil)
			if err == nil || errors.Is(err, oss.ErrCommitUnknown) {
				t.Fatalf("a put to a node that never finished the handshake: %v, want no unknown outcome", err)
			}
		})
	}
}

// handshakeNeverDone listens on loopback and reads what each connection
// sends (the client's hello) without answering; if cut, it then closes
// the connection. It stops at the end of the test.
func handshakeNeverDone(t *testing.T, cut bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				if cut {
					c.Read(make([]byte, 512))
					c.Close()
					return
				}
				io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
