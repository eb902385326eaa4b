package oss

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// A durable learner that catches up by a leader's snapshot writes the
// snapshot's state to the striped store before its log may record it. If
// the store's disk is full, the replica is stuck on that write, and what
// says so (ossd status' "stuck:" line, the error of a commit or a wait)
// names the snapshot and the striped store: before, it read "the log
// cannot be written: persist: checkpoint: write ...", a log that had room
// and a checkpoint the node never began (found on a full tmpfs under
// ossd). Once the store's disk has room again the learner catches up.
func TestSnapshotStuckOnAFullStoreSaysSo(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := startTestNodesWith(t, 21, lagCap)
	names := []string{"a", "b", "c", "d"}
	faults := map[string]*persist.FaultFS{}
	for i, name := range names {
		faults[name] = &persist.FaultFS{FS: persist.NewMemFS()}
		c.fss[name] = faults[name]
		c.add(name, i > 0, func(cfg *Config) { cfg.DataDir = "/data/" + name })
	}
	want := c.placement("bank", 3)
	var learner string
	for _, name := range names {
		c.open(name, "bank")
		if !slices.Contains(want, name) {
			learner = name
		}
	}
	ids := seedBank(t, c.heaps[want[0]])
	var others []string
	for _, name := range names {
		if name != learner {
			others = append(others, name)
		}
	}
	c.net.Partition([]string{learner}, others)
	for i := range 300 {
		untilCommitted(t, "a transfer while the learner is cut off", c.heaps[want[i%3]], func(tx *Tx) error {
			return transferIn(tx, ids[i%8], ids[(i+1)%8], 1)
		})
	}
	faults[learner].SetRule(func(op persist.Op, name string) error {
		if op == persist.OpWrite && strings.Contains(name, "/stripes/") {
			return syscall.ENOSPC
		}
		return nil
	})
	c.net.Heal()
	stuck := func() string {
		for _, hs := range c.nodes[want[0]].Status(context.Background()).Heaps {
			if hs.Name == "bank" {
				return hs.Stuck[learner]
			}
		}
		return ""
	}
	waitCond(t, "the learner's replica named stuck on its store", func() bool { return stuck() != "" })
	s := stuck()
	t.Logf("the learner's replica in status: %s", s)
	if !strings.Contains(s, "snapshot") || !strings.Contains(s, "striped store") || !strings.Contains(s, "no space left on device") {
		t.Errorf("the learner stuck on its full store, in status: %q; want the snapshot, the striped store and the disk's error named", s)
	}
	faults[learner].SetRule(nil)
	waitCond(t, "the learner no longer stuck once its store has room", func() bool { return stuck() == "" })
	c.checkBank(ids)
}
