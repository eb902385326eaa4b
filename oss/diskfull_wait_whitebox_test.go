package oss

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/objectsharing/oss/persist"
)

// A follower whose disk is full cannot write its log, so its replica
// applies nothing its group commits; a fresh read there, or a first open
// that catches up, waits for an apply that cannot come until its context
// ends. The error said "no read index of its leader answered and applied"
// or "leader n2 in reach, no answer yet", and "ossd put" and "ossd get
// --fresh" through that node added "an election may be under way; try
// again": found with ossd on a full tmpfs. The error now names the
// node's log and why it refused the write.
func TestWaitOnAFullDiskSaysSo(t *testing.T) {
	t.Parallel()
	c, ffss := startFaultyNodes(t, 11, "h")
	put := func(on string, i int) {
		t.Helper()
		untilCommitted(t, "a put", c.nodes[on].replicaOf("h"), func(tx *Tx) error {
			return Put(tx, uuid.UUID{0: 'p', 15: byte(i)}, int64(i))
		})
	}
	put("a", 0)
	var full, other string
	// The leader is the one the wait saw: asked again, the group may have
	// none for a moment (a new term at load), and a leaderless answer
	// would take the leader for a follower.
	var g Stats
	waitCond(t, "a leader of h", func() bool {
		var ok bool
		g, ok = c.group("h")
		return ok && g.Leader != ""
	})
	for _, name := range []string{"a", "b", "c"} {
		if name != g.Leader {
			if full == "" {
				full = name
			} else {
				other = name
			}
		}
	}
	ffss[full].SetRule(func(op persist.Op, name string) error {
		if op == persist.OpWrite && strings.Contains(name, "/wal/") {
			return syscall.ENOSPC
		}
		return nil
	})
	h := c.nodes[full].replicaOf("h")
	var err error
	for i := 1; err == nil; i++ {
		// The others commit without it; its log refuses their entries.
		put(other, i)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = h.View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true})
		cancel()
	}
	if !strings.Contains(err.Error(), "cannot write its log") || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("a fresh read on a node whose disk is full: %v\nwant the node's log and its disk's error named", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = h.waitCaughtUp(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "cannot write its log") {
		t.Errorf("a catch-up on a node whose disk is full: %v\nwant the node's log named", err)
	}
	// Space freed: the replica writes, applies and reads fresh again.
	ffss[full].SetRule(nil)
	untilLeader(t, "a fresh read once the disk has room", func(ctx context.Context) error {
		return h.View(ctx, func(*Tx) error { return nil }, &ViewOptions{Fresh: true})
	})
	if s := h.stuckOnDisk(); s != "" {
		t.Errorf("after the log took a write again: %q; want nothing", s)
	}
}
