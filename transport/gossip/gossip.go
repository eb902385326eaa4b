// Package gossip carries memberlist's gossip over a transport.QUIC
// endpoint: the memberlist.NodeAwareTransport a node's membership runs
// on. Which members to trust, and what a member's metadata means, is the
// node's business (package oss), not this package's.
package gossip

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/transport"
)

// Transport is memberlist's NodeAwareTransport over a QUIC endpoint:
// gossip packets travel as datagrams, memberlist's streams as raw
// streams. Shutdown stops the goroutines that read the datagrams and the
// streams.
type Transport struct {
	q       *transport.QUIC
	ip      net.IP
	port    int
	packets chan *memberlist.Packet
	streams chan net.Conn // RawStreams', guarded
	log     *slog.Logger
	// sendTimeout bounds the wait for a connection when sending a packet.
	sendTimeout time.Duration
	stop        chan struct{}
	wg          sync.WaitGroup
	once        sync.Once
	// trusted says whose gossip about other members is believed; from
	// any other peer only what it says of itself is (ownOnly).
	trusted func(name, role string) bool
	// userOK, if not nil, says which user messages (the node's own, not
	// memberlist's) an untrusted peer may send.
	userOK  func(from string, msg []byte) bool
	dropped atomic.Uint64 // messages left out of untrusted peers' packets
	// inflating is held while an untrusted peer's compressed stream
	// message is inflated and filtered (ownStream.first).
	inflating sync.Mutex
}

// New returns a Transport over q that advertises ip:port. A packet send
// waits at most sendTimeout for a connection; lost packets are logged to
// log at debug level. trusted says, from the name and role in a peer's
// certificate, whether its packets may tell of other members (that one
// is alive at an address, suspect or dead); an untrusted peer's packets
// keep only probes, their answers, user messages and what it says of
// itself, and of its user messages those userOK (if not nil) passes. A
// nil trusted trusts every peer.
func New(q *transport.QUIC, ip net.IP, port int, sendTimeout time.Duration, log *slog.Logger, trusted func(name, role string) bool, userOK func(from string, msg []byte) bool) *Transport {
	g := &Transport{q: q, ip: ip, port: port, packets: make(chan *memberlist.Packet, 1024), streams: make(chan net.Conn),
		stop: make(chan struct{}), sendTimeout: sendTimeout, log: log, trusted: trusted, userOK: userOK}
	g.wg.Go(g.pump)
	g.wg.Go(g.pumpStreams)
	return g
}

func (g *Transport) pump() {
	for {
		select {
		case d := <-g.q.Datagrams():
			buf := d.Data
			if g.trusted != nil && !g.trusted(d.From, d.Role) {
				var dropped int
				if buf, dropped = ownOnly(d.From, g.userOK, buf); dropped > 0 {
					g.drop(d.From, d.Role, dropped)
				}
				if buf == nil {
					continue
				}
			}
			p := &memberlist.Packet{Buf: buf, From: d.Addr, Timestamp: time.Now()}
			select {
			case g.packets <- p:
			default: // best-effort, as UDP would be
			}
		case <-g.stop:
			return
		}
	}
}

// drop counts n messages left out of a packet from peer. A client node
// relays what servers gossip and suspects members its probes miss, so a
// drop is routine: it is logged at debug level.
func (g *Transport) drop(peer, role string, n int) {
	total := g.dropped.Add(uint64(n))
	g.log.Debug("gossip about other members from a peer not trusted with it left out", "peer", peer, "role", role, "messages", n, "total", total)
}

// Dropped returns how many gossip messages were left out of untrusted
// peers' packets.
func (g *Transport) Dropped() uint64 { return g.dropped.Load() }

func (g *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return g.ip, g.port, nil
}

func (g *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return g.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a gossip packet. Like a UDP send, it is
// best-effort: a peer that cannot be reached loses the packet without an
// error, and memberlist's probes, not the send, find out that it is gone.
// The send waits at most sendTimeout for a connection.
func (g *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.sendTimeout)
	defer cancel()
	if err := g.q.SendDatagram(ctx, a.Addr, a.Name, b); err != nil {
		if errors.Is(err, transport.ErrTooLarge) {
			return time.Now(), err
		}
		g.log.Debug("gossip packet lost", "to", a.Addr, "err", err)
	}
	return time.Now(), nil
}

func (g *Transport) PacketCh() <-chan *memberlist.Packet { return g.packets }

func (g *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return g.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (g *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := g.q.OpenRawStream(ctx, a.Addr, a.Name)
	if err != nil {
		return nil, err
	}
	// memberlist reads a push/pull's answer from it: guarded as one sent.
	return g.guard(c), nil
}

// StreamCh delivers the gossip streams peers open, those of peers not
// trusted with others' state guarded (guard).
func (g *Transport) StreamCh() <-chan net.Conn { return g.streams }

// pumpStreams guards and hands on the streams peers open, until Shutdown.
func (g *Transport) pumpStreams() {
	for {
		select {
		case c := <-g.q.RawStreams():
			select {
			case g.streams <- g.guard(c):
			case <-g.stop:
				c.Close()
				return
			}
		case <-g.stop:
			return
		}
	}
}

func (g *Transport) Shutdown() error {
	g.once.Do(func() { close(g.stop) })
	g.wg.Wait()
	return nil
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)
