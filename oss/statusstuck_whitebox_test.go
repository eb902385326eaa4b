package oss

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/objectsharing/oss/persist"
)

// Status names a replica whose node cannot write its log (a full disk),
// and why, until the log takes its writes again. "ossd status" showed
// such a follower only by the lag of its APPLIED, with nothing saying
// why it lagged or what would mend it (found by probing ossd on a full
// tmpfs).
func TestStatusNamesAReplicaStuckOnItsDisk(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c, ffss := startFaultyNodes(t, 13, "h")
	ffss["c"].SetRule(func(op persist.Op, name string) error {
		if op == persist.OpWrite && strings.Contains(name, "/wal/") {
			return syscall.ENOSPC
		}
		return nil
	})
	stuck := func() string {
		for _, hs := range c.nodes["a"].Status(context.Background()).Heaps {
			if hs.Name == "h" {
				return hs.Stuck["c"]
			}
		}
		return ""
	}
	i := 0
	waitCond(t, "c's replica of h named stuck in a's status", func() bool {
		i++
		on := "a"
		if g, ok := c.group("h"); ok && g.Leader == "c" {
			on = "b" // c's own commits would fail at once
		}
		_ = update(context.Background(), c.nodes[on].replicaOf("h"), func(tx *Tx) error {
			return Put(tx, uuid.UUID{0: 's', 15: byte(i)}, int64(i))
		})
		return stuck() != ""
	})
	if s := stuck(); !strings.Contains(s, "no space left on device") {
		t.Errorf("c's replica in a's status: %q; want its disk's error", s)
	}
	ffss["c"].SetRule(nil)
	waitCond(t, "c's replica of h no longer stuck once its disk has room", func() bool { return stuck() == "" })
}

// startFaultyNodes starts nodes a, b and c with data directories on
// faulty in-memory file systems, and opens heap on each.
func startFaultyNodes(t *testing.T, seed uint64, heap string) (*testCluster, map[string]*persist.FaultFS) {
	c := startTestNodesWith(t, seed, func(cfg *Config) { cfg.DataDir = "/data" })
	ffss := map[string]*persist.FaultFS{}
	for i, name := range []string{"a", "b", "c"} {
		ffss[name] = &persist.FaultFS{FS: persist.NewMemFS()}
		c.fss[name] = ffss[name]
		c.add(name, i > 0, nil)
	}
	for _, name := range []string{"a", "b", "c"} {
		c.open(name, heap)
	}
	return c, ffss
}
