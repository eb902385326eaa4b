package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Strangers' handshakes.
//
// A handshake costs the node a key exchange and a signature before it
// sees the peer's certificate (TLS 1.3 sends the server's first), and a
// certificate no CA of the cluster verifies is refused only then. An
// address that presented one is a stranger's: it answered the node's
// first flight, so it is no spoofed source. The node takes the next
// handshakes from that IP address at strangerRate a second after a
// burst of strangerBurst, and refuses those beyond before any
// cryptography (quic-go's ConnContext: CONNECTION_REFUSED, from the
// Initial packet alone), until strangerForget passes without a
// stranger's handshake from there. The pace is per IP address, not per
// port: a dialler takes a new port for each connection as it likes. A
// node of the cluster behind the same address (a NAT, one host) shares
// the pace while a stranger there keeps refusing; its connections
// already open are not touched, and a new one waits for the pace as a
// refused dial waits for its backoff. Refusals of certificates a CA of
// the cluster verified (expired, revoked, of another role or name) are
// not paced: they are logged by the name certified, and their holder is
// known.
const (
	strangerBurst  = 16
	strangerRate   = 4 // handshakes a second
	strangerForget = time.Minute
	// strangerIPs bounds the addresses paced at once; past it, one more
	// is not paced (a flood from more addresses than that is one no pace
	// of addresses stops).
	strangerIPs = 4096
)

// errStrangerPaced is ConnContext's refusal of a handshake from a
// stranger's address past its pace.
var errStrangerPaced = errors.New("transport: a stranger's address past its pace of handshakes")

// strangerGate paces the handshakes of addresses strangers handshook
// from. The zero value is ready to use.
type strangerGate struct {
	mu  sync.Mutex // protects ips
	ips map[netip.Addr]*strangerIP
}

type strangerIP struct {
	tokens  float64
	at      time.Time // when tokens was last filled up
	refused time.Time // a stranger's last handshake from the address
}

// ipOf returns the IP address of a UDP address, IPv4 unmapped.
func ipOf(a net.Addr) (netip.Addr, bool) {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	return ip.Unmap(), ok
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
	g.ips[ip] = &strangerIP{tokens: strangerBurst, at: now, refused: now}
}

// allow reports whether a handshake from a may begin: always, unless a
// stranger handshook from its IP address within strangerForget and the
// address's pace has no room.
func (g *strangerGate) allow(a net.Addr, now time.Time) bool {
	ip, ok := ipOf(a)
	if !ok {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.ips[ip]
	if s == nil {
		return true
	}
	if now.Sub(s.refused) >= strangerForget {
		delete(g.ips, ip)
		return true
	}
	s.tokens = min(strangerBurst, s.tokens+now.Sub(s.at).Seconds()*strangerRate)
	s.at = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// connContext is the endpoint's quic.Transport.ConnContext: it refuses
// a handshake from a stranger's address past its pace.
func (t *QUIC) connContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	if !t.strangers.allow(info.RemoteAddr, time.Now()) {
		t.counters.strangersPaced.Add(1)
		return nil, errStrangerPaced
	}
	return ctx, nil
}
