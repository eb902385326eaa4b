package admin_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// slowListener's connections wait a while before each read of a
// request, as a server on a loaded machine gets to a connection's bytes
// late.
type slowListener struct {
	net.Listener
	wait time.Duration
}

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &slowConn{TCPConn: c.(*net.TCPConn), wait: l.wait}, nil
}

// slowConn waits before each read past the handshake's three (the
// client's hello in two, then its certificate and finished), once the
// server has verified the client.
type slowConn struct {
	*net.TCPConn
	wait  time.Duration
	reads int // of the server's one reading goroutine
}

func (c *slowConn) Read(b []byte) (int, error) {
	if c.reads++; c.reads > 3 {
		time.Sleep(c.wait)
	}
	return c.TCPConn.Read(b)
}

// A client past its identity's share that sends its request as its
// handshake ends gets its 429, however late the server reads it: the
// connection past the share used to be closed a second after its
// handshake whether or not its request had come, and at load 20 the
// server had not read it by then: the client saw "connection reset by
// peer" instead of the refusal and its Retry-After.
func TestConnectionPastTheShareReadLateGetsItsRefusal(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n := startNode(t)
	p := newPKI(t)
	o := p.serverOptions(t)
	o.MaxConns, o.MaxConnsPerIdentity = 4, 1
	o.IdleTimeout = 30 * time.Minute
	o.ReadHeaderTimeout = 30 * time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Longer than the second the server waits for a connection past the
	// share to send its request.
	o.Listener = slowListener{Listener: ln, wait: 1500 * time.Millisecond}
	srv := serve(t, n, o)
	cfg := p.tlsConfig(t, "admin")
	c, resp, _ := heldRequest(t, srv.Addr(), cfg)
	defer c.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the connection within the share: %d", resp.StatusCode)
	}
	// The request comes a moment after the handshake, within the second,
	// once the server has read the handshake's last bytes: it waits in
	// the socket while the server gets to it.
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Minute}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Minute))
	time.Sleep(300 * time.Millisecond)
	if _, err := io.WriteString(nc, "GET /v1/heaps HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatalf("request: %v", err)
	}
	resp, err = http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("the connection past the share, its request sent 300ms after its handshake: %v; want a 429", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the connection past the share: %d, Retry-After %q, %s; want 429 and a delay", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
