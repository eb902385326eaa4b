package oss

import (
	"fmt"
	"time"
)

// A stalled disk used to be noticed only by a Close whose ctx had ended
// (awaitDisk). While the node runs, the same record of the operations
// under way (diskOps) says so: DiskStalled, ClusterStatus.DiskStalled
// (ossd status), the gauges oss_disk_oldest_op_seconds and
// oss_disk_stalled, and a log line when a stall begins and when it ends
// (watchDiskStall).

// DiskStalled returns nil unless an operation of the data directory (a
// write, a sync, an open, a rename...) has been under way for
// DiskStallAfter or longer without returning; then an error matching
// ErrDiskStalled that names the oldest such operation, its file and how
// long it has been under way. It says what is true now: once the
// operation returns it is nil again. A node without a data directory
// returns nil. It takes no lock a disk operation holds and never waits
// for the disk.
func (n *Node) DiskStalled() error {
	if n.diskOps == nil {
		return nil
	}
	o, busy, ok := n.diskOps.stalled(DiskStallAfter)
	if !ok {
		return nil
	}
	return o.stalledNow(busy)
}

// stalledNow is the error of an operation o under way for DiskStallAfter
// or longer while the node runs, with busy operations under way.
func (o diskOp) stalledNow(busy int) error {
	more := ""
	if busy > 1 {
		more = fmt.Sprintf(" (and %d more operations under way)", busy-1)
	}
	return fmt.Errorf("%w: %s of %s has not returned in %v%s; the replicas waiting for it commit nothing until it does",
		ErrDiskStalled, o.op, o.name, time.Since(o.since).Round(time.Millisecond), more)
}

// oldestDiskOp returns how long the oldest operation of the data
// directory under way has been, 0 if none is, and whether it is stalled.
func (n *Node) oldestDiskOp() (time.Duration, bool) {
	if n.diskOps == nil {
		return 0, false
	}
	o, _, stalled := n.diskOps.stalled(DiskStallAfter)
	if o.since.IsZero() {
		return 0, false
	}
	return max(time.Since(o.since), 0), stalled
}

// diskStallPoll is how often a running node looks whether its disk is
// stalled, to log it.
const diskStallPoll = time.Second

// watchDiskStall logs, until the node closes, when an operation of the
// data directory has been under way for DiskStallAfter (naming it and
// its file), and when the disk answers again.
func (n *Node) watchDiskStall() {
	t := time.NewTicker(diskStallPoll)
	defer t.Stop()
	var was diskOp
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		o, busy, stalled := n.diskOps.stalled(DiskStallAfter)
		switch {
		case stalled && (was.since.IsZero() || o != was):
			n.log.Error("the data directory's disk is stalled", "op", string(o.op), "file", o.name,
				"for", time.Since(o.since).Round(time.Millisecond), "under_way", busy)
			was = o
		case !stalled && !was.since.IsZero():
			n.log.Warn("the data directory's disk answers again", "op", string(was.op), "file", was.name,
				"stalled_for", time.Since(was.since).Round(time.Millisecond))
			was = diskOp{}
		}
	}
}
