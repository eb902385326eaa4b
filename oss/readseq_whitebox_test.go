package oss

import "testing"

// Two incarnations of a heap's replica (here two nodes' heaps of one name,
// as after a restart) number their reads from different points: the
// engine's read-index context is the raft ID and the read's number, and
// numbered from 1 each time, a late answer to the earlier incarnation's
// read answered the later one's read of that number with a read index
// from before it began.
func TestReadNumbersDifferAcrossIncarnations(t *testing.T) {
	_, a := soloHeap(t)
	_, b := soloHeap(t)
	if a.readSeq == b.readSeq {
		t.Fatalf("both incarnations number their reads from %d", a.readSeq)
	}
}
