package admin

import (
	"math"
	"slices"
	"testing"
	"time"
)

// TestUILatencyDelta: the dashboard's commit latency per sample is the
// mean and the p99 bucket bound of the observations added to the
// histogram since the last sample.
func TestUILatencyDelta(t *testing.T) {
	h := func(count uint64, sum float64, cum ...uint64) histogram {
		bounds := []float64{0.001, 0.01, 0.1, math.Inf(1)}
		out := histogram{count: count, sum: sum}
		for i, c := range cum {
			out.buckets = append(out.buckets, bucket{upper: bounds[i], count: c})
		}
		return out
	}
	prev := h(10, 0.005, 10, 10, 10, 10)
	if _, _, ok := latencyDelta(prev, prev); ok {
		t.Error("latency of an interval without commits")
	}
	// 100 more: 98 under 1 ms, 2 under 10 ms, 0.2 s in all.
	cur := h(110, 0.205, 108, 110, 110, 110)
	mean, p99, ok := latencyDelta(prev, cur)
	if !ok || mean != 2*time.Millisecond || p99 != 10*time.Millisecond {
		t.Errorf("mean %v, p99 %v, %v; want 2ms, 10ms", mean, p99, ok)
	}
	// Beyond the finite buckets: the largest finite bound, or the mean.
	cur = h(12, 2.005, 10, 10, 10, 12)
	if mean, p99, ok := latencyDelta(prev, cur); !ok || mean != time.Second || p99 != time.Second {
		t.Errorf("mean %v, p99 %v, %v; want 1s, 1s", mean, p99, ok)
	}
	// The first reading of a heap.
	if mean, p99, ok := latencyDelta(histogram{}, h(4, 0.02, 0, 4, 4, 4)); !ok || mean != 5*time.Millisecond || p99 != 10*time.Millisecond {
		t.Errorf("mean %v, p99 %v, %v; want 5ms, 10ms", mean, p99, ok)
	}
}

// TestUISnapshotEvents: a rise of a replica's snapshot counters is an
// event.
func TestUISnapshotEvents(t *testing.T) {
	prev := heapMetrics{snapSent: 1, snapSentBytes: 100, snapReceived: 2, snapReceivedBytes: 5000}
	if got := snapshotEvents("orders", "n1", prev, prev); len(got) != 0 {
		t.Errorf("events without a transfer: %q", got)
	}
	cur := prev
	cur.snapReceived, cur.snapReceivedBytes = 3, 5000+12345
	cur.snapSent, cur.snapSentBytes = 3, 100+2_500_000
	want := []string{
		"orders: n1 received a snapshot from the leader (12.3 kB)",
		"orders: n1 sent 2 snapshots to peers (2.5 MB)",
	}
	if got := snapshotEvents("orders", "n1", prev, cur); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}
