package transport_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
)

// A peer that reloaded a new certificate and key (SetTLS: ossd's SIGHUP
// of a certificate rotation), connected with it, and then crashed and
// restarted at its address on that key is reached on the connection it
// opens, as soon as it opens it. Its stateless reset key derives from the
// key it started with, so the restarted process's resets do not match
// those the old process gave, and the peers' old connections, of the same
// key as the new one, were left to their 30 s idle timeout: every message
// to the node went into them meanwhile (a node rebuilt with
// --rebuild-replica after a CA rotation waited 30 s to join).
func TestPeerRestartedAfterAKeyReloadIsReachedOnItsNewConnection(t *testing.T) {
	ca := newCA(t)
	ac, ak, _ := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	bc, bk, _ := ca.Issue("b", pki.RoleServer, time.Now(), time.Hour)
	bc2, bk2, _ := ca.Issue("b", pki.RoleServer, time.Now(), time.Hour) // renewed: another key
	start := func(name string, pc net.PacketConn, h transport.Handler, cert, key []byte, log io.Writer) *transport.QUIC {
		q, err := transport.NewQUIC(&transport.QUICConfig{Name: name, PacketConn: pc, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM,
			Handler: h, Logger: slog.New(slog.NewTextHandler(log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	var alog logBuffer
	apc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	a := start("a", apc, newRecorder(), ac, ak, &alog)
	defer func() { a.Close(); apc.Close() }()
	bpc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	crashable := &mutePacketConn{PacketConn: bpc}
	b := start("b", crashable, newRecorder(), bc, bk, io.Discard)
	if err := b.SetTLS(ca.CertPEM, bc2, bk2); err != nil { // reloaded before any connection: a's is of the new key
		t.Fatal(err)
	}
	addr := bpc.LocalAddr().String()
	a.SetPeer("b", addr)
	// A call's answer: the handshake is confirmed on both ends.
	if _, err := a.Call(ctxT(t), "b", []byte("established")); err != nil {
		t.Fatal(err)
	}
	crashable.mute.Store(true) // the process dies without a word
	b.Close()
	bpc.Close()
	bpc2, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rb2 := newRecorder()
	b2 := start("b", bpc2, rb2, bc2, bk2, io.Discard) // restarted on the key it reloaded
	defer func() { b2.Close(); bpc2.Close() }()
	b2.SetPeer("a", apc.LocalAddr().String())
	if err := b2.Send(ctxT(t), "a", []byte("back")); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	for deadline := begin.Add(3 * time.Minute); rb2.count("a") == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a never reached b restarted after a key reload")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		a.Send(ctx, "b", []byte("after"))
		cancel()
	}
	t.Logf("a reached b, restarted after a key reload, after %v", time.Since(begin).Round(10*time.Millisecond))
	// Reached because a closed the old connection when b's new one came,
	// not because the old one timed out.
	if !strings.Contains(alog.String(), "connected again from its address") {
		t.Fatalf("a did not close its connection to b's previous process when b connected again; a's log:\n%s", alog.String())
	}
}
