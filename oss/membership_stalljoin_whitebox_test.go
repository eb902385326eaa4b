package oss

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// A member doubted after this node stood still is confirmed failed by a
// join that fails while this node runs, never by one whose deadline
// passed while this node stood still: under load the confirming join
// timed out while the whole process was starved, and live members were
// reported failed (TestStopDoesNotReportSelfFailed, "b declared a
// failed", then b left without telling a, which reported b failed too).
func TestJoinFailedWhileStoodStillConfirmsNothing(t *testing.T) {
	var events []memberEvent
	m := &membership{
		cfg:            memberConfig{name: "a", logger: testLogger(), onEvent: func(e memberEvent) { events = append(events, e) }},
		gossipInterval: 50 * time.Millisecond,
		stallMin:       150 * time.Millisecond,
	}
	// The ticks of watchStalls are on time throughout, whatever the
	// machine's load: only m.stalled says the process stood still.
	m.ticked.Store(time.Now().Add(time.Hour).UnixNano())
	b := memberlist.Node{Name: "b", Addr: net.IPv4(127, 0, 0, 1), Port: 7}
	m.doubted = map[string]memberlist.Node{"b": b}
	timedOut := errors.New("failed to join 127.0.0.1:7: deadline exceeded")

	began := time.Now()
	m.mu.Lock()
	m.stalled = began.Add(time.Millisecond) // during the join
	m.mu.Unlock()
	m.notReached("b", "b/127.0.0.1:7", began, timedOut)
	if len(events) != 0 {
		t.Fatalf("a join that timed out while this node stood still reported %v", events)
	}
	if _, ok := m.doubted["b"]; !ok {
		t.Fatal("b is no longer doubted: the next round would not confirm it")
	}

	// The next round's join fails while the process runs.
	m.notReached("b", "b/127.0.0.1:7", began.Add(time.Second), timedOut)
	if len(events) != 1 || events[0].Kind != memberFailed || events[0].Member.Name != "b" {
		t.Fatalf("a join that failed while this node ran: events %v, want b failed", events)
	}
}
