package transport_test

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/transport"
)

// TestImpostorIsRefusedAndLiveNodeKeepsItsConnection: a second endpoint
// with a valid certificate of node a, at another address, connects to b
// while a is connected to b and answers. b refuses the second connection
// with a reason the impostor reads, and a's connection, the one b uses
// to reach a, goes on: a call over it and a message sent by a still
// arrive, and b's calls to a reach a, not the impostor.
func TestImpostorIsRefusedAndLiveNodeKeepsItsConnection(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	before := c.nodes["b"].Stats().Conns
	// Another holder of a's certificate (the same CA issued it for "a").
	impRec := newRecorder()
	imp := startOn(t, c, "a", nil, impRec)
	imp.SetPeer("b", c.nodes["b"].Addr().String())

	_, err := imp.Call(ctx, "b", []byte("i am a"))
	if err == nil {
		t.Fatal("a second holder of a's certificate was served while a is connected and answers")
	}
	if !errors.Is(err, transport.ErrNameTaken) || !strings.Contains(err.Error(), "is connected from "+c.nodes["a"].Addr().String()) {
		t.Fatalf("the impostor is not told why: %v", err)
	}
	// a's connection was kept: calls both ways and messages still go,
	// and b holds no more connections than before.
	if resp, err := c.nodes["a"].Call(ctx, "b", []byte("still")); err != nil || string(resp) != "a:still" {
		t.Fatalf("a lost its connection to b: %q %v", resp, err)
	}
	if resp, err := c.nodes["b"].Call(ctx, "a", []byte("you")); err != nil || string(resp) != "b:you" {
		t.Fatalf("b cannot reach a: %q %v", resp, err)
	}
	if err := c.nodes["a"].Send(ctx, "b", []byte("m")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's message after the refusal", func() bool { return c.recs["b"].count("a") == 1 })
	if n := c.nodes["b"].Stats().Conns; n > before {
		t.Fatalf("b holds %d connections, %d before the impostor", n, before)
	}
	if impRec.count("b") != 0 {
		t.Fatal("b sent to the impostor")
	}
}

// TestNodeRestartedAtAnotherAddressTakesItsPlace: a node that stops
// without a word and comes back at another address is connected again:
// its old connection, which no longer answers, gives way.
func TestNodeRestartedAtAnotherAddressTakesItsPlace(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	apc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { apc.Close() })
	mute := &mutePacketConn{PacketConn: apc}
	c.nodes["a"].Close()
	first := startOn(t, c, "a", mute, newRecorder())
	first.SetPeer("b", c.nodes["b"].Addr().String())
	if _, err := first.Call(ctx, "b", []byte("1")); err != nil {
		t.Fatal(err)
	}
	mute.mute.Store(true) // a dies: nothing it sends gets out, its connection stays open at b
	again := startOn(t, c, "a", nil, newRecorder())
	again.SetPeer("b", c.nodes["b"].Addr().String())
	resp, err := again.Call(ctx, "b", []byte("2"))
	if err != nil || string(resp) != "a:2" {
		t.Fatalf("the restarted node is not taken: %q %v", resp, err)
	}
}

// startOn starts an endpoint named name, with a certificate the
// cluster's CA issues now, on pc (a new loopback socket if nil); the
// test closes it.
func startOn(t *testing.T, c *cluster, name string, pc net.PacketConn, h transport.Handler) *transport.QUIC {
	t.Helper()
	cert, key, err := c.ca.Issue(name, pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, err := transport.NewQUIC(&transport.QUICConfig{
		Name: name, PacketConn: pc, CertPEM: cert, KeyPEM: key, CAPEM: c.ca.CertPEM, Handler: h,
		Logger: slog.New(slog.NewTextHandler(c.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// TestOwnNameFromElsewhereIsRefused: a holder of b's certificate at
// another address connects to b itself. b refuses it, while b's own
// connection to itself (a join list that names its own address) is
// taken.
func TestOwnNameFromElsewhereIsRefused(t *testing.T) {
	c := newCluster(t, "b")
	ctx := ctxT(t)
	b := c.nodes["b"]
	imp := startOn(t, c, "b", nil, newRecorder())
	imp.SetPeer("b", b.Addr().String())
	_, err := imp.Call(ctx, "b", []byte("i am b"))
	if !errors.Is(err, transport.ErrNameTaken) || !strings.Contains(err.Error(), `node "b" is this node`) {
		t.Fatalf("a second holder of b's certificate calling b: %v", err)
	}
	b.SetPeer("b", b.Addr().String())
	if resp, err := b.Call(ctx, "b", []byte("self")); err != nil || string(resp) != "b:self" {
		t.Fatalf("b cannot reach itself: %q %v", resp, err)
	}
}
