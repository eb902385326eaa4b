package oss_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

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
	g := openAll(c, "bank", 3)
	ids := seedAccounts(t, c.Heap(g.Leader, "bank"))
	for i := range 40 {
		if err := commit(c.Heap(g.Leader, "bank"), transferTx(ids[i%8], ids[(i+1)%8], 1)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	victim = g.Voters[0]
	if victim == g.Leader {
		victim = g.Voters[1]
	}
	dir := dirs[victim]
	mu.Unlock()
	c.Kill(victim)
	wal := filepath.Join(dir, "wal")
	names, err := os.ReadDir(wal)
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(wal, names[len(names)-1].Name())
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	end := len(bytes.TrimRight(data, "\x00"))
	if err := os.Truncate(seg, int64(end/2+1)); err != nil {
		t.Fatal(err)
	}
	// The half cut off may hold the catalog's records too: then the
	// catalog's replica is the one lost, and Start says so, as
	// ErrCorrupt; else the node runs and its bank replica is closed.
	if _, err := c.TryRestart(victim); err != nil {
		if !errors.Is(err, oss.ErrCorrupt) || !strings.Contains(err.Error(), "catalog") {
			t.Fatalf("restart of %s on a log that lost its tail: %v; want ErrCorrupt naming the catalog", victim, err)
		}
	} else {
		c.Wait(victim+"'s bank replica to be closed as lost", func() bool {
			s := logs.String()
			return strings.Contains(s, "its data directory lost what it acknowledged") && strings.Contains(s, oss.ErrCorrupt.Error())
		})
	}
	live := slices.DeleteFunc(c.Live(), func(n string) bool { return n == victim })
	for i := range 10 {
		if err := commit(c.Heap(live[i%2], "bank"), transferTx(ids[i%8], ids[(i+1)%8], 1)); err != nil {
			t.Fatal(err)
		}
	}
}
