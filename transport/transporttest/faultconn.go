package transporttest

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// PacketFaults are applied to every datagram written through a FaultConn
// after they are set.
type PacketFaults struct {
	// Drop and Duplicate are probabilities in [0, 1] per datagram.
	Drop, Duplicate float64
	// MaxDelay delays each datagram by up to this much (uniformly), which
	// also reorders them.
	MaxDelay time.Duration
	// Blocked lists destination addresses (as net.Addr.String gives them)
	// every datagram to which is dropped: a partition at the UDP level.
	Blocked map[string]bool
}

// PacketStats count what a FaultConn did.
type PacketStats struct {
	Written, Dropped, Duplicated, Delayed, Blocked uint64
}

// FaultConn wraps a net.PacketConn (a QUIC endpoint's UDP socket) and
// drops, duplicates, delays and blocks the datagrams written through it,
// with faults drawn from one seeded generator: the loss, duplication and
// reordering this kernel cannot inject (it has no netem). Reads pass
// through. Close waits for delayed datagrams to be sent or abandoned.
type FaultConn struct {
	net.PacketConn

	mu     sync.Mutex
	rng    *rand.Rand
	faults PacketFaults
	stats  PacketStats
	closed bool
	wg     sync.WaitGroup
}

// NewFaultConn wraps pc.
func NewFaultConn(pc net.PacketConn, seed uint64) *FaultConn {
	return &FaultConn{PacketConn: pc, rng: rand.New(rand.NewPCG(seed, 0x7564702d66))}
}

// SetFaults sets the faults applied from now on.
func (c *FaultConn) SetFaults(f PacketFaults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = f
}

// Stats returns the connection's counters.
func (c *FaultConn) Stats() PacketStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// WriteTo writes b to addr, or pretends to: a dropped datagram is reported
// written, as the network would.
func (c *FaultConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.PacketConn.WriteTo(b, addr) // the socket's own error
	}
	f := c.faults
	c.stats.Written++
	if f.Blocked[addr.String()] {
		c.stats.Blocked++
		c.mu.Unlock()
		return len(b), nil
	}
	if f.Drop > 0 && c.rng.Float64() < f.Drop {
		c.stats.Dropped++
		c.mu.Unlock()
		return len(b), nil
	}
	copies := 1
	if f.Duplicate > 0 && c.rng.Float64() < f.Duplicate {
		c.stats.Duplicated++
		copies = 2
	}
	var delays []time.Duration
	for range copies {
		var d time.Duration
		if f.MaxDelay > 0 {
			d = time.Duration(c.rng.Int64N(int64(f.MaxDelay) + 1))
		}
		delays = append(delays, d)
	}
	c.mu.Unlock()
	for _, d := range delays {
		if d == 0 {
			if _, err := c.PacketConn.WriteTo(b, addr); err != nil {
				return 0, err
			}
			continue
		}
		buf := append([]byte(nil), b...) // the caller reuses b
		c.mu.Lock()
		c.stats.Delayed++
		c.wg.Add(1)
		c.mu.Unlock()
		time.AfterFunc(d, func() {
			defer c.wg.Done()
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if !closed {
				c.PacketConn.WriteTo(buf, addr)
			}
		})
	}
	return len(b), nil
}

// Close closes the socket once every delayed datagram has been sent or
// abandoned.
func (c *FaultConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	return c.PacketConn.Close()
}

// SetReadBuffer sets the socket's receive buffer, as QUIC asks.
func (c *FaultConn) SetReadBuffer(n int) error {
	if s, ok := c.PacketConn.(interface{ SetReadBuffer(int) error }); ok {
		return s.SetReadBuffer(n)
	}
	return nil
}

// SetWriteBuffer sets the socket's send buffer, as QUIC asks.
func (c *FaultConn) SetWriteBuffer(n int) error {
	if s, ok := c.PacketConn.(interface{ SetWriteBuffer(int) error }); ok {
		return s.SetWriteBuffer(n)
	}
	return nil
}
