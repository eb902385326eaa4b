package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Datagram is an unreliable packet received from a peer.
type Datagram struct {
	From string   // the peer's name, from its certificate
	Role string   // the peer's role, from its certificate
	Addr net.Addr // the peer's UDP address
	Data []byte
}

// MaxDatagram is the largest payload SendDatagram accepts: what fits in
// one QUIC packet on a path with the minimum MTU.
const MaxDatagram = 1100

const streamRaw = 3

// addrPeer is a connection dialled by address, for callers (gossip) that
// know an address before they know a name.
type addrPeer struct {
	mu      sync.Mutex // protects following fields
	conn    *quic.Conn
	dialing chan struct{} // closed when the dial in progress ends
	next    time.Time
	fail    int
	err     error // why the last dial failed, for the callers that waited on it
	// refusals counts the connections in a row that the peer closed as
	// one too many (codeTooManyConns), or as not proven to be of the
	// process its name's other connection reaches (codeUnproven); see
	// refusedBackoff.
	refusals int
	// used is when addrPeer last returned the entry, on t.idleClock
	// (t.mu); reapIdle forgets an entry unused for peerIdle
	// with no live connection and no dial (peeridle.go).
	used int64
}

// adopt makes an accepted connection the one used to reach its peer's
// address: every node sends from the socket it listens on, so the remote
// address of an accepted connection is where the peer can be reached, and
// the pair then needs no second connection.
func (t *QUIC) adopt(c *quic.Conn) {
	p, err := t.addrPeer(c.RemoteAddr().String())
	if err != nil {
		return
	}
	p.mu.Lock()
	if p.conn == nil || p.conn.Context().Err() != nil {
		p.conn = c
	}
	p.mu.Unlock()
}

// addrPeer returns the entry for addr, creating it.
func (t *QUIC) addrPeer(addr string) (*addrPeer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if t.byAddr == nil {
		t.byAddr = make(map[string]*addrPeer)
	}
	p, ok := t.byAddr[addr]
	if !ok {
		p = &addrPeer{}
		t.byAddr[addr] = p
		t.strangers.member(addr)
	}
	p.used = t.idleClock()
	return p, nil
}

// dialTimeout bounds a dial in the background.
const dialTimeout = 5 * time.Second

// connAt returns a live connection to addr, dialling if needed. If name is
// not empty, the peer's certificate must name it. The dial runs in the
// background, bounded by dialTimeout: a caller whose ctx ends first gets
// an error, but the dial goes on for the callers after it.
func (t *QUIC) connAt(ctx context.Context, addr, name string) (*quic.Conn, error) {
	p, err := t.addrPeer(addr)
	if err != nil {
		return nil, err
	}
	for {
		p.mu.Lock()
		if c := p.conn; c != nil && c.Context().Err() == nil && (name == "" || peerName(c) == name) {
			p.mu.Unlock()
			return c, nil
		}
		if p.dialing == nil {
			if c := p.conn; c != nil && c.Context().Err() != nil {
				p.ended(c)
			}
			if wait := time.Until(p.next); wait > 0 {
				derr := p.err
				p.mu.Unlock()
				if derr != nil {
					return nil, redialErr(addr, wait, derr)
				}
				return nil, fmt.Errorf("%w: %s: redial in %v", ErrUnreachable, addr, wait.Round(time.Millisecond))
			}
			done, started := t.startDial(p, addr, name)
			if !started {
				p.mu.Unlock()
				return nil, ErrClosed
			}
			p.dialing = done
		}
		done := p.dialing
		p.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, ctx.Err())
		}
		p.mu.Lock()
		c, derr := p.conn, p.err
		p.mu.Unlock()
		if c == nil || c.Context().Err() != nil {
			// The peer may have turned this endpoint away after the dial
			// returned (a certificate it refuses: under TLS 1.3 its alert
			// comes once the client's handshake is done); say so.
			if c != nil {
				if taken := nameTaken(context.Cause(c.Context())); taken != nil {
					return nil, taken
				}
				if unproven := nameUnproven(context.Cause(c.Context())); unproven != nil {
					return nil, fmt.Errorf("%s: %w", addr, unproven)
				}
				if refused := refusedByPeer(context.Cause(c.Context())); refused != nil {
					return nil, fmt.Errorf("%s: %w", addr, refused)
				}
				if refused := tooManyConns(context.Cause(c.Context())); refused != nil {
					return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, refused)
				}
			}
			if derr != nil { // a TLS refusal says so, not only that the peer is unreachable
				return nil, dialErr(addr, derr)
			}
			return nil, fmt.Errorf("%w: %s: dial failed", ErrUnreachable, addr)
		}
	}
}

// dialErr is connAt's error for a dial of addr that failed with err. An
// error of dial names the peer and says it is unreachable already:
// wrapped again, it read "peer unreachable: A: dial failed: transport:
// peer unreachable:  A: ...".
func dialErr(addr string, err error) error {
	if errors.Is(err, ErrUnreachable) {
		return err
	}
	return fmt.Errorf("%w: %s: dial failed: %w", ErrUnreachable, addr, err)
}

// redialErr is connAt's error for addr while its next dial waits for
// wait, the last having failed with err (see dialErr).
func redialErr(addr string, wait time.Duration, err error) error {
	if errors.Is(err, ErrUnreachable) {
		return fmt.Errorf("%w (redial in %v)", err, wait.Round(time.Millisecond))
	}
	return fmt.Errorf("%w: %s: redial in %v; the last dial: %w", ErrUnreachable, addr, wait.Round(time.Millisecond), err)
}

// peerAt names the peer of a dial: its name and address, or the address
// alone (not after a space) when the dial names no peer.
func peerAt(name, addr string) string {
	if name == "" {
		return addr
	}
	return name + " " + addr
}

// startDial starts a dial of addr for p in the background, and returns
// the channel closed when it ends. It starts only while the endpoint is
// open (goLive): a caller of connAt passed addrPeer's check before a
// Close that may have waited for the endpoint's goroutines since.
// Called with p.mu held.
func (t *QUIC) startDial(p *addrPeer, addr, name string) (chan struct{}, bool) {
	done := make(chan struct{})
	started := t.goLive(func() {
		dctx, cancel := context.WithTimeout(t.ctx, dialTimeout)
		defer cancel()
		p.mu.Lock()
		next, fail := p.next, p.fail
		p.mu.Unlock()
		c, err := t.dial(dctx, addr, name, &next, &fail)
		p.mu.Lock()
		p.next, p.fail, p.err = next, fail, err
		if err == nil {
			p.conn = c
		} else if refusedForNow(err) != nil {
			p.refused()
		}
		p.dialing = nil
		p.mu.Unlock()
		close(done)
	})
	return done, started
}

// ended notes why c, the connection to the address that is gone, ended,
// before the next dial: one the peer closed as one connection too many,
// or as not yet proven of its name's process, is a refusal (refused);
// one that ended otherwise had been taken, and ends a run of refusals.
// Called with p.mu held.
func (p *addrPeer) ended(c *quic.Conn) {
	p.conn = nil
	if why := refusedForNow(context.Cause(c.Context())); why != nil {
		p.err = why
		p.refused()
		return
	}
	p.refusals = 0
}

// refused counts a refusal and holds the next dial back by
// refusedBackoff. Called with p.mu held.
func (p *addrPeer) refused() {
	p.refusals++
	if next := time.Now().Add(refusedBackoff(p.refusals)); next.After(p.next) {
		p.next = next
	}
}

// The backoff of a dialler refused as one connection too many: the
// peer's handshake and its refusal succeed as fast as they are asked
// for, and until 2026-12-06 a refused dialler dialled again at once, in
// a loop that lasted as long as the peer held its other connections (up
// to its idle timeout, 30 s). The wait doubles with each refusal in a
// row from refusedBase to refusedMax, drawn between half of it and all
// of it (math/rand/v2's source, seeded per process) so that the
// connections of several refused endpoints do not come back at once.
const (
	refusedBase = 250 * time.Millisecond
	refusedMax  = 10 * time.Second
)

// refusedBackoff is the wait after the nth refusal in a row (n >= 1).
func refusedBackoff(n int) time.Duration {
	d := min(refusedBase<<min(n-1, 16), refusedMax)
	return d/2 + rand.N(d/2+1)
}

// refusedForNow returns err as a refusal that a later dial may get past
// if it is one (tooManyConns, nameUnproven); nil otherwise.
func refusedForNow(err error) error {
	if why := tooManyConns(err); why != nil {
		return why
	}
	return nameUnproven(err)
}

// tooManyConns returns err as a refusal if it is the peer closing the
// connection as one too many of this endpoint's name (codeTooManyConns),
// with the peer's reason; nil otherwise.
func tooManyConns(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode == codeTooManyConns {
		return fmt.Errorf("the peer refused the connection: %s", ae.ErrorMessage)
	}
	return nil
}

// Reach dials addr unless a connection to it is open, waits until the
// peer serves the connection (it answers a ping on it), and returns why
// it cannot be reached: an error matching ErrUnreachable, and ErrRefused
// too when a TLS handshake was refused, or ErrNameTaken when the peer
// turned the connection away for a node of this name that answers it
// from another address (ErrNameUnproven, matching ErrUnreachable, when
// it did so because this endpoint's answer to its ping came late). A
// peer serves a connection only once it has found that no other live
// one holds its certificate's name (checkUnique: up to pingTimeout for
// each older one, whose peer a crash left silent): what was sent
// meanwhile waited, and a node restarted at another
// address after a crash had its first exchange (membership's join, 2 s
// on loopback) time out while the peer checked, and was told that no
// member answered.
func (t *QUIC) Reach(ctx context.Context, addr string) error {
	c, err := t.connAt(ctx, addr, "")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, servedWithin)
	defer cancel()
	if ok, _ := t.answersWithin(sctx, c); ok {
		return nil
	}
	return unserved(ctx, sctx, c, addr)
}

// unserved says why the peer at addr did not answer Reach's ping on c
// within sctx (Reach's ctx, bounded by servedWithin). A ping that failed
// before sctx ended failed with the connection: the peer's close may
// still be on its way, and is waited for (within sctx). A connection that
// ended says its cause: a refusal (ErrNameTaken, ErrPeerRefused, one
// connection too many) or the close's reason; the peer's delay is named
// only when servedWithin ran out. A peer holding MaxConnsPerPeer
// connections of this node's name refused it (0x12) 1.6 ms after the
// dial, and Reach said it had not served the connection within 6s.
func unserved(ctx, sctx context.Context, c *quic.Conn, addr string) error {
	select {
	case <-c.Context().Done():
	case <-sctx.Done():
	}
	if c.Context().Err() != nil {
		why := context.Cause(c.Context())
		if refused := peerRefusal(why); refused != nil {
			return fmt.Errorf("%s: %w", addr, refused)
		}
		if refused := tooManyConns(why); refused != nil {
			return fmt.Errorf("%w: %s: %w", ErrUnreachable, addr, refused)
		}
		return fmt.Errorf("%w: %s: the connection ended before the peer served it: %v", ErrUnreachable, addr, why)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	return fmt.Errorf("%w: %s: connected, but the peer did not serve the connection within %v", ErrUnreachable, addr, servedWithin)
}

// servedWithin bounds Reach's wait for the peer to serve a connection:
// its check of the older connections of this node's name, and a loaded
// machine's delays.
const servedWithin = 3 * pingTimeout

// dial opens a connection to addr, honouring and updating the backoff.
func (t *QUIC) dial(ctx context.Context, addr, name string, next *time.Time, fail *int) (*quic.Conn, error) {
	if wait := time.Until(*next); wait > 0 {
		return nil, fmt.Errorf("%w: %s: redial in %v", ErrUnreachable, addr, wait.Round(time.Millisecond))
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrUnreachable, addr, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := t.tr.Dial(dctx, ua, t.tlsConfig(name), t.qconf)
	if err != nil {
		*fail++
		*next = time.Now().Add(min(10*time.Millisecond<<min(*fail, 10), 2*time.Second))
		if te := (*quic.TransportError)(nil); errors.As(err, &te) && te.ErrorCode.IsCryptoError() {
			refused := ErrRefused
			if te.Remote {
				refused = ErrPeerRefused
			}
			return nil, fmt.Errorf("%w: %s: %w: %v", ErrUnreachable, peerAt(name, addr), refused, err)
		}
		if te := (*quic.TransportError)(nil); errors.As(err, &te) && te.Remote && te.ErrorCode == quic.ConnectionRefused {
			return nil, fmt.Errorf("%w: %s: %w: %v", ErrUnreachable, peerAt(name, addr), ErrPacedAsStranger, err)
		}
		return nil, fmt.Errorf("%w: %s: dial failed: %v", ErrUnreachable, peerAt(name, addr), err)
	}
	if err := t.track(c); errors.Is(err, ErrRefused) {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, peerAt(name, addr), err)
	} else if err != nil {
		return nil, err
	}
	*fail = 0
	t.strangers.dialled(c.RemoteAddr())
	t.wg.Go(func() { t.serveConn(c) })
	return c, nil
}

// SendDatagram sends an unreliable datagram to the node at addr (named
// name, if not empty) over its QUIC connection, dialling it if needed.
func (t *QUIC) SendDatagram(ctx context.Context, addr, name string, b []byte) error {
	if len(b) > MaxDatagram {
		return fmt.Errorf("%w: datagram of %d bytes, limit %d", ErrTooLarge, len(b), MaxDatagram)
	}
	c, err := t.connAt(ctx, addr, name)
	if err != nil {
		return err
	}
	if err := c.SendDatagram(b); err != nil {
		return err
	}
	t.counters.dgSent.Add(1)
	return nil
}

// Datagrams delivers the datagrams peers send. Datagrams that arrive while
// the channel is full are dropped.
func (t *QUIC) Datagrams() <-chan Datagram { return t.datagrams }

// RawStreams delivers the raw streams peers open with OpenRawStream.
func (t *QUIC) RawStreams() <-chan net.Conn { return t.raw }

// OpenRawStream opens a reliable byte stream to the node at addr (named
// name, if not empty), as a net.Conn.
func (t *QUIC) OpenRawStream(ctx context.Context, addr, name string) (net.Conn, error) {
	c, err := t.connAt(ctx, addr, name)
	if err != nil {
		return nil, err
	}
	if err := t.otherGroupOf(ctx, c); err != nil {
		return nil, err // groupgossip.go
	}
	s, err := c.OpenStreamSync(ctx)
	if err != nil {
		if why := peerRefusal(err); why != nil {
			return nil, why
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	if err := writeFrame(s, &frame{Type: frameHello, From: t.cfg.Name, Kind: streamRaw}, t.cfg.MaxFrame); err != nil {
		s.CancelWrite(2)
		if why := peerRefusal(err); why != nil {
			return nil, why
		}
		return nil, err
	}
	return &streamConn{s: s, r: s, local: c.LocalAddr(), remote: c.RemoteAddr(), peer: peerName(c), role: peerRole(c)}, nil
}

func (t *QUIC) receiveDatagrams(c *quic.Conn, name string) {
	role := peerRole(c)
	for {
		b, err := c.ReceiveDatagram(t.ctx)
		if err != nil {
			return
		}
		if t.ofOtherGroup(c) {
			continue // groupgossip.go
		}
		select {
		case t.datagrams <- Datagram{From: name, Role: role, Addr: c.RemoteAddr(), Data: b}:
			t.counters.dgRecv.Add(1)
		default:
			t.counters.dgDropped.Add(1)
		}
	}
}

// peerRole returns the role in the certificate of c's peer.
func peerRole(c *quic.Conn) string {
	if certs := c.ConnectionState().TLS.PeerCertificates; len(certs) > 0 && len(certs[0].Subject.OrganizationalUnit) > 0 {
		return certs[0].Subject.OrganizationalUnit[0]
	}
	return ""
}

// RawPeer is what the connections of RawStreams and OpenRawStream say of
// the peer at their other end: the name and role of its certificate.
type RawPeer interface {
	Peer() (name, role string)
}

// streamConn is a QUIC stream as a net.Conn.
type streamConn struct {
	s             *quic.Stream
	r             io.Reader // the stream, or a reader holding bytes read past the hello
	local, remote net.Addr
	peer, role    string // from the certificate of the peer at the other end
}

// Peer implements RawPeer.
func (c *streamConn) Peer() (name, role string) { return c.peer, c.role }

// Read and Write say ErrNameTaken when the peer refused the connection
// for a node of this name connected from another address, ErrNameUnproven
// when it refused it for now (this endpoint's answer to its ping came
// late), and ErrRefused when it refused this endpoint's certificate:
// memberlist's join reports the error's text, and the node tells either
// from a failure.
func (c *streamConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if why := peerRefusal(err); why != nil {
		err = why
	}
	return n, err
}

func (c *streamConn) Write(b []byte) (int, error) {
	n, err := c.s.Write(b)
	if why := peerRefusal(err); why != nil {
		err = why
	}
	return n, err
}

// peerRefusal returns err as ErrNameTaken (nameTaken), ErrNameUnproven
// (nameUnproven) or ErrRefused (refusedByPeer) if it is the peer turning
// this endpoint away; nil otherwise.
func peerRefusal(err error) error {
	if taken := nameTaken(err); taken != nil {
		return taken
	}
	if unproven := nameUnproven(err); unproven != nil {
		return unproven
	}
	return refusedByPeer(err)
}

// refusedByPeer returns err as ErrPeerRefused if it is the peer ending the
// handshake with a TLS alert: it refused this endpoint's certificate
// (revoked, expired, of a CA it does not hold). Under TLS 1.3 the client
// finishes its handshake before the server has checked the client's
// certificate, so a dial succeeds and the refusal comes with the first
// use of the connection.
func refusedByPeer(err error) error {
	var te *quic.TransportError
	if errors.As(err, &te) && te.Remote && te.ErrorCode.IsCryptoError() {
		return fmt.Errorf("%w: %w: %v", ErrUnreachable, ErrPeerRefused, err)
	}
	return nil
}
func (c *streamConn) Close() error {
	c.s.CancelRead(0)
	return c.s.Close()
}
func (c *streamConn) LocalAddr() net.Addr                { return c.local }
func (c *streamConn) RemoteAddr() net.Addr               { return c.remote }
func (c *streamConn) SetDeadline(t time.Time) error      { return c.s.SetDeadline(t) }
func (c *streamConn) SetReadDeadline(t time.Time) error  { return c.s.SetReadDeadline(t) }
func (c *streamConn) SetWriteDeadline(t time.Time) error { return c.s.SetWriteDeadline(t) }

var _ net.Conn = (*streamConn)(nil)

// serveRaw hands an accepted raw stream to RawStreams.
func (t *QUIC) serveRaw(c *quic.Conn, s *quic.Stream, r *bufio.Reader) {
	if t.otherGroupOf(c.Context(), c) != nil { // groupgossip.go
		s.CancelRead(0)
		s.CancelWrite(0)
		return
	}
	conn := &streamConn{s: s, r: io.MultiReader(bytesReader(r), s), local: c.LocalAddr(), remote: c.RemoteAddr(), peer: peerName(c), role: peerRole(c)}
	select {
	case t.raw <- conn:
	case <-t.ctx.Done():
		conn.Close()
	}
}

// bytesReader returns what r has buffered beyond what was read.
func bytesReader(r *bufio.Reader) io.Reader {
	b, _ := r.Peek(r.Buffered())
	return &onceReader{b: append([]byte(nil), b...)}
}

type onceReader struct{ b []byte }

func (o *onceReader) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, o.b)
	o.b = o.b[n:]
	return n, nil
}
