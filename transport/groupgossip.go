package transport

import (
	"fmt"
	"time"

	"github.com/quic-go/quic-go"
)

// Gossip within one group.
//
// Two clusters may share a CA and node names (unique.go). memberlist
// probes a member by address and name, and takes an ack by its sequence
// number alone: a node of another cluster, of a member's name, up at the
// member's old address before a probe of it failed, acked the probes of
// it there, and the member stayed live at that address for as long as
// the other node ran; the member itself, back elsewhere, was never taken
// at its new one. An endpoint with a group (SetGroup) therefore takes no
// datagram and no raw stream (memberlist's packets and streams: probes,
// acks, pushes) on a connection whose peer answers a ping with another
// group, and opens no raw stream to one. A peer of no group (not joined
// yet, or of an older build) is of any.

// ErrOtherGroup: the peer at the address answers for another group than
// this endpoint's (SetGroup). An error with it matches ErrUnreachable.
var ErrOtherGroup = fmt.Errorf("%w: the peer is of another group", ErrUnreachable)

// peerGroup returns the group c's peer answers a ping with, 0 for none,
// asking it once a connection: the answer is kept until the connection
// ends. A peer that does not answer is asked again the next time, and
// one of no group again after groupAskAgain: a node that had not joined
// yet when it connected takes its cluster's ID later.
func (t *QUIC) peerGroup(c *quic.Conn) uint64 {
	if v, ok := t.groups.Load(c); ok {
		if a := v.(groupAnswer); a.group != 0 || time.Since(a.at) < groupAskAgain {
			return a.group
		}
	}
	ok, answer := t.answers(c)
	_, g := splitAnswer(answer)
	if !ok || c.Context().Err() != nil {
		return 0
	}
	t.groups.Store(c, groupAnswer{group: g, at: time.Now()})
	if own := t.group.Load(); g != 0 && own != 0 && g != own {
		t.log.Info("a node of another group: its gossip (datagrams, raw streams) is not taken",
			"peer", peerName(c), "addr", c.RemoteAddr().String(), "group", fmt.Sprintf("%016x", g), "own", fmt.Sprintf("%016x", own))
	}
	return g
}

// groupAnswer is a peer's group as its ping answered, and when.
type groupAnswer struct {
	group uint64
	at    time.Time
}

// groupAskAgain is how long a peer's answer of no group is kept.
const groupAskAgain = 5 * time.Second

// ofOtherGroup reports whether c's peer is of another group than this
// endpoint, both having one, and counts it (QUICStats.OtherGroup).
func (t *QUIC) ofOtherGroup(c *quic.Conn) bool {
	return t.otherGroupOf(c) != nil
}

// otherGroupOf returns an error matching ErrOtherGroup, naming both
// groups, if c's peer is of another group than this endpoint, both having
// one, and counts it; nil otherwise.
func (t *QUIC) otherGroupOf(c *quic.Conn) error {
	own := t.group.Load()
	if own == 0 {
		return nil
	}
	g := t.peerGroup(c)
	if g == 0 || g == own {
		return nil
	}
	t.counters.otherGroup.Add(1)
	return fmt.Errorf("%w: %s at %s is of group %016x, this endpoint of %016x", ErrOtherGroup, peerName(c), c.RemoteAddr(), g, own)
}
