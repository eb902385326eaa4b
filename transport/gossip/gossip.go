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
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/objectsharing/oss/transport"
)

// Transport is memberlist's NodeAwareTransport over a QUIC endpoint:
// gossip packets travel as datagrams, memberlist's streams as raw
// streams. Shutdown stops the goroutine that reads the datagrams.
type Transport struct {
	q       *transport.QUIC
	ip      net.IP
	port    int
	packets chan *memberlist.Packet
	log     *slog.Logger
	// sendTimeout bounds the wait for a connection when sending a packet.
	sendTimeout time.Duration
	stop        chan struct{}
	wg          sync.WaitGroup
	once        sync.Once
}

// New returns a Transport over q that advertises ip:port. A packet send
// waits at most sendTimeout for a connection; lost packets are logged to
// log at debug level.
func New(q *transport.QUIC, ip net.IP, port int, sendTimeout time.Duration, log *slog.Logger) *Transport {
	g := &Transport{q: q, ip: ip, port: port, packets: make(chan *memberlist.Packet, 1024), stop: make(chan struct{}), sendTimeout: sendTimeout, log: log}
	g.wg.Go(g.pump)
	return g
}

func (g *Transport) pump() {
	for {
		select {
		case d := <-g.q.Datagrams():
			p := &memberlist.Packet{Buf: d.Data, From: d.Addr, Timestamp: time.Now()}
			select {
			case g.packets <- p:
			default: // best-effort, as UDP would be
			}
		case <-g.stop:
			return
		}
	}
}

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
	return g.q.OpenRawStream(ctx, a.Addr, a.Name)
}

func (g *Transport) StreamCh() <-chan net.Conn { return g.q.RawStreams() }

func (g *Transport) Shutdown() error {
	g.once.Do(func() { close(g.stop) })
	g.wg.Wait()
	return nil
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)
