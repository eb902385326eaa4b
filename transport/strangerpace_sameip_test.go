package transport_test

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/objectsharing/oss/transport"
)

// strangerFlood has goroutines handshake with the node at addr as
// strangers (a certificate of a CA of their own) as fast as they can,
// each from a loopback socket of its own, until the test ends.
func strangerFlood(t *testing.T, addr string, goroutines int) {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{strangerPair(t, "b")}, InsecureSkipVerify: true, NextProtos: []string{transport.ALPN}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		tr := bareTransport(t)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				strangerDial(addr, tr, conf)
			}
		})
	}
	// Before bareTransport's cleanups, which ran first would close the
	// sockets under the dials.
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// A refused attempt costs its sender one packet, so a stranger dialling
// fast from the cluster's IP address (one host, a NAT) kept the pace of
// that address empty, and a node of the cluster there got no call
// through while it went on: 198 calls in 10 s failed beside a stranger
// dialling 200 times a second. A member's exact address, which a node
// sends from, is not paced: each call of a node on the stranger's IP
// address gets through. A node the callee does not know yet gets the
// token that the strangers' ports leave to others.
func TestStrangersFloodDoesNotHoldBackAMemberAtItsAddress(t *testing.T) {
	c := newCluster(t, "a")
	a := c.nodes["a"]
	a.FreezeStrangerPaces()
	strangerFlood(t, a.Addr().String(), 2)
	awaitPaced(t, a)
	e := c.start(t, "e", "127.0.0.1:0", newRecorder())
	assertPaced(t, a, e.Addr().String())
	e.SetPeer("a", a.Addr().String())
	for i := range 3 {
		if _, err := e.Call(ctxT(t), "a", []byte("x")); err != nil {
			t.Fatalf("e, new to a, at the IP address of a stranger's flood, call %d: %v (StrangersPaced %d)", i, err, a.Stats().StrangersPaced)
		}
	}
	e.Close()
	for _, name := range []string{"b", "c", "d"} {
		b := c.start(t, name, "127.0.0.1:0", newRecorder())
		assertPaced(t, a, b.Addr().String())
		a.SetPeer(name, b.Addr().String()) // as gossip tells the members
		b.SetPeer("a", a.Addr().String())
		for i := range 3 {
			if _, err := b.Call(ctxT(t), "a", []byte("x")); err != nil {
				t.Fatalf("%s, at the IP address of a stranger's flood, call %d: %v (StrangersPaced %d)", name, i, err, a.Stats().StrangersPaced)
			}
		}
		b.Close()
	}
}

// A dial refused by a pace was a plain CONNECTION_REFUSED, reported as
// a peer that does not answer: a node whose certificate is not of the
// cluster's CA was told that no member answered (is an OSS node
// listening there?). It is ErrPacedAsStranger now, which says why and is
// no refusal of a certificate (ErrRefused): a later dial may get
// through.
func TestDialPacedAsAStrangerSaysSo(t *testing.T) {
	c := newCluster(t, "a")
	a := c.nodes["a"]
	a.FreezeStrangerPaces()
	strangerFlood(t, a.Addr().String(), 2)
	awaitPaced(t, a)
	other := newCA(t)
	cert, key, err := other.Issue("y", pki.RoleServer, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	y, err := transport.NewQUIC(&transport.QUICConfig{Name: "y", CertPEM: cert, KeyPEM: key, CAPEM: other.CertPEM, Handler: newRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	y.SetPeer("a", a.Addr().String())
	var last error
	await.Until(t, "a dial refused at its first packet reported as paced", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, last = y.Call(ctx, "a", []byte("x"))
		return errors.Is(last, transport.ErrPacedAsStranger)
	})
	if !errors.Is(last, transport.ErrUnreachable) || errors.Is(last, transport.ErrRefused) {
		t.Fatalf("a paced dial: %v: want ErrUnreachable and not ErrRefused", last)
	}
}

// awaitPaced waits for a's pace of the strangers' flood (strangerFlood)
// to refuse a handshake. With a's paces frozen (FreezeStrangerPaces),
// the flood's sockets are refused from then on, however slowly a loaded
// machine handshakes.
func awaitPaced(t *testing.T, a *transport.QUIC) {
	t.Helper()
	await.Until(t, "the strangers' address paced", func() bool { return a.Stats().StrangersPaced > 0 })
}

// assertPaced waits until the pace of addr's IP address at a has no
// room for the strangers' sockets (fewer than two tokens: a member's
// handshake that completed gave one back, which the flood takes) and
// refuses their handshakes.
func assertPaced(t *testing.T, a *transport.QUIC, addr string) {
	t.Helper()
	n := a.Stats().StrangersPaced
	await.Until(t, "the strangers' handshakes refused at "+addr, func() bool {
		tokens := a.StrangerTokens(addr)
		return tokens >= 0 && tokens < 2 && a.Stats().StrangersPaced > n
	})
}
