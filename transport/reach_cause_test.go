package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
	"github.com/quic-go/quic-go"
)

// A peer that closes the connection while Reach waits for its answer (it
// holds MaxConnsPerPeer connections of the dialler's name already, 0x12)
// is reported with its reason. Reach said the peer "did not serve the
// connection within 6s", 1.6 ms after the dial, in 1 of 2 runs: the
// close came after the dial had returned, and failed the ping. Here the
// peer closes the connection as the ping arrives, every time.
func TestReachReportsTheClosesReason(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxT(t)
	addr := refuseOnFirstStream(ctx, t, c, "b", "node \"a\" has 8 connections with this node already")
	err := c.nodes["a"].Reach(ctx, addr)
	if !errors.Is(err, transport.ErrUnreachable) || strings.Contains(err.Error(), "did not serve") || !strings.Contains(err.Error(), "8 connections") {
		t.Fatalf("Reach of a peer that refused the connection as one too many: %v; want ErrUnreachable with the peer's reason", err)
	}
}

// refuseOnFirstStream listens as a node of name with a certificate of
// c's CA, accepts one connection, and closes it as one too many
// (0x12, with reason) when the first stream comes. It returns its address.
func refuseOnFirstStream(ctx context.Context, t *testing.T, c *cluster, name, reason string) string {
	t.Helper()
	pair, tr := rawEndpoint(t, c, name, pki.RoleServer)
	ln, err := tr.Listen(&tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAnyClientCert, NextProtos: []string{transport.ALPN}}, &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		if _, err := conn.AcceptStream(ctx); err == nil {
			conn.CloseWithError(0x12, reason)
		}
		<-ctx.Done()
		conn.CloseWithError(0, "")
	}()
	return tr.Conn.LocalAddr().String()
}
