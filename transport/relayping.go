package transport

import (
	"context"

	"github.com/quic-go/quic-go"
)

// pingRelay is where RelayPings passes an endpoint's pings on to.
type pingRelay struct {
	via        *QUIC
	addr, name string
}

// RelayPings makes t answer every ping as the process named name at addr
// answers the same ping (its hello's request included) sent from via,
// until called with a nil via: what a process holding a copy of that
// node's certificate can do, with a member's endpoint, to pass its life
// off as its own. Package oss's tests show that such a process is not
// taken for the node (CallerProof); nothing else calls it.
func (t *QUIC) RelayPings(via *QUIC, addr, name string) {
	if via == nil {
		t.relay.Store(nil)
		return
	}
	t.relay.Store(&pingRelay{via: via, addr: addr, name: name})
}

// relayPing answers a ping on s with what r's process answers the same
// one with, resetting s if it does not answer.
func (t *QUIC) relayPing(r *pingRelay, s *quic.Stream, body []byte) {
	ctx, cancel := context.WithTimeout(t.ctx, pingTimeout)
	defer cancel()
	c, err := r.via.connAt(ctx, r.addr, r.name)
	if err != nil {
		s.CancelWrite(2)
		return
	}
	ok, frames := r.via.pingWith(ctx, c, body)
	if !ok || frames[0] == nil {
		s.CancelWrite(2)
		return
	}
	var out []byte
	for _, b := range frames {
		out, _ = appendFrame(out, &frame{Type: frameResponse, Body: b})
	}
	s.Write(out)
}
