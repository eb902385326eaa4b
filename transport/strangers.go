package transport

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// Strangers' handshakes.
//
// A handshake costs the node a key exchange and a signature before it
// sees the peer's certificate (TLS 1.3 sends the server's first), and a
// certificate no CA of the cluster signed is refused only then. An
// address that presented one is a stranger's: it answered the node's
// first flight, so it is no spoofed source. The node takes the next
// handshakes from that IP address (an IPv6 one's /64) at strangerRate
// a second after a burst of strangerBurst, and refuses those beyond
// before any cryptography (quic-go's ConnContext: CONNECTION_REFUSED,
// from the Initial packet alone), until strangerForget passes without
// a stranger's handshake from there. The pace is per IP address, not
// per port: a dialler takes a new port for each connection as it
// likes.
//
// A refused attempt costs its sender one packet, so a stranger dialling
// fast keeps the pace empty, and a member behind the same address (one
// host, a NAT) would get no handshake through while it went on. A node
// sends from its listening socket, so a member is known by its exact
// address, which no pace holds back: a peer's address given to SetPeer
// or dialled by address, the address of every dial whose handshake
// completed, and that of every handshake accepted whose certificate
// verified once the handshake is over (knownAddrs at most, the first
// noted forgotten first). crypto/tls verifies a client's certificate
// before the client proves it holds the certificate's key, and a
// member's certificate is anyone's (a node sends its own to whoever
// dials it): a handshake whose certificate verified and that ended
// before the node took it (its proof failed, or its peer closed it or
// went silent) paces its address as a stranger's. A handshake that
// completed gives a token back. A member new
// to the node (not yet gossiped, its first handshake) takes a token:
// the ports strangers handshook from (strangerPorts of an address at
// most) leave the last one to other ports, so that a stranger dialling
// from one socket (a node misconfigured, from its listening socket)
// does not keep it; one taking a new port for each dial competes with
// the new member for the tokens, and the member's dial waits for its
// backoff when refused. A new CA bundle (SetTLS) forgets the paces: a
// stranger may have been a member rotating to a CA added now; one that
// drops a CA forgets the members' addresses too.
//
// Certificates a CA of the cluster signed but refused for anything
// else (out of their dates, revoked, of another role or name) are not
// paced: their holder is a member misconfigured, known and logged by the
// name certified.
const (
	strangerBurst  = 16
	strangerRate   = 4 // handshakes a second
	strangerForget = time.Minute
	// strangerIPs bounds the addresses paced at once; past it, one more
	// is not paced (a flood from more addresses than that is one no pace
	// of addresses stops).
	strangerIPs = 4096
	// knownAddrs bounds the members' addresses the pace lets through.
	knownAddrs = 4096
	// strangerPorts bounds the ports of an address noted as strangers'.
	strangerPorts = 64
	// signatureChecks bounds the signatures signedByCluster checks for
	// one handshake: a leaf's and an intermediate's or two, against a
	// CA or two of the same name.
	signatureChecks = 8
)

// errStrangerPaced is ConnContext's refusal of a handshake from a
// stranger's address past its pace.
var errStrangerPaced = errors.New("transport: a stranger's address past its pace of handshakes")

// strangerGate paces the handshakes of addresses strangers handshook
// from. The zero value is ready to use.
type strangerGate struct {
	mu  sync.Mutex // protects the fields below
	ips map[netip.Addr]*strangerIP
	// known holds the members' addresses, each with the number of its
	// last noting.
	known map[netip.AddrPort]uint64
	// order holds the notings in the order they came (knownAddrs at
	// most), next the slot of the oldest: it goes first, in constant
	// time, and forgets its address only if that was not noted again
	// since.
	order []knownNote
	next  int
	seq   uint64              // the number of the last noting
	cas   []*x509.Certificate // the CAs of the bundle (signedByCluster)
	// frozen (tests: export_test.go) keeps paces from filling up over
	// time and from being forgotten: a token comes back only from a
	// handshake that verified.
	frozen bool
}

// knownNote is a noting of a member's address, numbered.
type knownNote struct {
	ap  netip.AddrPort
	seq uint64
}

// paceTicket is what the pace knows of a handshake accepted, from its
// first packet (connContext) until the accepting loop takes it.
type paceTicket struct {
	certified atomic.Bool // its certificate verified (VerifyConnection)
	stop      func() bool // stops the check of its failure (connContext)
}

// ticketKey is the context key of a handshake's *paceTicket.
type ticketKey struct{}

// ticketOf returns the ticket of the handshake of ctx, nil if none.
func ticketOf(ctx context.Context) *paceTicket {
	tk, _ := ctx.Value(ticketKey{}).(*paceTicket)
	return tk
}

type strangerIP struct {
	tokens  float64
	at      time.Time // when tokens was last filled up
	refused time.Time // a stranger's last handshake from the address
	// ports holds the ports strangers handshook from (strangerPorts at
	// most): they leave the pace's last token to the others.
	ports map[uint16]struct{}
}

// addrOf returns the UDP address of a, IPv4 unmapped.
func addrOf(a net.Addr) (netip.AddrPort, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(ua.Port)), ok
}

// ipOf returns the key of a's pace: its IPv4 address, or its IPv6
// address's /64 (what one host, or one customer, is given).
func ipOf(a net.Addr) (netip.Addr, bool) {
	ap, ok := addrOf(a)
	if !ok {
		return netip.Addr{}, false
	}
	return paceKey(ap.Addr()), true
}

// paceKey is ipOf of an IP address.
func paceKey(ip netip.Addr) netip.Addr {
	if ip.Is4() {
		return ip
	}
	p, _ := ip.Prefix(64)
	return p.Addr()
}

// stranger notes a stranger's handshake from a.
func (g *strangerGate) stranger(a net.Addr, now time.Time) {
	ip, ok := ipOf(a)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.ips[ip]; s != nil {
		s.refused = now
		s.strangerPort(a)
		return
	}
	if g.ips == nil {
		g.ips = make(map[netip.Addr]*strangerIP)
	}
	if len(g.ips) >= strangerIPs {
		for k, s := range g.ips {
			if now.Sub(s.refused) >= strangerForget {
				delete(g.ips, k)
			}
		}
		if len(g.ips) >= strangerIPs {
			return
		}
	}
	s := &strangerIP{tokens: strangerBurst, at: now, refused: now}
	s.strangerPort(a)
	g.ips[ip] = s
}

// unproven notes a certified handshake from a that ended unproven
// (unprovenEnd) as a stranger's, unless a is a member's address: allow
// lets a member's address through whatever its IP address's pace, so
// the pace would hold back only the other addresses of that IP (the
// member's host, a NAT, a cluster on one loopback) and never the
// address whose handshake it was.
func (g *strangerGate) unproven(a net.Addr, now time.Time) {
	if ap, ok := addrOf(a); ok {
		g.mu.Lock()
		_, member := g.known[ap]
		g.mu.Unlock()
		if member {
			return
		}
	}
	g.stranger(a, now)
}

// strangerPort notes the port of a, a stranger's handshake's.
func (s *strangerIP) strangerPort(a net.Addr) {
	ap, ok := addrOf(a)
	if !ok {
		return
	}
	if s.ports == nil {
		s.ports = make(map[uint16]struct{})
	}
	if len(s.ports) < strangerPorts {
		s.ports[ap.Port()] = struct{}{}
	}
}

// verified notes a handshake accepted from a that completed with a
// certificate that verified: a is a member's, and the token its
// handshake took is given back (a token at most; given back too when
// it took none, from a member's address, as a member's handshakes from
// a stranger's IP address have been since the pace began). It is
// called once the handshake is over, never from VerifyConnection: a
// certificate verifies before its holder proves it holds its key.
func (g *strangerGate) verified(a net.Addr) {
	ap, ok := addrOf(a)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.knowLocked(ap)
	if s := g.ips[paceKey(ap.Addr())]; s != nil {
		s.tokens = min(strangerBurst, s.tokens+1)
	}
}

// dialled notes a, the address of a peer whose handshake with a dial
// of this node completed, as a member's.
func (g *strangerGate) dialled(a net.Addr) {
	ap, ok := addrOf(a)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.knowLocked(ap)
}

// member notes addr ("ip:port"), a peer's, as a member's; one that is
// no literal address (a name) is left to its first handshake.
func (g *strangerGate) member(addr string) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.knowLocked(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// knowLocked notes ap, again or for the first time, as a member's
// address, forgetting the one noted longest ago when knownAddrs
// notings are held: in constant time, where a search for the one seen
// longest ago took a pass over 4,096 under the lock, for each handshake
// of a member new to the node. An address noted again is the newest: a
// member's address noted at the start and in use since is not
// forgotten before the addresses noted after it. g.mu is held.
func (g *strangerGate) knowLocked(ap netip.AddrPort) {
	if g.known == nil {
		g.known = make(map[netip.AddrPort]uint64)
	}
	g.seq++
	n := knownNote{ap: ap, seq: g.seq}
	if len(g.order) < knownAddrs {
		g.order = append(g.order, n)
	} else {
		if old := g.order[g.next]; g.known[old.ap] == old.seq {
			delete(g.known, old.ap)
		}
		g.order[g.next] = n
		g.next = (g.next + 1) % knownAddrs
	}
	g.known[ap] = g.seq
}

// reset takes the CAs of a new bundle and forgets every pace; it
// forgets the members' addresses too when the bundle dropped a CA:
// those of handshakes certified by it are no members' now.
func (g *strangerGate) reset(cas []*x509.Certificate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	dropped := slices.ContainsFunc(g.cas, func(old *x509.Certificate) bool {
		return !slices.ContainsFunc(cas, old.Equal)
	})
	g.cas = cas
	clear(g.ips)
	if dropped {
		clear(g.known)
		g.order, g.next = g.order[:0], 0
	}
}

// allow reports whether a handshake from a may begin: always from a
// member's address, and from any other unless a stranger handshook from
// its IP address within strangerForget and the address's pace has no
// room.
func (g *strangerGate) allow(a net.Addr, now time.Time) bool {
	ap, ok := addrOf(a)
	if !ok {
		return true
	}
	ip := paceKey(ap.Addr())
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.ips[ip]
	if s == nil {
		return true
	}
	if _, ok := g.known[ap]; ok {
		return true
	}
	if g.frozen {
		now = s.at // tests: no time passes for the pace
	}
	if now.Sub(s.refused) >= strangerForget {
		delete(g.ips, ip)
		return true
	}
	s.tokens = min(strangerBurst, s.tokens+now.Sub(s.at).Seconds()*strangerRate)
	s.at = now
	need := 1.0
	if _, ok := s.ports[ap.Port()]; ok {
		need = 2 // the last token is another port's
	}
	if s.tokens < need {
		return false
	}
	s.tokens--
	return true
}

// signedByCluster reports whether a CA of the cluster signed chain's
// leaf, directly or through the chain's intermediates, whatever else is
// wrong with it (its dates, its name, its role). Only a certificate
// named the issuer is asked to check a signature, and signatureChecks
// at most are made: a stranger's certificate costs none, and a chain of
// its making, each certificate named the next one's issuer, a few.
func (g *strangerGate) signedByCluster(chain []*x509.Certificate) bool {
	g.mu.Lock()
	cas := g.cas
	g.mu.Unlock()
	signed, _ := signedBy(cas, chain)
	return signed
}

// signedBy is signedByCluster with the CAs cas; it returns the
// signatures it checked too.
func signedBy(cas, chain []*x509.Certificate) (signed bool, checks int) {
	by := func(c, parent *x509.Certificate) bool {
		if checks >= signatureChecks || !bytes.Equal(c.RawIssuer, parent.RawSubject) {
			return false
		}
		checks++
		return c.CheckSignatureFrom(parent) == nil
	}
	if len(chain) == 0 {
		return false, 0
	}
	c := chain[0]
	for range chain {
		if slices.ContainsFunc(cas, func(ca *x509.Certificate) bool { return by(c, ca) }) {
			return true, checks
		}
		i := slices.IndexFunc(chain[1:], func(p *x509.Certificate) bool { return p != c && by(c, p) })
		if i < 0 {
			return false, checks
		}
		c = chain[1+i]
	}
	return false, checks
}

// connContext is the endpoint's quic.Transport.ConnContext: it refuses
// a handshake from a stranger's address past its pace, and gives the
// others a ticket. One whose certificate verified but that ended before
// the accepting loop took it paces its address as a stranger's
// (unprovenEnd).
func (t *QUIC) connContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	if !t.strangers.allow(info.RemoteAddr, time.Now()) {
		t.counters.strangersPaced.Add(1)
		return nil, errStrangerPaced
	}
	tk := &paceTicket{}
	from := info.RemoteAddr
	tk.stop = context.AfterFunc(ctx, func() {
		if t.unprovenEnd(tk, context.Cause(ctx)) {
			t.strangers.unproven(from, time.Now())
		}
	})
	return context.WithValue(ctx, ticketKey{}, tk), nil
}

// unprovenEnd reports whether a handshake of ticket tk that ended on
// cause before the accepting loop took it paces its address: whenever
// its certificate verified, however it ended. The peer did not prove it
// holds the certificate's key (a copy of a member's is anyone's), and
// it chose the ending: an alert of the node's (a proof that failed), its
// own close, or silence until a timeout before its proof. Each cost the
// node a key exchange, a signature and a check of the chain. Not when
// the endpoint is closing, nor on quic-go's own refusal
// (CONNECTION_REFUSED of this end: the accept queue full, the listener
// closed), which no peer chose.
//
// Nor when the peer closed with an application error: crypto/tls reads
// no 1-RTT packet of a client before it has checked the client's
// Finished, so a CONNECTION_CLOSE of the application's (frame 0x1d)
// proves the key; a member whose endpoint closed just after its dial
// completed (a restart, a shutdown) ends so, before the accepting loop
// may take the connection, and paced its own IP address.
func (t *QUIC) unprovenEnd(tk *paceTicket, cause error) bool {
	if !tk.certified.Load() || t.ctx.Err() != nil {
		return false
	}
	if ae := (*quic.ApplicationError)(nil); errors.As(cause, &ae) && ae.Remote {
		return false
	}
	te := (*quic.TransportError)(nil)
	return !errors.As(cause, &te) || te.Remote || te.ErrorCode != quic.ConnectionRefused
}

// accepted notes the handshake of c, just accepted, as over: c's peer
// proved it holds the key of the certificate that verified.
func (t *QUIC) accepted(c *quic.Conn) {
	if tk := ticketOf(c.Context()); tk != nil {
		tk.stop()
	}
	t.strangers.verified(c.RemoteAddr())
}
