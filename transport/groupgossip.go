package transport

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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

// peerGroup returns the group c's peer answered a ping with (0 for
// none), whether it has answered, and the channel closed when the
// question in flight ends (nil if none). It never waits: a connection
// whose peer has not answered yet is asked in the background (askGroup),
// one question at a time, again once a question ends unanswered, and a
// peer that answered with no group again after groupAskAgain (a node
// that had not joined yet when it connected takes its cluster's ID
// later). Until 2026-12-06 the first datagram of a connection waited
// for the answer, up to pingTimeout, on the loop that reads the
// connection's datagrams, and every datagram of a peer that did not
// answer did again: memberlist's acks waited behind it.
func (t *QUIC) peerGroup(c *quic.Conn) (group uint64, known bool, asking <-chan struct{}) {
	v, ok := t.groups.Load(c)
	if !ok {
		if c.Context().Err() != nil {
			return 0, false, nil // untrack has run, or will: keep no entry
		}
		v, _ = t.groups.LoadOrStore(c, &groupState{})
	}
	s := v.(*groupState)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asking == nil && (!s.known || s.group == 0 && time.Since(s.at) >= groupAskAgain) {
		done := make(chan struct{})
		if t.goLive(func() { t.askGroup(c, s, done) }) {
			s.asking = done
		}
	}
	return s.group, s.known, s.asking
}

// askGroup asks c's peer its group (a ping) for peerGroup, and keeps
// the answer in s until the connection ends.
func (t *QUIC) askGroup(c *quic.Conn, s *groupState, done chan struct{}) {
	if f := testAskGroup.Load(); f != nil {
		(*f)(t)
	}
	ok, answer := t.answers(c)
	_, g := splitAnswer(answer)
	ok = ok && c.Context().Err() == nil
	s.mu.Lock()
	if ok {
		s.known, s.group, s.at = true, g, time.Now()
	}
	s.asking = nil
	s.mu.Unlock()
	close(done)
	if c.Context().Err() != nil {
		t.groups.Delete(c) // an entry stored after untrack's Delete
		return
	}
	if own := t.group.Load(); ok && g != 0 && own != 0 && g != own {
		t.log.Info("a node of another group: its gossip (datagrams, raw streams) is not taken",
			"peer", peerName(c), "addr", c.RemoteAddr().String(), "group", fmt.Sprintf("%016x", g), "own", fmt.Sprintf("%016x", own))
	}
}

// testAskGroup, if set, is called by askGroup before it asks (tests: a
// question that stays in flight).
var testAskGroup atomic.Pointer[func(*QUIC)]

// groupState is what an endpoint knows of the group of a connection's
// peer (QUIC.groups).
type groupState struct {
	mu     sync.Mutex // protects following fields
	known  bool       // the peer answered a ping
	group  uint64     // its answer's group, 0 for none
	at     time.Time  // when it answered
	asking chan struct{}
}

// groupAskAgain is how long a peer's answer of no group is kept.
const groupAskAgain = 5 * time.Second

// ofOtherGroup reports whether c's peer is known to be of another group
// than this endpoint, both having one, and counts it
// (QUICStats.OtherGroup). It does not wait for the peer's answer: what
// comes before it is taken, as from a peer that does not answer (of
// any group). receiveDatagrams calls it for every datagram.
func (t *QUIC) ofOtherGroup(c *quic.Conn) bool {
	own := t.group.Load()
	if own == 0 {
		return false
	}
	g, _, _ := t.peerGroup(c)
	return t.otherGroup(c, own, g) != nil
}

// otherGroupOf returns an error matching ErrOtherGroup, naming both
// groups, if c's peer is of another group than this endpoint, both having
// one, and counts it; nil otherwise. It waits for a question in flight to
// end, or ctx: raw streams (memberlist's push/pulls, which carry every
// member's alive message) are served and opened on goroutines of their
// own, and take no other group's before its peer has answered.
func (t *QUIC) otherGroupOf(ctx context.Context, c *quic.Conn) error {
	own := t.group.Load()
	if own == 0 {
		return nil
	}
	g, known, asking := t.peerGroup(c)
	if !known && asking != nil {
		select {
		case <-asking:
		case <-ctx.Done():
		}
		g, _, _ = t.peerGroup(c)
	}
	return t.otherGroup(c, own, g)
}

// otherGroup is otherGroupOf's verdict on group g of c's peer.
func (t *QUIC) otherGroup(c *quic.Conn, own, g uint64) error {
	if g == 0 || g == own {
		return nil
	}
	t.counters.otherGroup.Add(1)
	return fmt.Errorf("%w: %s at %s is of group %016x, this endpoint of %016x", ErrOtherGroup, peerName(c), c.RemoteAddr(), g, own)
}
