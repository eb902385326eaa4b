package admin_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// TestUIListsVotersDownBeforeItOpened: two of three nodes are killed
// before anyone opens the dashboard of the third. Its first snapshot
// lists them as down members, as `ossd status` lists them as down
// voters, so that the page's map has a column for each and the operator
// sees which nodes the heaps wait for. It listed the one live node only,
// and the heaps' dead voters nowhere.
func TestUIListsVotersDownBeforeItOpened(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n1 := c.Node("n1")
	if _, err := n1.CreateHeap(ctx, "h", &oss.HeapOptions{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	c.Wait("h's three voters on n1", func() bool {
		hs, ok := localHeap(n1, "h")
		return ok && len(hs.Voters) == 3
	})
	c.Kill("n2")
	c.Kill("n3")
	c.Wait("n1 alone among the members it sees", func() bool {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		defer scancel()
		st := n1.Status(sctx)
		return len(st.Members) == 1 && st.Members[0].Name == "n1"
	})

	srv := serve(t, n1, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL()+"/ui/events", nil)
	snap := firstSnapshot(t, &http.Client{Transport: tr}, req)

	states := map[string]string{}
	for _, m := range snap.Members {
		states[m.Name] = m.State
	}
	want := map[string]string{"n1": "up", "n2": "down", "n3": "down"}
	for name, state := range want {
		if states[name] != state {
			t.Errorf("member %s in the first snapshot: %q, want %q (members: %+v)", name, states[name], state, snap.Members)
		}
	}
	for _, h := range snap.Heaps {
		if h.Name == "h" && !slices.Equal(h.Voters, []string{"n1", "n2", "n3"}) {
			t.Errorf("heap h's voters: %v, want n1, n2, n3", h.Voters)
		}
	}
}
