package client

import (
	"slices"
	"sync"
	"time"
)

// Durations keeps the latest durations of something (commits, frames)
// and tells their percentiles. It is safe for concurrent use.
type Durations struct {
	mu   sync.Mutex
	ring []time.Duration
	next int
	n    uint64
}

// NewDurations returns a Durations that keeps the latest n.
func NewDurations(n int) *Durations { return &Durations{ring: make([]time.Duration, 0, n)} }

// Add records one duration.
func (d *Durations) Add(v time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	if len(d.ring) < cap(d.ring) {
		d.ring = append(d.ring, v)
		return
	}
	d.ring[d.next] = v
	d.next = (d.next + 1) % len(d.ring)
}

// Count returns how many durations were ever added.
func (d *Durations) Count() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Percentiles returns the given percentiles (0 to 100) of the durations
// kept, zeros if there are none.
func (d *Durations) Percentiles(ps ...float64) []time.Duration {
	d.mu.Lock()
	s := slices.Clone(d.ring)
	d.mu.Unlock()
	out := make([]time.Duration, len(ps))
	if len(s) == 0 {
		return out
	}
	slices.Sort(s)
	for i, p := range ps {
		out[i] = s[min(len(s)-1, int(p/100*float64(len(s))))]
	}
	return out
}

// Rate measures how fast a counter grows, over the last second or more.
// It is used by one goroutine.
type Rate struct {
	at    time.Time
	v     uint64
	rate  float64
	valid bool
}

// Observe records the counter's value at now and returns the rate, per
// second, measured over the latest whole second.
func (r *Rate) Observe(v uint64, now time.Time) float64 {
	switch {
	case r.at.IsZero() || v < r.v:
		r.at, r.v = now, v
	case now.Sub(r.at) >= time.Second:
		r.rate = float64(v-r.v) / now.Sub(r.at).Seconds()
		r.at, r.v, r.valid = now, v, true
	}
	return r.rate
}
