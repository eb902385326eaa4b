package admin_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss/admin"
	"go.uber.org/goleak"
)

// Connections that never begin their TLS handshake, which anyone who can
// reach the port may open without a certificate, took one of the node's
// file descriptors each: an outside probe holding 300 against a node
// limited to 256 open files left its log unable to start a segment and
// its checkpoints failing ("too many open files"). The interface holds
// at most Options.MaxConns connections open; the rest wait to be
// accepted, and an operator's request is answered once the idle ones
// have timed out.
func TestIdleConnectionsAreCapped(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n := startNode(t)
	p := newPKI(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	o := p.serverOptions(t)
	o.Listener = ln
	o.MaxConns = 4
	o.ReadHeaderTimeout = 300 * time.Millisecond // the handshake's bound too
	srv := serve(t, n, o)

	for range 16 {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	c, err := admin.NewClient(srv.Addr(), &admin.ClientOptions{CertDir: p.dir, Name: "admin",
		HandshakeTimeout: time.Minute, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The operator's connection has its ReadHeaderTimeout too, from its
	// accept: at load 18 to 40 its handshake and request came later, and
	// the server closed it ("http: server closed idle connection", or
	// EOF: 3 of 122 runs). It asks again, as an operator would, until it
	// is answered.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		_, err := c.Heaps(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the operator's request after 16 idle connections: %v", err)
		}
		t.Logf("the operator's request: %v; again", err)
		time.Sleep(100 * time.Millisecond)
	}
	if most := ln.most(); most > 4 {
		t.Fatalf("the server held %d connections open at once, want at most MaxConns, 4", most)
	}
}

// countingListener counts the connections accepted and not closed yet,
// and the most at once.
type countingListener struct {
	net.Listener
	mu        sync.Mutex
	open, top int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.top = max(l.top, l.open)
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

func (l *countingListener) most() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.top
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
