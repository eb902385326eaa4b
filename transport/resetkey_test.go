package transport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// A peer that reloaded a new certificate and key (SetTLS: ossd's SIGHUP
// of a certificate rotation), was connected to on it, and then crashed
// and restarted at its address on that key is reached once it is back,
// when it keeps its reset key (QUICConfig.ResetKey) across the restart.
// A reset key derived from the key the process started with differed
// from the restarted one's, so the peers ignored its resets and sent into
// the dead connection until their idle timeout (30 s). Here the idle
// timeout is an hour, far past the wait: only a reset reaches b in time.
func TestPeerRestartedAfterAKeyReloadIsResetWithItsKeptResetKey(t *testing.T) {
	ca := newCA(t)
	ac, ak, _ := ca.Issue("a", pki.RoleServer, time.Now(), time.Hour)
	bc, bk, _ := ca.Issue("b", pki.RoleServer, time.Now(), time.Hour)
	bc2, bk2, _ := ca.Issue("b", pki.RoleServer, time.Now(), time.Hour) // renewed: another key
	secret := make([]byte, 32)
	rand.Read(secret)
	start := func(name string, pc net.PacketConn, h transport.Handler, cert, key, reset []byte) *transport.QUIC {
		c := &transport.QUICConfig{Name: name, PacketConn: pc, CertPEM: cert, KeyPEM: key, CAPEM: ca.CertPEM,
			ResetKey: reset, Handler: h, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		transport.SetIdleTimeout(c, time.Hour)
		q, err := transport.NewQUIC(c)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	apc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	a := start("a", apc, newRecorder(), ac, ak, nil)
	defer func() { a.Close(); apc.Close() }()
	bpc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	crashable := &mutePacketConn{PacketConn: bpc}
	b := start("b", crashable, newRecorder(), bc, bk, secret)
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
	b2 := start("b", bpc2, newRecorder(), bc2, bk2, secret) // restarted on the key it reloaded
	defer func() { b2.Close(); bpc2.Close() }()
	// Calls of more than a stateless reset's minimum size (quic-go's
	// MinStatelessResetSize, 42 bytes): a smaller packet is answered
	// with none.
	req := bytes.Repeat([]byte("after "), 8)
	await.Until(t, "a call from a to b restarted after a key reload", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := a.Call(ctx, "b", req)
		return err == nil
	})
}
