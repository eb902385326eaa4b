package oss

import (
	"context"
	"sync"
	"testing"
)

// A node that stops does not report itself failed: memberlist tells of
// the node's own departure too, and every stop logged "member failed" of
// the node itself, which reads as a fault.
func TestStopDoesNotReportSelfFailed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []memberEvent
	c := newQUICClusterWith(t, 0, func(cfg *Config) {
		cfg.onMemberEvent = func(e memberEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	}, "a", "b")
	// The processes under test: a start that timed out under load and was
	// tried again (startJoining) leaves one behind that a member may have
	// heard of, and that vanished without a word: its failure is no stop.
	addrs := map[string]bool{c.nodes["a"].Addr(): true, c.nodes["b"].Addr(): true}
	for _, name := range []string{"b", "a"} {
		if err := c.nodes[name].Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		if e.Kind == memberFailed && addrs[e.Member.Addr] {
			t.Errorf("a graceful stop reported %s failed (events %v)", e.Member.Name, events)
		}
	}
}
