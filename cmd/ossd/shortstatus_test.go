package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/objectsharing/oss/oss"
	"github.com/objectsharing/oss/oss/admin"
	"github.com/objectsharing/oss/oss/osstest"
)

// "ossd status" says, and its --json too, that a heap created with 5
// replicas on a cluster of 3 servers keeps 3 voters of the 5 it wants
// for lack of servers: the status listed its three voters and nothing
// saying it kept fewer than asked. A heap of 3 is whole, and the catalog
// (5 voters wanted, the system's choice) is not listed.
func TestStatusSaysAHeapIsShortOfServers(t *testing.T) {
	c := osstest.Start(t, 3, nil)
	ctx := context.Background()
	if _, err := c.Node("n1").CreateHeap(ctx, "wide", &oss.HeapOptions{Replicas: 5}); err != nil {
		t.Fatal(err)
	}
	c.Heap("n1", "narrow")
	c.Wait("wide and narrow to have three live voters in n1's status", func() bool {
		st := c.Node("n1").Status(ctx)
		n := 0
		for _, h := range st.Heaps {
			if (h.Name == "wide" || h.Name == "narrow") && len(h.Voters) == 3 {
				n++
			}
		}
		return n == 2 && len(st.Members) == 3
	})
	srv, err := admin.NewServer(c.Node("n1"), &admin.Options{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	flags := []string{"--http", srv.Addr(), "--http-insecure"}

	var out bytes.Buffer
	if err := statusTo(&out, flags); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	want := "short: heap wide has 3 voters of the 5 it wants: not enough servers (3 live;"
	if !strings.Contains(text, want) || strings.Contains(text, "heap narrow has") || strings.Contains(text, "heap oss:catalog has") {
		t.Fatalf("ossd status:\n%s\nwant %q, and no line of narrow or the catalog", text, want)
	}

	out.Reset()
	if err := statusTo(&out, append([]string{"--json"}, flags...)); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Heaps []struct {
			Name  string
			Short *struct {
				Voters, Live, Wants, Servers int
				Why                          string
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	seen := false
	for _, h := range st.Heaps {
		switch {
		case h.Name == "wide":
			seen = true
			if s := h.Short; s == nil || s.Voters != 3 || s.Live != 3 || s.Wants != 5 || s.Servers != 3 || s.Why != "not enough servers" {
				t.Fatalf("wide in ossd status --json: %+v; want 3 voters, 3 live, 5 wanted, 3 servers, not enough servers:\n%s", s, out.String())
			}
		case h.Short != nil:
			t.Fatalf("%s in ossd status --json: %+v; want no shortfall:\n%s", h.Name, h.Short, out.String())
		}
	}
	if !seen {
		t.Fatalf("no heap wide in ossd status --json:\n%s", out.String())
	}
}

// A heap whose voter is down while servers enough are live is short for
// a replacement pending, which the status says, naming the down voter.
func TestStatusSaysAReplacementIsPending(t *testing.T) {
	st := &oss.ClusterStatus{Node: "n1",
		Members: []oss.Member{{Name: "n1", Role: "server"}, {Name: "n2", Role: "server"}, {Name: "n4", Role: "server"}},
		Heaps: []oss.HeapStatus{{Name: "bank", Replicas: 3, Leader: "n1", Voters: []string{"n1", "n2", "n3"},
			Short: &oss.VoterShortfall{Voters: 3, Live: 2, Wants: 3, Servers: 3, Down: []string{"n3"}, Why: oss.ReplacementPending}}}}
	var b strings.Builder
	printStatus(&b, st)
	want := "short: heap bank has 2 live voters (of 3: n3 down) of the 3 it wants: replacement pending (3 servers live)"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("ossd status:\n%s\nwant %q", b.String(), want)
	}
}
