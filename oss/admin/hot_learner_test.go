package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// TestHotOfALearnerWhoseLeaderDied: a heap's one voter, n2, is killed;
// n1 keeps a learner replica of it. `ossd hot` on n1 answers from that
// replica, and says its list may be old, naming the leader it cannot
// reach. A learner never campaigns, so it kept n2 as its leader, and the
// answer said nothing of the outage for as long as it lasted.
func TestHotOfALearnerWhoseLeaderDied(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	c := osstest.Start(t, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n1 := c.Node("n1")
	name := ""
	for i := 0; name == ""; i++ {
		if i == 40 {
			t.Fatal("placement put none of 40 heaps of one voter on n2")
		}
		cand := "h" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		h, err := n1.CreateHeap(ctx, cand, &oss.HeapOptions{Replicas: 1})
		if err != nil {
			t.Fatalf("create %s: %v", cand, err)
		}
		if slices.Equal(h.Stats().Voters, []string{"n2"}) {
			name = cand
			continue
		}
		if err := n1.DropHeap(ctx, cand); err != nil {
			t.Fatalf("drop %s: %v", cand, err)
		}
	}
	c.Wait("n1's learner replica hearing from its leader n2", func() bool {
		s, _, ok := n1.ReplicaStats(name)
		return ok && s.Leader == "n2" && s.LeaderInReach && slices.Contains(s.Learners, "n1")
	})
	srv := serve(t, n1, &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	hot := func() admin.Hot {
		resp, err := hc.Get(srv.URL() + "/v1/heaps/" + name + "/hot")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got admin.Hot
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&got) != nil {
			t.Fatalf("GET hot: %s", resp.Status)
		}
		return got
	}
	if got := hot(); got.Stale != "" {
		t.Fatalf("hot of a learner in reach of its leader: stale %q, want none", got.Stale)
	}

	c.Kill("n2")
	c.Wait("hot on n1 saying its list may be old", func() bool {
		return hot().Stale == "leader n2 out of reach"
	})
}
