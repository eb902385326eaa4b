package engine

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func entries(from uint64, sizes ...int) []raftpb.Entry {
	ents := make([]raftpb.Entry, len(sizes))
	for i, n := range sizes {
		ents[i] = raftpb.Entry{Index: from + uint64(i), Data: make([]byte, n)}
	}
	return ents
}

// The engine knows how many bytes the log in memory holds: appended
// entries count, entries a leader's append replaces stop counting,
// compacted ones leave, and the tail a trim keeps is bounded by entries
// and by bytes.
func TestLogSizes(t *testing.T) {
	var l logSizes
	l.append(entries(1, 100, 200, 300, 400)) // indexes 1-4
	if l.bytes != 1000 || l.upTo(2) != 300 || l.upTo(10) != 1000 {
		t.Fatalf("after appending 1-4: %d bytes, %d up to 2, %d up to 10", l.bytes, l.upTo(2), l.upTo(10))
	}
	l.append(entries(3, 50)) // a new leader's entry 3 replaces 3 and 4
	if l.bytes != 350 || len(l.ents) != 3 || l.upTo(2) != 300 || l.upTo(3) != 350 {
		t.Fatalf("after replacing from 3: %d bytes in %d entries (%d up to 2, %d up to 3), want 350 in 3", l.bytes, len(l.ents), l.upTo(2), l.upTo(3))
	}
	l.append(entries(4, 1000, 1000, 1000)) // 4-6
	for _, c := range []struct {
		applied, keep uint64
		keepBytes     int
		want          uint64
	}{
		{applied: 6, keep: 2, keepBytes: 1 << 20, want: 4},   // two entries
		{applied: 6, keep: 10, keepBytes: 2000, want: 4},     // two entries' worth of bytes
		{applied: 6, keep: 10, keepBytes: 999, want: 6},      // not even the last fits
		{applied: 5, keep: 10, keepBytes: 1 << 20, want: 0},  // everything up to applied
		{applied: 3, keep: 10, keepBytes: 300, want: 1},      // entries after applied do not count
		{applied: 6, keep: 0, keepBytes: 1 << 20, want: 6},   // no tail
		{applied: 6, keep: 100, keepBytes: 3100, want: 2},    // 3-6 hold 3050 bytes
		{applied: 6, keep: 100, keepBytes: 3049, want: 3},    // 4-6 hold 3000
		{applied: 1, keep: 100, keepBytes: 1 << 20, want: 0}, // nothing before the first
	} {
		if got := l.tailStart(c.applied, c.keep, c.keepBytes); got != c.want {
			t.Errorf("tailStart(applied %d, keep %d entries, %d bytes) = %d, want %d", c.applied, c.keep, c.keepBytes, got, c.want)
		}
	}
	l.compact(4)
	if l.bytes != 2000 || l.upTo(5) != 1000 || l.upTo(3) != 0 {
		t.Fatalf("after compacting to 4: %d bytes, %d up to 5, %d up to 3; want 2000, 1000 and 0", l.bytes, l.upTo(5), l.upTo(3))
	}
	l.reset()
	if l.bytes != 0 || l.upTo(100) != 0 {
		t.Fatalf("after a snapshot: %d bytes", l.bytes)
	}
}
