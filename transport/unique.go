package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/quic-go/quic-go"
)

// codeDuplicate closes an accepted connection whose certificate names a
// peer connected from another address that still answers there.
const codeDuplicate quic.ApplicationErrorCode = 0x11

// codeTooManyConns closes an accepted connection of a peer that has
// MaxConnsPerPeer live connections with this node already.
const codeTooManyConns quic.ApplicationErrorCode = 0x12

// codeUnproven closes an accepted connection whose certificate names a
// peer connected from another address that answers there (or this
// node), and whose own peer did not answer a ping within pingTimeout:
// it may be that process by another path, slow to answer, so the
// dialler is told to try again (ErrNameUnproven), not refused for good.
const codeUnproven quic.ApplicationErrorCode = 0x13

// errUnanswered marks checkUnique's refusal of a connection whose peer
// did not answer its ping in time: not proven another process.
var errUnanswered = errors.New("not taken yet, try again")

// MaxConnsPerPeer is the most connections one peer (the name its
// certificate carries) keeps with a node at once, those either side
// dialled: one more that it opens is closed. A pair shares one
// connection, two when both dialled at once, and a restarted peer's old
// ones end within moments (a stateless reset, or the ping of
// checkUnique); each connection may hold InboundBytes of frames and
// 1024 streams, so the connections of one certificate were the only
// bound on what it pinned.
const MaxConnsPerPeer = 8

// checkPeerConns refuses c, just accepted, if its peer has
// MaxConnsPerPeer other live connections with this node. The accepting
// loop calls it once a connection at a time, so the count holds the
// connections accepted before c and none after.
func (t *QUIC) checkPeerConns(c *quic.Conn) error {
	name := peerName(c)
	t.mu.Lock()
	n := 0
	for o := range t.conns {
		if o != c && o.Context().Err() == nil && peerName(o) == name {
			n++
		}
	}
	t.mu.Unlock()
	if n >= MaxConnsPerPeer {
		return fmt.Errorf("node %q has %d connections with this node already, the most a peer may keep: a connection from %s is not taken", name, n, c.RemoteAddr())
	}
	return nil
}

// streamPing is the kind of a stream that asks whether the peer still
// answers on a connection: the receiver answers with an empty response.
const streamPing = 5

// pingTimeout is how long the peer of an older connection has to answer
// before a connection with its certificate from another address takes
// its place.
const pingTimeout = 2 * time.Second

// serveAccepted serves a connection a peer opened, unless its
// certificate names this node and it comes from elsewhere than this
// endpoint's own socket, or another live connection has the same
// certificate name from another address and its peer still answers
// there: then the new one is a second holder of that node's certificate,
// which is refused (closed with a reason it reads), and the live node
// keeps its connections. A connection whose peer no
// longer answers (the node restarted at another address) is closed and
// the new one takes its place.
func (t *QUIC) serveAccepted(c *quic.Conn) {
	if err := t.checkUnique(c); err != nil {
		code := codeDuplicate
		switch {
		case errors.Is(err, ErrClosed):
			c.CloseWithError(0, "the endpoint closes")
			t.untrack(c)
			return
		case errors.Is(err, errUnanswered):
			code = codeUnproven
		}
		t.refused.log(t.log, peerName(c), err)
		c.CloseWithError(code, truncate(err.Error(), 256))
		t.untrack(c)
		return
	}
	t.closeRekeyed(c)
	t.adopt(c)
	t.serveConn(c)
}

// closeRekeyed closes the live connections that have c's peer name and
// address but a certificate of another public key, and whose peer no
// longer answers on them: the node restarted there with a new
// certificate and key (renewed, or of a new CA). Its stateless reset key
// derives from its private key, so the reset that ends the connections
// of a node restarted on the same key does not end these; they were kept
// until their idle timeout (30 s), every message and datagram to the
// node went into them meanwhile, and each node of a CA rotation done by
// rolling restart went unreachable for that long. A peer that still
// answers (the same process, its certificate reloaded) keeps its
// connection.
func (t *QUIC) closeRekeyed(c *quic.Conn) {
	name, addr, key := peerName(c), c.RemoteAddr().String(), peerKey(c)
	t.mu.Lock()
	var old []*quic.Conn
	for o := range t.conns {
		if o != c && o.Context().Err() == nil && peerName(o) == name && o.RemoteAddr().String() == addr && !bytes.Equal(peerKey(o), key) {
			old = append(old, o)
		}
	}
	t.mu.Unlock()
	for _, o := range old {
		if ok, _ := t.answers(o); ok || t.ctx.Err() != nil {
			continue
		}
		t.log.Info("connection closed: its peer no longer answers there and connected again from its address with another key", "peer", name, "addr", addr)
		o.CloseWithError(0, "the peer connected again with another key")
	}
}

// peerKey returns the public key of c's peer certificate, nil if none.
func peerKey(c *quic.Conn) []byte {
	certs := c.ConnectionState().TLS.PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	return certs[0].RawSubjectPublicKeyInfo
}

// checkUnique returns an error if a live connection other than c has
// c's peer name from another address and its peer answers a ping, unless
// c's peer is that same process (it answers c's ping with the same life:
// a node behind a NAT, a proxy or two interfaces reaches this one from
// more than one address); it closes those whose peer does not answer.
// A connection with this node's own name is taken only from this
// endpoint itself, or from a peer that answers with this endpoint's life.
// The refusal is final (codeDuplicate) only when c's peer answered, with
// another life or none; one that did not answer in time (a starved
// machine) may be the same process, and is refused with errUnanswered
// (codeUnproven): it may try again, and is taken once it answers in
// time. One that never answers is never taken.
func (t *QUIC) checkUnique(c *quic.Conn) error {
	name, addr := peerName(c), c.RemoteAddr().String()
	if name == t.cfg.Name && !t.isSelf(c.RemoteAddr()) {
		return t.checkOwnName(c)
	}
	t.mu.Lock()
	var others []*quic.Conn
	for o := range t.conns {
		if o != c && o.Context().Err() == nil && peerName(o) == name && o.RemoteAddr().String() != addr {
			others = append(others, o)
		}
	}
	t.mu.Unlock()
	var newLife []byte
	asked, newAnswered := false, false
	for _, o := range others {
		if ok, life := t.answers(o); ok {
			if t.ofAnotherGroup(life) {
				continue // a node of that name in another cluster: it holds none here
			}
			if !asked {
				newAnswered, newLife = t.answers(c)
				asked = true
			}
			if len(life) > 0 && sameLife(life, newLife) {
				continue // the same process, by another path
			}
			if t.ctx.Err() != nil {
				return ErrClosed
			}
			if !newAnswered && len(life) > 0 {
				return fmt.Errorf("node %q is connected from %s and answers there, and the connection with its certificate from %s did not answer a ping within %v to show it is that process: %w",
					name, o.RemoteAddr(), addr, pingTimeout, errUnanswered)
			}
			return fmt.Errorf("node %q is connected from %s and answers there: a second connection with its certificate, from %s, is not taken (a node restarted at another address is, once its old connection stops answering, within %v)",
				name, o.RemoteAddr(), addr, pingTimeout)
		}
		if t.ctx.Err() != nil {
			return ErrClosed
		}
		t.log.Info("connection closed: its peer no longer answers there and connected from another address", "peer", name, "old", o.RemoteAddr().String(), "new", addr)
		o.CloseWithError(0, "the peer connected from another address")
	}
	return nil
}

// checkOwnName is checkUnique for c, a connection with this node's own
// name from elsewhere than this endpoint's socket: taken if its peer
// answers a ping with this endpoint's life (this process, by another
// path), refused for good if it answers with another or none, and
// refused for now (errUnanswered) if it does not answer in time.
func (t *QUIC) checkOwnName(c *quic.Conn) error {
	ok, answer := t.answers(c)
	switch {
	case ok && sameLife(answer, t.life):
		return nil
	case t.ctx.Err() != nil:
		return ErrClosed
	case !ok:
		return fmt.Errorf("node %q is this node, at %s: the connection with its certificate from %s did not answer a ping within %v to show it is this process: %w",
			t.cfg.Name, t.Addr(), c.RemoteAddr(), pingTimeout, errUnanswered)
	}
	return fmt.Errorf("node %q is this node, at %s: a connection with its certificate, from %s, is not taken", t.cfg.Name, t.Addr(), c.RemoteAddr())
}

// isSelf reports whether addr is this endpoint's own socket: a node
// whose join list names its own address connects to itself, and is let
// in; any other holder of its name is not.
func (t *QUIC) isSelf(addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	own, ok2 := t.Addr().(*net.UDPAddr)
	if !ok || !ok2 || ua.Port != own.Port {
		return false
	}
	if ua.IP.IsLoopback() || ua.IP.Equal(own.IP) {
		return true
	}
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range ifaddrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.Equal(ua.IP) {
			return true
		}
	}
	return false
}

// answers reports whether the peer of c answers a ping on it within
// pingTimeout, and the life it answers with (newLife: random for each
// endpoint, so two connections whose peers answer the same one reach one
// process). A peer that resets the stream (an older build, which knows no
// ping) answers too, with no life.
func (t *QUIC) answers(c *quic.Conn) (bool, []byte) {
	ctx, cancel := context.WithTimeout(t.ctx, pingTimeout)
	defer cancel()
	return t.answersWithin(ctx, c)
}

// answersWithin is answers, waiting until ctx ends.
func (t *QUIC) answersWithin(ctx context.Context, c *quic.Conn) (bool, []byte) {
	ok, frames := t.pingWith(ctx, c, nil)
	if !ok {
		return false, nil
	}
	return true, frames[0]
}

// SetGroup sets the group this endpoint is of, 0 for none (package oss:
// the node's cluster ID). Two clusters may share a CA and node names: a
// connection whose peer answers a ping with another group than this
// endpoint's is no holder of its name here, and a node of that name
// connecting from elsewhere is not refused for it; nor are its datagrams
// and raw streams taken (groupgossip.go).
func (t *QUIC) SetGroup(g uint64) { t.group.Store(g) }

// lifeLen is the length of a life; a ping's answer carries the
// endpoint's group after it, if it has one.
const lifeLen = 16

// pingAnswer is this endpoint's answer to a ping: its life, then its
// group unless 0.
func (t *QUIC) pingAnswer() []byte {
	g := t.group.Load()
	if g == 0 {
		return t.life
	}
	return binary.BigEndian.AppendUint64(slices.Clip(t.life), g)
}

// splitAnswer returns the life and the group (0 for none) of a ping's
// answer.
func splitAnswer(b []byte) (life []byte, group uint64) {
	if len(b) == lifeLen+8 {
		return b[:lifeLen], binary.BigEndian.Uint64(b[lifeLen:])
	}
	return b, 0
}

// sameLife reports whether two ping answers, or an answer and a life,
// are of one endpoint: their lives, not their groups, which an endpoint
// sets once it takes its cluster's ID, between two pings perhaps.
func sameLife(a, b []byte) bool {
	la, _ := splitAnswer(a)
	lb, _ := splitAnswer(b)
	return bytes.Equal(la, lb)
}

// ofAnotherGroup reports whether a ping's answer is of a group other
// than this endpoint's, both having one.
func (t *QUIC) ofAnotherGroup(answer []byte) bool {
	_, g := splitAnswer(answer)
	own := t.group.Load()
	return g != 0 && own != 0 && g != own
}

// newLife returns a random token that names one endpoint for as long as
// it lives.
func newLife() []byte {
	b := make([]byte, 16)
	rand.Read(b)
	return b
}

// nameTaken returns err as ErrNameTaken, with the peer's reason, if it
// is the peer closing the connection for a node of this name connected
// from another address (codeDuplicate); nil otherwise.
func nameTaken(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode == codeDuplicate {
		return fmt.Errorf("%w: %s", ErrNameTaken, ae.ErrorMessage)
	}
	return nil
}

// nameUnproven returns err as ErrNameUnproven, with the peer's reason,
// if it is the peer closing the connection because this endpoint did not
// answer its ping in time to show it is the process its name's other
// connection reaches (codeUnproven); nil otherwise.
func nameUnproven(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode == codeUnproven {
		return fmt.Errorf("%w: %s", ErrNameUnproven, ae.ErrorMessage)
	}
	return nil
}
