package admin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
)

// "ossd put --http A,B" with A's process stopped (its kernel takes the
// connection, the TLS handshake never ends) waited out a 10 s handshake
// timeout before it tried B. The client gives up a handshake after
// ClientOptions.HandshakeTimeout, 3 s unless set, well inside a request's
// own bound: a write goes on to the next node, and a stalled node is
// asked once.
func TestStalledHandshakeIsGivenUpForTheNextNode(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	var puts atomic.Int32
	next := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		w.Write([]byte(`{}`))
	}))
	defer next.Close()
	tlsConf := next.Client().Transport.(*http.Transport).TLSClientConfig
	nextAddr := strings.TrimPrefix(next.URL, "https://")
	for _, c := range []struct {
		name string
		set  time.Duration // ClientOptions.HandshakeTimeout
		want time.Duration
	}{
		{"default", 0, 3 * time.Second},
		// Set, it bounds the next node's handshake too: 200 ms ran out
		// there on a loaded machine (load 50 to 100).
		{"set", 2 * time.Second, 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			stalled, accepted := stalledListener(t)
			// A request's bound far over the old handshake timeout: only
			// the handshake's can end the first node's try.
			opts := &ClientOptions{TLS: tlsConf, Timeout: time.Hour, HandshakeTimeout: c.set}
			cl, err := NewClient(stalled+","+nextAddr, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if got := cl.hc.Transport.(*http.Transport).TLSHandshakeTimeout; got != c.want {
				t.Fatalf("the client bounds a handshake by %v, want %v", got, c.want)
			}
			before := puts.Load()
			if err := cl.Do(context.Background(), "PUT", "/v1/heaps/h/roots/r", 1, nil); err != nil {
				t.Fatalf("a put whose first node never finishes the handshake: %v, want it written by the next", err)
			}
			if n := puts.Load() - before; n != 1 {
				t.Fatalf("the next node took %d puts, want 1", n)
			}
			if n := accepted.Load(); n != 1 {
				t.Fatalf("the stalled node was given %d connections, want 1", n)
			}
			if c.set == 0 {
				return
			}
			// Alone in the list, the node was given up at the handshake:
			// no answer from it, and no unknown outcome.
			alone, err := NewClient(stalled, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer alone.Close()
			err = alone.Do(context.Background(), "PUT", "/v1/heaps/h/roots/r", 2, nil)
			var nobody *noNodeError
			if !errors.As(err, &nobody) || errors.Is(err, oss.ErrCommitUnknown) || !strings.Contains(err.Error(), "TLS handshake timeout") {
				t.Fatalf("a put to a node alone that never finishes the handshake: %v, want no node answering, its handshake timed out", err)
			}
		})
	}
}

// stalledListener listens on loopback and reads what each connection
// sends (the client's hello) without answering, as a stopped process's
// kernel does; it counts the connections. It stops at the end of the
// test.
func stalledListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { io.Copy(io.Discard, c) })
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
	return ln.Addr().String(), &accepted
}
