package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	ipki "github.com/objectsharing/oss/internal/pki"
	"go.uber.org/goleak"
)

// One certificate opening connections as fast as it could held every one
// of the interface's MaxConns (its rate-limited requests, held a second
// before their 429, kept theirs too), and no other operator got a
// connection until its idle ones timed out. Each identity (a
// certificate's name and role) may hold at most its share,
// MaxConnsPerIdentity (half of MaxConns by default); a connection past
// it is refused at its first request, 429 and closed, and counted.
func TestOneIdentityCannotTakeEveryConnection(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n := startNode(t)
	p := newPKI(t)
	p.issue(t, "flood", ipki.RoleAdmin, time.Now(), time.Hour)
	o := p.serverOptions(t)
	o.MaxConns = 8
	o.IdleTimeout = 30 * time.Minute // held connections stay held
	srv := serve(t, n, o)
	flood := p.tlsConfig(t, "flood")

	var held []*tls.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var refused *http.Response
	var refusedBody []byte
	var refusedConn *tls.Conn
	for len(held) <= o.MaxConns {
		c, resp, body := heldRequest(t, srv.Addr(), flood)
		if resp.StatusCode != http.StatusOK {
			refused, refusedBody, refusedConn = resp, body, c
			break
		}
		held = append(held, c)
	}
	if refused == nil {
		t.Fatalf("one certificate held %d connections, every one served; want it refused past its share", len(held))
	}
	defer refusedConn.Close()
	if len(held) != o.MaxConns/2 {
		t.Errorf("the certificate was served on %d connections, want half of MaxConns, %d", len(held), o.MaxConns/2)
	}
	if refused.StatusCode != http.StatusTooManyRequests || refused.Header.Get("X-Oss-Node-State") != "rate-limited" || refused.Header.Get("Retry-After") == "" {
		t.Errorf("the connection past the share: %d, state %q, Retry-After %q; want 429, rate-limited, a delay",
			refused.StatusCode, refused.Header.Get("X-Oss-Node-State"), refused.Header.Get("Retry-After"))
	}
	var msg struct{ Error string }
	json.Unmarshal(refusedBody, &msg)
	for _, want := range []string{`"flood"`, "nothing of this request was done", "--http-max-conns-per-identity"} {
		if !strings.Contains(msg.Error, want) {
			t.Errorf("the refusal %s does not say %q", refusedBody, want)
		}
	}
	// The refused connection is closed, its slot given back.
	refusedConn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if k, err := refusedConn.Read(make([]byte, 1)); err == nil {
		t.Errorf("the refused connection was kept open (read %d bytes)", k)
	}

	// Another operator is served beside the held connections.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := p.client(t, srv, "admin")
	if _, err := c.Heaps(ctx); err != nil {
		t.Fatalf("another certificate, with %d connections of one held: %v", len(held), err)
	}
	if _, err := c.PutRoot(ctx, "h", "r", 1); err != nil {
		t.Fatalf("another certificate's put: %v", err)
	}
	// So is one more connection of the first once it closes one of its.
	held[0].Close()
	held = held[1:]
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, resp, _ := heldRequest(t, srv.Addr(), flood)
		if resp.StatusCode == http.StatusOK {
			held = append(held, c)
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the certificate, down to %d connections, is still refused: %d", len(held), resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}

	resp, err := rawClient(t, p, "admin").Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	want := fmt.Sprintf("oss_admin_conns_refused_total{node=%q} ", n.Name())
	if !bytes.Contains(b, []byte(want)) || bytes.Contains(b, []byte(want+"0\n")) {
		t.Fatalf("/metrics lacks %q with a count of at least 1", want)
	}
}

// A connection past its identity's share that sends no request does not
// keep its slot until the header timeout: it is closed soon after its
// handshake.
func TestConnectionPastTheShareIsClosedWithoutARequest(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	n := startNode(t)
	p := newPKI(t)
	o := p.serverOptions(t)
	o.MaxConns = 4
	o.ReadHeaderTimeout = 30 * time.Minute // the handshake's bound too
	o.IdleTimeout = 30 * time.Minute
	srv := serve(t, n, o)
	cfg := p.tlsConfig(t, "admin")
	for range 2 {
		c, resp, _ := heldRequest(t, srv.Addr(), cfg)
		defer c.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a connection within the share: %d", resp.StatusCode)
		}
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Minute}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	_, err = nc.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a connection past the share that sent nothing was kept open: %v", err)
	}
}

// heldRequest opens a connection to addr with cfg, asks GET /v1/heaps on
// it, and returns it open with the answer and its body.
func heldRequest(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, *http.Response, []byte) {
	t.Helper()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Minute}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("connection: %v", err)
	}
	c := nc.(*tls.Conn)
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET /v1/heaps HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatalf("request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return c, resp, body
}
