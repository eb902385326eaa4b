package transport

import (
	"context"

	"github.com/quic-go/quic-go"
)

// pingRelay is where RelayPings (or PassOffLife) passes an endpoint's
// pings on to.
type pingRelay struct {
	via        *QUIC
	addr, name string
	// lifeOnly: only the life is passed on (PassOffLife); challenges
	// are kept and revealed by the endpoint itself.
	lifeOnly bool
}

// RelayPings is for tests only; nothing else may call it. It makes t
// answer every ping as the process named name at addr answers the same
// ping (its hello's request included) sent from via, until called with a
// nil via: what a process holding a copy of that node's certificate can
// do, with a member's endpoint, to pass its life off as its own. Package
// oss's tests show that such a process is not taken for the node
// (CallerProof).
func (t *QUIC) RelayPings(via *QUIC, addr, name string) {
	if via == nil {
		t.relay.Store(nil)
		return
	}
	t.relay.Store(&pingRelay{via: via, addr: addr, name: name})
}

// PassOffLife is for tests only; nothing else may call it. It makes t
// answer every ping with the life the process named name at addr
// answers a plain ping sent from via with, until called with a nil via,
// while t keeps and reveals the challenges sent to it itself: what a
// process holding a copy of that node's certificate can do to be taken
// for the node by its life wherever it is pinged itself. Package oss's
// tests show that such a process is not taken for the node where
// membership holds the node's address.
func (t *QUIC) PassOffLife(via *QUIC, addr, name string) {
	if via == nil {
		t.relay.Store(nil)
		return
	}
	t.relay.Store(&pingRelay{via: via, addr: addr, name: name, lifeOnly: true})
}

// relayed returns the frames r's process answers a ping with body with,
// false if it does not answer.
func (t *QUIC) relayed(r *pingRelay, body []byte) ([][]byte, bool) {
	ctx, cancel := context.WithTimeout(t.ctx, pingTimeout)
	defer cancel()
	c, err := r.via.connAt(ctx, r.addr, r.name)
	if err != nil {
		return nil, false
	}
	ok, frames := r.via.pingWith(ctx, c, body)
	if !ok || frames[0] == nil {
		return nil, false
	}
	return frames, true
}

// relayPing answers a ping on s with what r's process answers the same
// one with, resetting s if it does not answer.
func (t *QUIC) relayPing(r *pingRelay, s *quic.Stream, body []byte) {
	frames, ok := t.relayed(r, body)
	if !ok {
		s.CancelWrite(2)
		return
	}
	var out []byte
	for _, b := range frames {
		out, _ = appendFrame(out, &frame{Type: frameResponse, Body: b})
	}
	s.Write(out)
}
