package cluster

import (
	"net"
	"sync"
	"time"
)

// relay stands between a node and its peers: the node advertises the
// relay's address, and the relay forwards every datagram to the node's
// own socket and the answers back, through one socket per peer. Nodes
// send from the socket they listen on, so a datagram's source names its
// sender, and a relay that drops what comes from (and goes to) some
// peers cuts the node off from them: a partition made with nothing but
// oss.Config.Advertise.
type relay struct {
	front *net.UDPConn
	back  *net.UDPAddr // the node's socket; nil while it is down
	wg    sync.WaitGroup

	mu      sync.Mutex // protects following fields
	legs    map[string]*net.UDPConn
	blocked map[string]bool // peers' socket addresses cut off
	closed  bool
}

func newRelay() (*relay, error) {
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	r := &relay{front: front, legs: map[string]*net.UDPConn{}, blocked: map[string]bool{}}
	r.wg.Go(r.run)
	return r, nil
}

func (r *relay) addr() string { return r.front.LocalAddr().String() }

// setBack points the relay at the node's socket.
func (r *relay) setBack(addr string) error {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.back = a
	r.mu.Unlock()
	return nil
}

// block cuts the relay's node off from the peers at these socket
// addresses, and reconnects it with all others.
func (r *relay) block(peers []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.blocked)
	for _, p := range peers {
		r.blocked[p] = true
	}
}

func (r *relay) run() {
	buf := make([]byte, 64<<10)
	for {
		n, src, err := r.front.ReadFromUDP(buf)
		if err != nil {
			return
		}
		key := src.String()
		r.mu.Lock()
		if r.blocked[key] || r.back == nil || r.closed {
			r.mu.Unlock()
			continue
		}
		leg := r.legs[key]
		if leg == nil {
			leg, err = net.DialUDP("udp", nil, r.back)
			if err != nil {
				r.mu.Unlock()
				continue
			}
			r.legs[key] = leg
			r.wg.Go(func() { r.answer(leg, src) })
		}
		r.mu.Unlock()
		leg.Write(buf[:n])
	}
}

// answer carries the node's datagrams on one leg back to the peer.
func (r *relay) answer(leg *net.UDPConn, peer *net.UDPAddr) {
	buf := make([]byte, 64<<10)
	key := peer.String()
	for {
		n, err := leg.Read(buf)
		r.mu.Lock()
		closed, drop := r.closed, r.blocked[key]
		r.mu.Unlock()
		switch {
		case closed:
			return
		case err != nil:
			// A connected UDP socket reports the node's port closed (the
			// node is down, to be restarted) as an error: keep the leg.
			time.Sleep(time.Millisecond)
		case !drop:
			r.front.WriteToUDP(buf[:n], peer)
		}
	}
}

func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	r.front.Close()
	for _, leg := range r.legs {
		leg.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
