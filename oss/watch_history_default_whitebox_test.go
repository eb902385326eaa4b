package oss

import (
	"testing"

	"github.com/objectsharing/oss/consistency"
)

// The history reuses its array at the default size too (4,096 change
// sets), where append grows an array by a quarter, not twice: a busy heap
// allocated and copied the whole window every 1,024 commits.
func TestWatchHistoryOfTheDefaultSizeReusesItsArray(t *testing.T) {
	cfg := populate(nil)
	h := &Heap{watchers: map[*Watch]struct{}{}, cfg: cfg}
	next := uint64(1)
	one := []consistency.ChangeSet{{}}
	deliver := func(k int) {
		for range k {
			one[0].Index = next
			next++
			h.deliver(one)
		}
	}
	deliver(3 * cfg.WatchHistory) // the window full, the array grown
	if a := testing.AllocsPerRun(5, func() { deliver(cfg.WatchHistory) }); a != 0 {
		t.Fatalf("%d commits' change sets cost %.0f allocations in a history of %d, want 0", cfg.WatchHistory, a, cfg.WatchHistory)
	}
	if n := len(h.history); n != cfg.WatchHistory || h.history[n-1].Index != next-1 || h.history[0].Index != next-uint64(n) {
		t.Fatalf("the history holds %d sets, %d to %d; want the last %d, to %d", n, h.history[0].Index, h.history[n-1].Index, cfg.WatchHistory, next-1)
	}
}
