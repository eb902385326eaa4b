package transport

import "time"

// defaultPeerIdle is how long a peer (its two queues and their sendLoops)
// or a connection dialled by address may go unused before the endpoint
// forgets it. A member in a group with this node is sent heartbeats many
// times a second and is never idle that long; a departed one is. The
// next send to the name makes the peer again.
//
// Each name ever sent to kept its peer for the endpoint's life: two
// goroutines and two queues of QueueLen (4096) slots, about 200 KB. An
// ossd soak whose library clients joined and closed under new names,
// two every 20 s, grew the goroutines of the heap's leader from 71 to
// 285 in 3.5 minutes, its heap with them; byAddr kept an entry, and the
// ended connection in it, for each address a client had come from.
const defaultPeerIdle = time.Minute

// reapIdle forgets, every half peerIdle, the peers and address entries
// unused for peerIdle, until the endpoint closes.
func (t *QUIC) reapIdle() {
	tick := time.NewTicker(t.cfg.peerIdle / 2)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		}
		t.sweepIdle()
	}
}

// idleClock returns the nanoseconds since the endpoint was made, on the
// monotonic clock: what a peer's and an address entry's used hold, and
// what the sweep compares them with. On the wall clock (Unix
// nanoseconds, until 2026-12-07) a forward step of it past peerIdle (a
// VM resumed, NTP stepping the clock at boot) made every peer with
// empty queues look idle at once, and a Send between its lookup and
// its enqueue lost its message while returning nil. time.Since reads
// only the monotonic clock, once a Send.
func (t *QUIC) idleClock() int64 { return int64(time.Since(t.start)) }

// sweepIdle forgets the peers and address entries unused for peerIdle,
// as of now on idleClock.
func (t *QUIC) sweepIdle() {
	now := t.idleClock()
	t.forgetIdlePeers(now)
	t.forgetIdleAddrs(now)
}

// forgetIdlePeers drops the peers not looked up for peerIdle before now
// (on idleClock) whose queues hold nothing, and ends their sendLoops. A
// sender that looked one up just before reaches the forgotten peer,
// whose message is dropped, as a message to a peer that cannot be
// reached is.
func (t *QUIC) forgetIdlePeers(now int64) {
	idle := int64(t.cfg.peerIdle)
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, p := range t.peers {
		if now-p.used.Load() < idle || p.bulk.bytes.Load() != 0 || p.control.bytes.Load() != 0 {
			continue
		}
		delete(t.peers, name)
		close(p.forgotten)
	}
}

// forgetIdleAddrs drops the entries of byAddr unused for peerIdle
// before now (on idleClock) that hold no live connection and no dial. An entry's mu is taken before
// t.mu, never after (goLive): the candidates are chosen under t.mu,
// checked under their own, and dropped under t.mu if no caller took them
// meanwhile (their used unchanged).
func (t *QUIC) forgetIdleAddrs(now int64) {
	idle := int64(t.cfg.peerIdle)
	type candidate struct {
		addr string
		p    *addrPeer
		used int64
	}
	var old []candidate
	t.mu.Lock()
	for addr, p := range t.byAddr {
		if now-p.used >= idle {
			old = append(old, candidate{addr, p, p.used})
		}
	}
	t.mu.Unlock()
	for _, c := range old {
		c.p.mu.Lock()
		done := c.p.dialing == nil && (c.p.conn == nil || c.p.conn.Context().Err() != nil)
		c.p.mu.Unlock()
		if !done {
			continue
		}
		t.mu.Lock()
		if t.byAddr[c.addr] == c.p && c.p.used == c.used {
			delete(t.byAddr, c.addr)
		}
		t.mu.Unlock()
	}
}
