package admin

import (
	"net"
	"sync"
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
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
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
	return &limitedConn{Conn: c, slots: l.slots}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn gives its slot back when it is first closed.
type limitedConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}
