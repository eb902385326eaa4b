package persist

import (
	"sync/atomic"
	"time"
)

// StripeStats describe one stripe of a store, for metrics.
type StripeStats struct {
	// Dir is the stripe's directory.
	Dir string
	// Bytes is the size of the stripe's segments as the manifest records
	// them.
	Bytes int64
	// Live is the size of the records of live objects, and Indexed says
	// whether it is known: the store learns it when it first loads or
	// indexes the stripes, not at open. Bytes − Live is garbage, which a
	// compaction reclaims.
	Live    int64
	Indexed bool
	// Checkpoints counts the checkpoints that wrote to the stripe,
	// CheckpointBytes the bytes they wrote, CheckpointTime the time the
	// stripe's share of them took (encoding, writing and syncing).
	Checkpoints     uint64
	CheckpointBytes uint64
	CheckpointTime  time.Duration
}

// stripeCounters are a stripe's counters, updated as it works.
type stripeCounters struct {
	live        atomic.Int64 // the index's record sizes, kept as it changes
	checkpoints atomic.Uint64
	bytes       atomic.Uint64
	nanos       atomic.Int64
}

func (c *stripeCounters) wrote(n int64, d time.Duration) {
	c.checkpoints.Add(1)
	c.bytes.Add(uint64(max(n, 0)))
	c.nanos.Add(int64(d))
}

// Stats describes each stripe, in the order of the directories the store
// was opened with. It takes no I/O and does not wait for a checkpoint.
func (s *Store) Stats() []StripeStats {
	s.mu.Lock()
	m := s.manifest
	indexed := s.indexed
	s.mu.Unlock()
	out := make([]StripeStats, len(s.stripes))
	for i, st := range s.stripes {
		o := StripeStats{
			Dir:             st.dir,
			Indexed:         indexed,
			Checkpoints:     st.stats.checkpoints.Load(),
			CheckpointBytes: st.stats.bytes.Load(),
			CheckpointTime:  time.Duration(st.stats.nanos.Load()),
		}
		if i < len(m.Stripes) {
			for _, e := range m.Stripes[i] {
				o.Bytes += e.Size
			}
		}
		if indexed {
			o.Live = min(st.stats.live.Load(), o.Bytes)
		}
		out[i] = o
	}
	return out
}
