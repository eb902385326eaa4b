package transport

import (
	"context"
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/pki"
	"github.com/objectsharing/oss/internal/testkit/await"
	"github.com/quic-go/quic-go"
)

// unprovenEndings are the ways a handshake whose certificate verified
// may end before the node takes it, each chosen by its peer.
var unprovenEndings = map[string]error{
	"an alert of the node's":  &quic.TransportError{ErrorCode: quic.TransportErrorCode(0x100 + 42)},
	"the peer's close":        &quic.TransportError{Remote: true, ErrorCode: quic.ApplicationErrorErrorCode},
	"the peer's alert":        &quic.TransportError{Remote: true, ErrorCode: quic.TransportErrorCode(0x100 + 40)},
	"the peer's refusal":      &quic.TransportError{Remote: true, ErrorCode: quic.ConnectionRefused},
	"the handshake's timeout": &quic.HandshakeTimeoutError{},
	"the idle timeout":        &quic.IdleTimeoutError{},
}

// A handshake whose certificate verified was paced only if it ended on
// an alert the node sent (its peer's proof failed). Its peer chooses the
// ending: a copy of a member's certificate, then its own close or
// silence until a timeout before its proof, was never paced, and each
// cost the node a key exchange, a signature and a check of the chain.
// Each ending paces the handshake's address now.
func TestAHandshakeCertifiedThatEndsUntakenPacesItsAddress(t *testing.T) {
	i := 0
	for name, cause := range unprovenEndings {
		i++
		q := &QUIC{ctx: context.Background()}
		from := udp(t, "192.0.2."+strconv.Itoa(i)+":1000")
		ctx, end := context.WithCancelCause(context.Background())
		hctx, err := q.connContext(ctx, &quic.ClientInfo{RemoteAddr: from})
		if err != nil {
			t.Fatal(err)
		}
		ticketOf(hctx).certified.Store(true)
		end(cause)
		await.Until(t, name+": the address paced", func() bool {
			q.strangers.mu.Lock()
			defer q.strangers.mu.Unlock()
			ip, _ := ipOf(from)
			return q.strangers.ips[ip] != nil
		})
	}
}

// Not paced: a handshake whose certificate did not verify (a stranger's
// is paced by VerifyConnection, a member's misconfigured is not), any
// handshake while the endpoint closes, and one quic-go itself refused
// (its accept queue full), which no peer chose.
func TestAnUntakenHandshakeNotPaced(t *testing.T) {
	closing, cancel := context.WithCancel(context.Background())
	cancel()
	for name, cause := range unprovenEndings {
		tk := &paceTicket{}
		if (&QUIC{ctx: context.Background()}).unprovenEnd(tk, cause) {
			t.Fatalf("%s, its certificate not verified: paced", name)
		}
		tk.certified.Store(true)
		if (&QUIC{ctx: closing}).unprovenEnd(tk, cause) {
			t.Fatalf("%s, the endpoint closing: paced", name)
		}
	}
	tk := &paceTicket{}
	tk.certified.Store(true)
	if (&QUIC{ctx: context.Background()}).unprovenEnd(tk, &quic.TransportError{ErrorCode: quic.ConnectionRefused}) {
		t.Fatal("quic-go's own refusal paced")
	}
}

// An address already known was not noted again, so the members'
// addresses noted first, in use or not, were the first forgotten by
// 4,096 newer ones (a client-role member gossiping addresses, each
// given to SetPeer). One noted again is the newest now.
func TestStrangerGateKeepsAMemberNotedAgain(t *testing.T) {
	var g strangerGate
	now := time.Unix(1e9, 0)
	g.member("192.0.2.1:1000")
	g.member("192.0.2.1:1001")
	for i := range knownAddrs + 10 {
		if i == knownAddrs/2 {
			g.verified(udp(t, "192.0.2.1:1000")) // a handshake of its, later
		}
		g.member(net.JoinHostPort("192.0.2.1", strconv.Itoa(2000+i)))
	}
	if len(g.known) > knownAddrs {
		t.Fatalf("%d members' addresses held, knownAddrs is %d", len(g.known), knownAddrs)
	}
	g.stranger(udp(t, "192.0.2.1:1"), now)
	drain(&g, udp(t, "192.0.2.1:1"), now)
	if !g.allow(udp(t, "192.0.2.1:1000"), now) {
		t.Fatal("a member's address noted again forgotten")
	}
	if g.allow(udp(t, "192.0.2.1:1001"), now) {
		t.Fatal("a member's address not noted again kept past knownAddrs newer ones")
	}
}

// A new bundle forgot the paces and kept the members' addresses: a
// socket that handshook under a CA the bundle dropped stayed one no pace
// holds back. A bundle that drops a CA forgets them; one that only adds
// keeps them.
func TestStrangerGateForgetsMembersWhenACAIsDropped(t *testing.T) {
	ca := func() *x509.Certificate {
		c, err := pki.NewCA("test", time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c.Cert
	}
	ca1, ca2 := ca(), ca()
	var g strangerGate
	now := time.Unix(1e9, 0)
	g.reset([]*x509.Certificate{ca1})
	g.verified(udp(t, "192.0.2.1:1000"))
	paced := func() bool {
		g.stranger(udp(t, "192.0.2.1:1"), now)
		drain(&g, udp(t, "192.0.2.1:1"), now)
		return !g.allow(udp(t, "192.0.2.1:1000"), now)
	}
	g.reset([]*x509.Certificate{ca1, ca2})
	if paced() {
		t.Fatal("a member's address forgotten by a bundle that added a CA")
	}
	g.reset([]*x509.Certificate{ca2})
	if !paced() {
		t.Fatal("a member's address of a CA dropped kept past the pace")
	}
}
