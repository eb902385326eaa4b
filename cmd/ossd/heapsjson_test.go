package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// heapJSON is what a reader of "ossd heaps --json" takes of a heap.
type heapJSON struct {
	Name           string
	Voters         []string
	ReplicaApplied map[string]uint64
	Unreported     []string
}

// "ossd heaps --json" lists the heaps as the node it asks knows them,
// asking no other member, so ReplicaApplied holds that node's replica
// alone, though its name says every replica's, and a reader of the JSON
// could take the others for missing. No node knows another's applied
// index (a leader tracks how much of its log each replica holds, not
// what it applied), so the field stays as it was, for those who read
// it, and Unreported names the replicas it leaves out.
func TestHeapsJSONSaysWhichReplicasItLeavesOut(t *testing.T) {
	c := osstest.Start(t, 3, nil)
	c.Heap("n1", "h")
	c.Wait("h to have three voters seen from n1", func() bool {
		for _, hs := range c.Node("n1").Heaps() {
			if hs.Name == "h" && len(hs.Voters) == 3 {
				return true
			}
		}
		return false
	})
	ctx := context.Background()
	srv, err := admin.NewServer(c.Node("n1"), &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	var out bytes.Buffer
	if err := heapsTo(&out, []string{"--json", "--http", srv.Addr(), "--http-insecure"}); err != nil {
		t.Fatal(err)
	}
	var hs []heapJSON
	if err := json.Unmarshal(out.Bytes(), &hs); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	i := slices.IndexFunc(hs, func(h heapJSON) bool { return h.Name == "h" })
	if i < 0 {
		t.Fatalf("no heap h in:\n%s", out.String())
	}
	h := hs[i]
	if _, ok := h.ReplicaApplied["n1"]; !ok || len(h.ReplicaApplied) != 1 {
		t.Fatalf("ReplicaApplied %v, want n1's alone, as before", h.ReplicaApplied)
	}
	var want []string
	for _, v := range h.Voters {
		if v != "n1" {
			want = append(want, v)
		}
	}
	slices.Sort(want)
	if !slices.Equal(h.Unreported, want) {
		t.Fatalf("Unreported %v, want the other voters %v:\n%s", h.Unreported, want, out.String())
	}

	// The cluster's status asks every member: once each keeps its
	// replica and answers, nothing is left out.
	c.Wait("the status of h to report every replica", func() bool {
		var st struct{ Heaps []heapJSON }
		b, err := json.Marshal(c.Node("n1").Status(ctx))
		if err != nil || json.Unmarshal(b, &st) != nil {
			t.Fatalf("the status as JSON: %v\n%s", err, b)
		}
		for _, sh := range st.Heaps {
			if sh.Name == "h" {
				return len(sh.Voters) == 3 && len(sh.ReplicaApplied) == 3 && len(sh.Unreported) == 0
			}
		}
		return false
	})
}
