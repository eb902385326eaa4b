package oss

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/objectsharing/oss/internal/codec"
)

// A replica whose join its group's leader refuses (its raft ID is
// another node's) asks again every 50 ms to 1 s for as long as that
// lasts, and the leader logged every refusal: of the catalog and of each
// heap, a line a second for ever. It logs the first refusal of a node's
// join to a heap at once and the next ones at most once a minute.
func TestRefusedJoinsAreLoggedOncePerHeapAndNode(t *testing.T) {
	t.Parallel()
	c := startTestNodes(t, 7)
	logs := map[string]*syncBuffer{}
	names := []string{"a", "b", "c"}
	for i, name := range names {
		logs[name] = &syncBuffer{}
		c.add(name, i > 0, func(cfg *Config) { cfg.Logger = slog.New(slog.NewTextHandler(logs[name], nil)) })
		c.open(name, "bank")
	}
	const asks = 50
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, heap := range []string{catalogName, "bank"} {
		refused := 0
		waitCond(t, fmt.Sprintf("%d joins of %s to be refused", 2*asks, heap), func() bool {
			for _, leader := range names {
				n := c.nodes[leader]
				h := n.replicaOf(heap)
				if h == nil || !h.leaderIs(h.self) {
					continue
				}
				for _, from := range names {
					if from != leader && refuseJoin(t, ctx, n, from, heap) {
						refused++
					}
				}
			}
			return refused >= 2*asks
		})
	}
	// Each leader logged each caller's refusals of each heap once; a
	// caller refused by two leaders (one lost its lead) at most once by
	// each. A refused caller is logged at once.
	for heap, want := range map[string]string{catalogName: "heap=" + catalogName, "bank": "heap=bank"} {
		callers := map[string]int{}
		for leader, buf := range logs {
			per := map[string]int{}
			for _, line := range strings.Split(buf.String(), "\n") {
				if !strings.Contains(line, `msg="join refused"`) || !strings.Contains(line, want+" ") {
					continue
				}
				for _, from := range names {
					if strings.Contains(line, "peer="+from+" ") {
						per[from]++
						callers[from]++
					}
				}
			}
			for from, k := range per {
				if k != 1 {
					t.Errorf("%s logged %d lines for the refusals of %s's join of %s, want 1:\n%s", leader, k, from, heap, buf.String())
				}
			}
		}
		if len(callers) < len(names)-1 {
			t.Errorf("the refusals of %s were logged for callers %v, want every caller's", heap, callers)
		}
	}
}

// refuseJoin asks leader n, as node from, to take into heap a replica
// under n's own raft ID, and reports whether n refused it.
func refuseJoin(t *testing.T, ctx context.Context, n *Node, from, heap string) bool {
	t.Helper()
	req, err := codec.Marshal(callRequest{Op: opJoin, Heap: heap, ID: n.id})
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.handleCall(ctx, from, req)
	if err != nil {
		t.Fatalf("%s's join of %s at %s: %v", from, heap, n.cfg.Name, err)
	}
	var resp callResponse
	if err := codec.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Refused != ""
}

// The first refusal of a node's join to a heap is logged at once; the
// next ones a minute after the last line, with the count of those not
// logged between. Another node, or another heap, has its own minute.
func TestRefusalLogOncePerMinute(t *testing.T) {
	var l refusalLog
	t0 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	step := func(at time.Duration, heap, peer string, wantLog bool, wantUnlogged int) {
		t.Helper()
		unlogged, ok := l.note(heap, peer, t0.Add(at))
		if ok != wantLog || unlogged != wantUnlogged {
			t.Fatalf("at %v, %s of %s: logged %v with %d unlogged, want %v with %d", at, peer, heap, ok, unlogged, wantLog, wantUnlogged)
		}
	}
	step(0, "bank", "x", true, 0)
	for s := 1; s < 60; s++ {
		step(time.Duration(s)*time.Second, "bank", "x", false, 0)
	}
	step(30*time.Second, "bank", "y", true, 0)
	step(30*time.Second, "till", "x", true, 0)
	step(time.Minute, "bank", "x", true, 59)
	step(time.Minute+time.Second, "bank", "x", false, 0)
	// Quiet for over a minute: the next refusal is logged at once (the
	// count of those not logged before is dropped with the entry).
	step(5*time.Minute, "bank", "x", true, 0)
	step(5*time.Minute, "bank", "y", true, 0)
}
