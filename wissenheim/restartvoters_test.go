package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/objectsharing/oss/oss"
)

// A window that closes cleanly leaves node1 the only voter of every heap
// (node3, then node2, hand theirs over as they close). The next start
// makes all three voters again, of the world's heap and of the catalog,
// so that the world then outlives node1: killed, the other two go on
// committing.
func TestRestartAfterACleanCloseHasThreeVoters(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o := localOptions{nodes: 3, dataDir: t.TempDir(), port: freePorts(t, 3), logger: quiet}
	start := func() (*local, []*oss.Heap) {
		t.Helper()
		l, err := startLocal(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		var hs []*oss.Heap
		for _, n := range l.nodes { // as the window's bots open the world on every node
			h, err := n.CreateHeapIfNotExists(ctx, "wissenheim", &oss.HeapOptions{Replicas: 3})
			if err != nil {
				l.Close(ctx)
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		return l, hs
	}
	l, hs := start()
	waitVoters(t, l, hs[0], 3)
	if err := l.Close(ctx); err != nil {
		t.Fatalf("clean close: %v", err)
	}

	l, hs = start()
	defer l.Close(ctx)
	waitVoters(t, l, hs[0], 3)
	killed, kill := context.WithCancel(ctx)
	kill()
	l.nodes[0].Close(killed) // as a crash: nothing handed over
	commitWithoutNode1(t, ctx, hs[1])
}

// commitWithoutNode1 commits on h once node2 and node3 have elected a
// leader between them, for up to five minutes. A commit that finds no
// leader in reach, while the election after node1's kill is still on (at
// load 20 it outlasted a commit's wait), is tried again; with one voter
// left of three no leader ever comes, and the wait fails.
func commitWithoutNode1(t *testing.T, ctx context.Context, h *oss.Heap) {
	t.Helper()
	var err error
	tries := 0
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		tries++
		err = h.Update(ctx, func(tx *oss.Tx) error {
			ref, err := oss.New(tx, "after node1")
			if err != nil {
				return err
			}
			return tx.SetRoot("marker", ref.ID) // the same root each try
		})
		if err == nil || !errors.Is(err, oss.ErrNoQuorum) && !errors.Is(err, oss.ErrCommitUnknown) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("with node1 killed after the restart, node2 cannot commit (%d tries in five minutes): %v", tries, err)
	}
	if tries > 1 {
		t.Logf("node2 committed at its try %d, after the election without node1", tries)
	}
}

// waitVoters waits until node1 sees want voters in the world's heap and
// in the catalog, for up to five minutes.
func waitVoters(t *testing.T, l *local, h *oss.Heap, want int) {
	t.Helper()
	var world, catalog []string
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st, _, _ := l.nodes[0].ReplicaStats("oss:catalog")
		world, catalog = h.Stats().Voters, st.Voters
		if len(world) == want && len(catalog) == want {
			return
		}
	}
	t.Fatalf("voters after five minutes: the world's heap %v, the catalog %v; want %d of each", world, catalog, want)
}
