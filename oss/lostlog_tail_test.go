package oss_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/osstest"
)

// lockedBuffer is a log sink that the test reads while nodes write it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A node whose log lost its tail (cut mid-record, so that it reads as a
// torn last write and starts) is sent a commit index past its log by its
// leader, which it had acknowledged. Raft panics on that; the panic ended
// the process, every heap of the node with it. Now the replica is closed
// as lost with an error that matches ErrCorrupt and says how to rebuild,
// and the rest of the cluster commits on.
//
// A leader elected after the cut never heard the victim acknowledge
// anything: it probes the victim's log and sends it the entries it
// lost, which the others hold, and nothing was lost. On a loaded
// machine an election can come between the kill and the restart (the
// victim led by then, placement having moved the leadership to it, or
// the leader's heartbeats were late), so either outcome passes, and in
// the second the victim's replica must hold what the others hold.
func TestLostLogTailClosesTheReplica(t *testing.T) {
	t.Parallel()
	var victim string
	dirs := map[string]string{}
	logs := &lockedBuffer{}
	var mu sync.Mutex
	c := osstest.Start(t, 3, &osstest.Options{Durable: true, Configure: func(name string, cfg *oss.Config) {
		mu.Lock()
		defer mu.Unlock()
		dirs[name] = cfg.DataDir
		if name == victim {
			cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
		}
	}})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the victim's log:\n%s", logs.String())
		}
	})
	g := openAll(c, "bank", 3)
	ids := seedAccounts(t, c.Heap(g.Leader, "bank"))
	for i := range 40 {
		if err := commit(c.Heap(g.Leader, "bank"), transferTx(ids[i%8], ids[(i+1)%8], 1)); err != nil {
			t.Fatal(err)
		}
	}
	// A follower as it stands now: placement may have moved the
	// leadership since openAll.
	leader := c.WaitLeader("bank")
	mu.Lock()
	victim = g.Voters[0]
	if victim == leader {
		victim = g.Voters[1]
	}
	dir := dirs[victim]
	mu.Unlock()
	c.Kill(victim)
	cutLogTail(t, filepath.Join(dir, "wal"))
	// The half cut off may hold the catalog's records too: then the
	// catalog's replica is the one lost, and Start says so, as
	// ErrCorrupt; else the node runs and its bank replica is closed.
	if n, err := c.TryRestart(victim); err != nil {
		if !errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), "catalog") {
			t.Fatalf("restart of %s on a log that lost its tail: %v; want ErrCorrupt naming the catalog", victim, err)
		}
	} else {
		waitLostOrRepaired(t, c, n, victim, logs)
	}
	live := slices.DeleteFunc(c.Live(), func(n string) bool { return n == victim })
	for i := range 10 {
		if err := commit(c.Heap(live[i%2], "bank"), transferTx(ids[i%8], ids[(i+1)%8], 1)); err != nil {
			t.Fatal(err)
		}
	}
}

// cutLogTail cuts the last segment of the log in dir in the middle of
// its written part.
func cutLogTail(t *testing.T, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var seg string
	for _, e := range names {
		if strings.HasSuffix(e.Name(), ".wal") {
			seg = filepath.Join(dir, e.Name()) // the last, in name order
		}
	}
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	end := len(bytes.TrimRight(data, "\x00"))
	if err := os.Truncate(seg, int64(end/2+1)); err != nil {
		t.Fatal(err)
	}
}

// waitLostOrRepaired waits until the victim's bank replica is closed as
// lost (its log says so, and an open of it says ErrCorrupt), or holds
// the same state at the same index as the leader's.
func waitLostOrRepaired(t *testing.T, c *osstest.Cluster, n *oss.Node, victim string, logs *lockedBuffer) {
	t.Helper()
	var how string
	c.Wait(victim+"'s bank replica to be closed as lost, or repaired by a leader that never heard it", func() bool {
		s := logs.String()
		if strings.Contains(s, "its data directory lost what it acknowledged") && strings.Contains(s, oss.ErrCorrupt.Error()) {
			how = "lost"
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		h, err := n.Heap(ctx, "bank")
		if err != nil {
			return false
		}
		i, d := h.Digest()
		for name, lh := range c.Heaps("bank") {
			if name == victim || lh.Stats().Leader != name {
				continue
			}
			if li, ld := lh.Digest(); i == li && d == ld {
				how = "repaired"
				return true
			}
		}
		return false
	})
	if how == "lost" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := n.Heap(ctx, "bank"); !errors.Is(err, oss.ErrCorrupt) {
			t.Errorf("open of %s's lost bank replica: %v, want ErrCorrupt", victim, err)
		}
	}
	t.Logf("%s's bank replica: %s", victim, how)
}
