package transport

import (
	"sync/atomic"

	"github.com/quic-go/quic-go"
)

// QUICStats count what a QUIC endpoint did since it started, for metrics.
// The byte and packet counts are quic-go's, of every connection the
// endpoint has had (QUIC packets, without UDP and IP headers); they cost
// nothing per packet here, being read only when Stats is called.
type QUICStats struct {
	// Conns is the number of connections open now.
	Conns int
	// BytesSent and BytesReceived count QUIC packet bytes, retransmissions
	// and duplicates included.
	BytesSent, BytesReceived uint64
	// PacketsSent and PacketsReceived count QUIC packets.
	PacketsSent, PacketsReceived uint64
	// PacketsLost counts packets declared lost (one later received is
	// taken back, so this may go down while a connection is open).
	PacketsLost uint64
	// DatagramsSent and DatagramsReceived count unreliable datagrams
	// (membership gossip); DatagramsDropped those that arrived while the
	// Datagrams channel was full.
	DatagramsSent, DatagramsReceived, DatagramsDropped uint64
	// OtherGroup counts the datagrams and raw streams not taken from, and
	// the raw streams not opened to, peers of another group (SetGroup).
	OtherGroup uint64
	// StrangersPaced counts the Initial packets refused before any
	// cryptography from addresses strangers handshook from, past their
	// pace (strangers.go): packets, not handshakes, as a ClientHello may
	// take two, and a dialler sends its Initial again until it hears the
	// refusal.
	StrangersPaced uint64
}

// quicCounters are the counters QUICStats adds to quic-go's.
type quicCounters struct {
	dgSent, dgRecv, dgDropped atomic.Uint64
	otherGroup                atomic.Uint64
	strangersPaced            atomic.Uint64
	// closed sums the connections gone, under QUIC.mu.
	closed quic.ConnectionStats
}

// retire adds a closing connection's counts to those of the gone ones.
// Called with t.mu held.
func (t *QUIC) retire(c *quic.Conn) {
	s := c.ConnectionStats()
	t.counters.closed.BytesSent += s.BytesSent
	t.counters.closed.BytesReceived += s.BytesReceived
	t.counters.closed.PacketsSent += s.PacketsSent
	t.counters.closed.PacketsReceived += s.PacketsReceived
	t.counters.closed.PacketsLost += s.PacketsLost
}

// Stats returns the endpoint's counters.
func (t *QUIC) Stats() QUICStats {
	t.mu.Lock()
	cs := t.counters.closed
	n := len(t.conns)
	for c := range t.conns {
		s := c.ConnectionStats()
		cs.BytesSent += s.BytesSent
		cs.BytesReceived += s.BytesReceived
		cs.PacketsSent += s.PacketsSent
		cs.PacketsReceived += s.PacketsReceived
		cs.PacketsLost += s.PacketsLost
	}
	t.mu.Unlock()
	return QUICStats{
		Conns:     n,
		BytesSent: cs.BytesSent, BytesReceived: cs.BytesReceived,
		PacketsSent: cs.PacketsSent, PacketsReceived: cs.PacketsReceived,
		PacketsLost:       cs.PacketsLost,
		DatagramsSent:     t.counters.dgSent.Load(),
		DatagramsReceived: t.counters.dgRecv.Load(),
		DatagramsDropped:  t.counters.dgDropped.Load(),
		OtherGroup:        t.counters.otherGroup.Load(),
		StrangersPaced:    t.counters.strangersPaced.Load(),
	}
}
