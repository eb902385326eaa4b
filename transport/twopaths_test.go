package transport_test

import (
	"net"
	"sync"
	"testing"
)

// relay forwards UDP between one client and target: the target sees the
// client at the relay's back socket's address.
type relay struct {
	front, back *net.UDPConn
	mu          sync.Mutex
	client      *net.UDPAddr
	wg          sync.WaitGroup
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{}
	if r.front, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if r.back, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	r.wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := r.front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.client = from
			r.mu.Unlock()
			r.back.WriteToUDP(buf[:n], ta)
		}
	})
	r.wg.Go(func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := r.back.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			to := r.client
			r.mu.Unlock()
			if to != nil {
				r.front.WriteToUDP(buf[:n], to)
			}
		}
	})
	t.Cleanup(func() {
		r.front.Close()
		r.back.Close()
		r.wg.Wait()
	})
	return r
}

// A node that reaches another by two paths (a NAT, a proxy, two
// interfaces: the other sees it at two addresses) keeps both: the second
// connection's peer answers a ping with the same life as the first's, so
// it is not a second holder of its certificate. A UDP proxy between the
// nodes of the process harness (oss/ossdtest) was refused this way.
func TestOneNodeByTwoPathsIsNotAnImpostor(t *testing.T) {
	c := newCluster(t, "a", "b")
	ctx := ctxT(t)
	if _, err := c.nodes["a"].Call(ctx, "b", []byte("direct")); err != nil {
		t.Fatal(err)
	}
	// b reaches a through a relay: its new connection comes to a from
	// the relay's address, while a's own connection to b stays.
	r := newRelay(t, c.nodes["a"].Addr().String())
	c.nodes["b"].SetPeer("a", r.front.LocalAddr().String())
	if resp, err := c.nodes["b"].Call(ctx, "a", []byte("via relay")); err != nil || string(resp) != "b:via relay" {
		t.Fatalf("b's call to a: %q %v", resp, err)
	}
	if resp, err := c.nodes["a"].Call(ctx, "b", []byte("still")); err != nil || string(resp) != "a:still" {
		t.Fatalf("a's call to b after b reached it by another path: %q %v", resp, err)
	}
}
