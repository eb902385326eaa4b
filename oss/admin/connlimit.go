package admin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/objectsharing/oss/oss/pki"
)

// DefaultMaxConns is the default Options.MaxConns.
const DefaultMaxConns = 256

// limitListener accepts a connection only while fewer than its limit are
// open; Accept waits until one closes. The connections beyond wait in the
// kernel's backlog, which holds none of the process's file descriptors.
// Without it whoever could reach the port, with no certificate, held one
// descriptor of the node a connection (each for the handshake's timeout,
// then again), until the node could not open its files: its log could
// not start a segment and its checkpoints failed.
type limitListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
	share *connShare // each identity's part of the slots
}

func newLimitListener(ln net.Listener, n int, share *connShare) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), share: share}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, slots: l.slots, share: l.share}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn gives its slot back when it is first closed, and its
// identity's count (connShare).
type limitedConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
	share *connShare
	// excess says the connection is past its identity's share: its
	// request is refused (set by share.verified, before any request).
	excess atomic.Bool

	// Of share.verified, under share.mu:
	id      Identity // whose the connection is
	counted bool     // it counts in share.open[id]

	gmu sync.Mutex // protects following fields
	// graceUntil is when an excess connection's request must have come
	// (armGrace); zero once it has, and for any other connection.
	graceUntil time.Time
	readBy     time.Time // the read deadline the server set
}

// SetDeadline sets both deadlines, the read one as SetReadDeadline does.
func (c *limitedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// SetReadDeadline sets the server's read deadline; an excess connection's
// reads end at its grace if that comes first.
func (c *limitedConn) SetReadDeadline(t time.Time) error {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	c.readBy = t
	return c.Conn.SetReadDeadline(c.deadline())
}

// deadline is the earlier of readBy and graceUntil, zero for none.
func (c *limitedConn) deadline() time.Time {
	if c.graceUntil.IsZero() || !c.readBy.IsZero() && c.readBy.Before(c.graceUntil) {
		return c.readBy
	}
	return c.graceUntil
}

// armGrace bounds the connection's reads by until (excessGrace).
func (c *limitedConn) armGrace(until time.Time) {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	c.graceUntil = until
	c.Conn.SetReadDeadline(c.deadline())
}

// endGrace gives the connection's reads the server's deadline back.
func (c *limitedConn) endGrace() {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	if !c.graceUntil.IsZero() {
		c.graceUntil = time.Time{}
		c.Conn.SetReadDeadline(c.readBy)
	}
}

// Read reads as the connection does; a read ended by the grace of an
// excess connection whose bytes have come reads them after all.
func (c *limitedConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if n > 0 || err == nil || !c.cameInTime(err) {
			return n, err
		}
	}
}

// cameInTime reports whether err is the end of an excess connection's
// grace while bytes wait in its socket: they came within it, the server
// only got to them late (a loaded machine), so the grace ends and the
// read goes on. Before, the grace was a timer that closed the connection
// with its request unread, and the client, which had sent it at once,
// saw "connection reset by peer" instead of its 429.
func (c *limitedConn) cameInTime(err error) bool {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	c.gmu.Lock()
	defer c.gmu.Unlock()
	now := time.Now()
	if c.graceUntil.IsZero() || now.Before(c.graceUntil) || !c.readBy.IsZero() && !now.Before(c.readBy) {
		return false // the server's own deadline
	}
	if !pending(c.Conn) {
		return false
	}
	c.graceUntil = time.Time{}
	c.Conn.SetReadDeadline(c.readBy)
	return true
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.share != nil {
			c.share.release(c)
		}
		<-c.slots
	})
	return err
}

// excessGrace is how long a connection past its identity's share is
// kept, after its handshake, for its first request, which is answered
// 429 (connShare): a client sends that request as its handshake ends,
// and one that sends none gives its slot back at once rather than at
// the header timeout. The grace bounds the connection's reads (a read
// deadline, limitedConn), so a request that came within it is answered
// however late the server gets to it.
const excessGrace = time.Second

// connShare keeps each identity (a client certificate's name and role,
// as the rate limiter keys it) to at most max of the listener's
// connections. Without it one certificate opening connections as fast as
// it could held all MaxConns of them (its requests refused for their
// rate held theirs a second each), and every other operator waited in
// the kernel's backlog. A connection is counted once its handshake has
// verified its certificate, and given back when it closes; one past the
// share is marked excess: its first request is answered 429 and the
// connection closed (api's refuseExcess), or it is closed excessGrace
// after its handshake if nothing of a request has come by then.
type connShare struct {
	max     int // per identity; 0: no share (an insecure listener)
	total   int // the listener's MaxConns, for the message
	log     *slog.Logger
	refused atomic.Int64 // oss_admin_conns_refused_total

	mu     sync.Mutex // protects following fields
	open   map[Identity]int
	warned time.Time // when a refusal was last logged
	quiet  int       // refusals not logged since
}

func newConnShare(perID, total int, log *slog.Logger) *connShare {
	return &connShare{max: perID, total: total, log: log, open: map[Identity]int{}}
}

// verified counts c for the identity of its verified certificate chain,
// or marks it excess if that identity holds its share already. The
// handshake goes on either way: the refusal is an HTTP answer a client
// can read, not a TLS alert.
func (s *connShare) verified(c *limitedConn, chain []*x509.Certificate) {
	if s == nil || s.max <= 0 || len(chain) == 0 {
		return
	}
	id := Identity{Name: chain[0].Subject.CommonName}
	if ou := chain[0].Subject.OrganizationalUnit; len(ou) > 0 {
		id.Role = pki.Role(ou[0])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.counted || c.excess.Load() {
		return
	}
	c.id = id
	if s.open[id] >= s.max {
		c.excess.Store(true)
		c.armGrace(time.Now().Add(excessGrace))
		s.refused.Add(1)
		return
	}
	s.open[id]++
	c.counted = true
}

// release gives back what verified counted of c.
func (s *connShare) release(c *limitedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.counted {
		return
	}
	c.counted = false
	if s.open[c.id]--; s.open[c.id] <= 0 {
		delete(s.open, c.id)
	}
}

// warn logs a refusal of id, at most once a minute with the count of
// those not logged since.
func (s *connShare) warn(id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.warned) < warnEvery {
		s.quiet++
		return
	}
	s.log.Warn("admin: a certificate holds its share of the admin interface's connections: its next ones are refused with 429 and closed",
		"client", id.Name, "role", string(id.Role), "share", s.max, "max_conns", s.total, "unlogged", s.quiet)
	s.warned, s.quiet = now, 0
}

type connKey struct{}

// connContext carries a connection of the listener in its requests'
// context (http.Server.ConnContext), for refuseExcess.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// refuseExcess answers a request on a connection past its identity's
// share, and reports whether it did: 429 with Retry-After and the state
// rate-limited, as a request over the rate is answered (the client asks
// again after the delay, then goes on to the next node), but at once,
// and the connection is closed after the answer, giving its slot back.
// Nothing of the request was done.
func (s *connShare) refuseExcess(w http.ResponseWriter, r *http.Request) bool {
	c, _ := r.Context().Value(connKey{}).(*limitedConn)
	if c == nil || !c.excess.Load() {
		return false
	}
	s.mu.Lock()
	id := c.id
	s.mu.Unlock()
	c.endGrace() // the answer closes it
	s.warn(id)
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", "1")
	w.Header().Set(stateHeader, rateLimitedState)
	reply(w, http.StatusTooManyRequests, map[string]string{"error": fmt.Sprintf(
		"the %s certificate %q holds %d of this node's %d admin connections, the most one certificate may hold (ossd run's --http-max-conns-per-identity), so this connection is closed and nothing of this request was done: retry after 1s, or close some of its other connections",
		id.Role, id.Name, s.max, s.total)})
	return true
}
