package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// pacedIP reports whether the IP address of a has a pace in g.
func pacedIP(g *strangerGate, a net.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	ip, _ := ipOf(a)
	return g.ips[ip] != nil
}

// A member whose endpoint closed just after its dial completed (a
// restart, a shutdown) ends with a close of the application's, which
// crypto/tls reads only after the client's Finished checked: its key is
// proven. Such endings paced the member's IP address as a stranger's:
// 96 of 155 dials of 200 members that closed at once, with no stranger.
func TestAProvenCloseBeforeAcceptIsNotPaced(t *testing.T) {
	tk := &paceTicket{}
	tk.certified.Store(true)
	closed := &quic.ApplicationError{Remote: true, ErrorMessage: "closing"}
	if (&QUIC{ctx: context.Background()}).unprovenEnd(tk, closed) {
		t.Fatal("a handshake closed by its peer's application, its key proven, is taken as unproven")
	}
	// Not the peer's close of the transport (0x1c, APPLICATION_ERROR
	// before the handshake is confirmed): a copy's close before its proof.
	early := &quic.TransportError{Remote: true, ErrorCode: quic.ApplicationErrorErrorCode}
	if !(&QUIC{ctx: context.Background()}).unprovenEnd(tk, early) {
		t.Fatal("a close of the transport's before the peer's proof is taken as proven")
	}
}

// An unproven ending from a member's address (known) does not pace its
// IP address: allow lets that address through whatever the pace, so the
// pace held back only the other addresses of the IP (the member's
// host, a NAT, a cluster on one loopback), for a minute. From another
// address of that IP it does.
func TestAnUnprovenEndingFromAMembersAddressPacesNoIP(t *testing.T) {
	var g strangerGate
	member := udp(t, "192.0.2.78:1000")
	ap, _ := addrOf(member)
	g.mu.Lock()
	g.knowLocked(ap)
	g.mu.Unlock()
	g.unproven(member, time.Now())
	if pacedIP(&g, member) {
		t.Fatal("an unproven ending from a member's address paced its IP address")
	}
	g.unproven(udp(t, "192.0.2.78:2000"), time.Now())
	if !pacedIP(&g, member) {
		t.Fatal("an unproven ending from an unknown address of the same IP paced nothing")
	}
}
