package transport

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultStreamRate and DefaultStreamBurst are QUICConfig.StreamRate's
// and StreamBurst's defaults. A client node opens a stream for a call (a
// join, a leave), a snapshot, a gossip exchange or a ping; raft's
// messages go on two long-lived streams. A client that restarts asks to
// join each of its heaps at once, and again every 50 to 500 ms while it
// is refused, so the burst is large; a client that opens streams faster
// than that for long is flooding. Servers are not paced.
const (
	DefaultStreamRate  = 1000
	DefaultStreamBurst = 4096
)

// pacer is a token bucket of the streams a peer may open: the node takes
// the next stream a peer opened only with a token. Until it does, QUIC
// grants the peer no more streams than MaxIncomingStreams, so a peer
// opening streams as fast as it can is held at the rate by its own
// stack, and the node spends on its streams what the rate allows.
type pacer struct {
	mu     sync.Mutex // protects following fields
	tokens float64
	last   time.Time
}

// pace waits until the peer p, named name, may open one more stream, or
// ctx ends. The first wait of a peer in a window is logged.
func (t *QUIC) pace(ctx context.Context, name string, p *peerInbound) error {
	rate, burst := t.cfg.StreamRate, float64(t.cfg.StreamBurst)
	counted := false
	for {
		p.pace.mu.Lock()
		now := time.Now()
		if p.pace.last.IsZero() {
			p.pace.tokens = burst
		} else {
			p.pace.tokens = min(burst, p.pace.tokens+now.Sub(p.pace.last).Seconds()*rate)
		}
		p.pace.last = now
		if p.pace.tokens >= 1 {
			p.pace.tokens--
			p.pace.mu.Unlock()
			if counted {
				t.pacing.Add(-1)
			}
			return nil
		}
		wait := time.Duration((1 - p.pace.tokens) / rate * float64(time.Second))
		p.pace.mu.Unlock()
		if !counted {
			counted = true
			t.pacing.Add(1)
			t.paced.warn(t.log, "streams of a peer wait: it opens them faster than the node takes them", name,
				fmt.Errorf("more than %d at once and %v a second", t.cfg.StreamBurst, rate))
		}
		timer := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			t.pacing.Add(-1)
			return ctx.Err()
		}
	}
}
