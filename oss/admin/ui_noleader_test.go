package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// heapsWithLeader creates on n1 of c heaps of one voter until want of
// them have n1 as that voter (placement picks it), commits to each as
// many times as its position in the list plus one, and returns their
// names; a heap placed elsewhere is dropped.
func heapsWithLeader(t *testing.T, ctx context.Context, c *osstest.Cluster, want int) []string {
	t.Helper()
	n1 := c.Node("n1")
	var names []string
	for i := 0; len(names) < want; i++ {
		if i == 40 {
			t.Fatalf("placement put only %d of 40 heaps of one voter on n1", len(names))
		}
		name := fmt.Sprintf("b%02d", i)
		h, err := n1.CreateHeap(ctx, name, &oss.HeapOptions{Replicas: 1})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if !slices.Equal(h.Stats().Voters, []string{"n1"}) {
			if err := n1.DropHeap(ctx, name); err != nil {
				t.Fatalf("drop %s: %v", name, err)
			}
			continue
		}
		for j := range len(names) + 1 {
			if err := h.Update(ctx, func(tx *oss.Tx) error {
				r, err := oss.New(tx, j)
				if err != nil {
					return err
				}
				return tx.SetRoot("r", r.ID)
			}); err != nil {
				t.Fatalf("update %s: %v", name, err)
			}
		}
		names = append(names, name)
	}
	return names
}

// localHeap returns n's own view of a heap (Node.Heaps), ok false if its
// catalog replica does not list it.
func localHeap(n *oss.Node, name string) (oss.HeapStatus, bool) {
	for _, hs := range n.Heaps() {
		if hs.Name == name {
			return hs, true
		}
	}
	return oss.HeapStatus{}, false
}

// TestUISampleWithAHeapWithoutLeader: one heap's group on the node has no
// leader (the other voters are stopped) and no open has caught its
// replica up yet (the node opened it by itself, as a first voter). A
// sample of the dashboard still has this node's figures of every other
// heap, and says of that one that it has no leader. The sample opened
// each heap to read them, the open of that one waited for its group to
// catch up until the sample's deadline, and the heaps after it had none.
func TestUISampleWithAHeapWithoutLeader(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	healthy := heapsWithLeader(t, ctx, c, 2)

	// n1 is one of its three first voters, and opens its replica itself.
	if _, err := c.Node("n2").CreateHeap(ctx, "a-stuck", &oss.HeapOptions{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	n1 := c.Node("n1")
	// The replica hears its leader before the others stop: until it
	// has, its status names no leader already, and the leader's first
	// messages may reach it after the kill.
	c.Wait("n1's replica of a-stuck in its group, its leader in reach", func() bool {
		hs, ok := localHeap(n1, "a-stuck")
		_, local := hs.ReplicaApplied["n1"]
		return ok && local && slices.Contains(hs.Voters, "n1") && hs.Leader != ""
	})
	c.Kill("n2")
	c.Kill("n3")
	// Without a leader as the sample reads it: the status names none
	// (none heard within two election timeouts) and the replica knows
	// none (it campaigned), which is what "no leader" says; the status
	// alone names none while the replica still knows its dead leader.
	c.Wait("a-stuck without a leader on n1", func() bool {
		hs, ok := localHeap(n1, "a-stuck")
		st, _, local := n1.ReplicaStats("a-stuck")
		return ok && hs.Leader == "" && local && st.Leader == ""
	})

	srv := serve(t, n1, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL()+"/ui/events", nil)
	snap := firstSnapshot(t, &http.Client{Transport: tr}, req)

	heaps := map[string]admin.UIHeap{}
	for _, h := range snap.Heaps {
		heaps[h.Name] = h
	}
	for i, name := range healthy {
		h, ok := heaps[name]
		switch {
		case !ok:
			t.Errorf("the sample lacks heap %s", name)
		case h.Leader != "n1" || h.LocalCommits != uint64(i+1) || h.Stale != "":
			t.Errorf("heap %s: leader %q, %d local commits, stale %q; want n1, %d, none", name, h.Leader, h.LocalCommits, h.Stale, i+1)
		}
	}
	if h, ok := heaps["a-stuck"]; !ok || h.Leader != "" || h.Stale != "no leader" {
		t.Errorf("heap a-stuck: %+v (in the sample: %v); want no leader, and the stale replica said so", h, ok)
	}
}
