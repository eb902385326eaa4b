package transport

import (
	"net"
	"strconv"
	"testing"
	"time"
)

func udp(t *testing.T, s string) net.Addr {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// drain takes every token of the pace of from's address: those a
// stranger's port may take, then the last from port 9.
func drain(g *strangerGate, from net.Addr, now time.Time) {
	for g.allow(from, now) {
	}
	other := *from.(*net.UDPAddr)
	other.Port = 9
	for g.allow(&other, now) {
	}
}

// A member's exact address passes a pace a stranger emptied at its IP
// address, whether given (SetPeer, a dial by address) or learned from a
// handshake that verified, which gives its token back; another port of
// the address does not pass.
func TestStrangerGateLetsMembersAddressesThrough(t *testing.T) {
	var g strangerGate
	now := time.Unix(1e9, 0)
	g.stranger(udp(t, "192.0.2.1:1000"), now)
	drain(&g, udp(t, "192.0.2.1:1000"), now)
	if g.allow(udp(t, "192.0.2.1:2000"), now) {
		t.Fatal("another port of a stranger's address, its pace empty: allowed")
	}
	g.member("192.0.2.1:2000")
	g.verified(udp(t, "192.0.2.1:3000"))
	for _, a := range []string{"192.0.2.1:2000", "192.0.2.1:3000", "[::ffff:192.0.2.1]:3000"} {
		if !g.allow(udp(t, a), now) {
			t.Fatalf("a member's address %s refused", a)
		}
	}
	// The verified handshake gave back a token.
	if !g.allow(udp(t, "192.0.2.1:4000"), now) || g.allow(udp(t, "192.0.2.1:4000"), now) {
		t.Fatal("a verified handshake gave back no token, or more than one")
	}
}

// A new CA bundle forgets the paces: a stranger may have been a member
// moving to a CA added now.
func TestStrangerGateResetForgetsPaces(t *testing.T) {
	var g strangerGate
	now := time.Unix(1e9, 0)
	from := udp(t, "192.0.2.1:1000")
	g.stranger(from, now)
	drain(&g, from, now)
	g.reset(nil)
	if !g.allow(from, now) {
		t.Fatal("paced after reset")
	}
}

// An IPv6 host or customer is given a /64: its addresses share a pace.
func TestStrangerGateKeysIPv6ByItsSlash64(t *testing.T) {
	var g strangerGate
	now := time.Unix(1e9, 0)
	g.stranger(udp(t, "[2001:db8:0:1::1]:1000"), now)
	drain(&g, udp(t, "[2001:db8:0:1::1]:1000"), now)
	if g.allow(udp(t, "[2001:db8:0:1:ffff::2]:1000"), now) {
		t.Fatal("another address of the stranger's /64 allowed past its pace")
	}
	if !g.allow(udp(t, "[2001:db8:0:2::1]:1000"), now) {
		t.Fatal("an address of another /64 refused")
	}
}

// The members' addresses are bounded: past knownAddrs, the one noted
// first is forgotten.
func TestStrangerGateForgetsTheOldestMember(t *testing.T) {
	var g strangerGate
	now := time.Unix(1e9, 0)
	for i := range knownAddrs + 1 {
		g.member(net.JoinHostPort("192.0.2.1", strconv.Itoa(1000+i)))
	}
	if len(g.known) != knownAddrs {
		t.Fatalf("%d members' addresses held, knownAddrs is %d", len(g.known), knownAddrs)
	}
	g.stranger(udp(t, "192.0.2.1:1"), now)
	drain(&g, udp(t, "192.0.2.1:1"), now)
	if g.allow(udp(t, "192.0.2.1:1000"), now) || !g.allow(udp(t, "192.0.2.1:1001"), now) {
		t.Fatal("not the oldest member's address forgotten")
	}
}

// A stranger dialling from one socket leaves the pace's last token to
// the address's other ports: a member's first handshake from there.
func TestStrangerGateLeavesTheLastTokenToOtherPorts(t *testing.T) {
	var g strangerGate
	now := time.Unix(1e9, 0)
	from := udp(t, "192.0.2.1:1000")
	g.stranger(from, now)
	for g.allow(from, now) {
	}
	if !g.allow(udp(t, "192.0.2.1:2000"), now) {
		t.Fatal("another port refused the last token")
	}
	if g.allow(udp(t, "192.0.2.1:3000"), now) {
		t.Fatal("past the last token, another port allowed")
	}
}
